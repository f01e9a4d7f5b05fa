"""The Send later page over HTTP: a user sees only their own scheduled sends and can move,
cancel and send them now (with the CSRF token); the real engine then does what the page
said, on Dovecot + the SMTP sink."""

from __future__ import annotations

import html

import pytest

from app import create_app
from tests.e2e.test_send_later_e2e import CHIARA_TEXT, scheduled
from tests.e2e.test_triggers_e2e import plus
from tests.support.web import csrf_token, make_user, sign_in
from watcher.engine import Engine


@pytest.fixture
def app(config, clock):
    app = create_app(config, clock=clock.now)
    yield app
    app.extensions["replywatch"]["store"].dispose()


@pytest.fixture
def alice(mail_world, cli):
    from tests.e2e.test_watcher_e2e import connect

    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    for args in (
        ("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24"),
        ("account", "triggers", user.email, "on"),
    ):
        code, _, err = cli(*args)
        assert code == 0, err
    return user


def test_the_page_lists_moves_cancels_and_sends_now(app, mail_world, alice, config, clock):
    store = app.extensions["replywatch"]["store"]
    engine = Engine(store, config, clock=clock.now)
    chiara, dan = mail_world.new_user("chiara"), mail_world.new_user("dan")
    engine.run_pass()
    for to, subject in (([chiara], "To Chiara"), ([dan], "To Dan")):
        mail_world.save_draft(alice, to, subject, CHIARA_TEXT, bcc=[plus(alice, "later-2w")])
    engine.run_pass()
    first, second = scheduled(store)
    make_user(app, alice.email)
    client = sign_in(app, alice.email)
    page = html.unescape(client.get("/settings/later").get_data(as_text=True))
    assert "To Chiara" in page and "To Dan" in page and plus(alice, "later-2w") in page
    assert 'aria-current="page">Send later' in page
    assert 'id="drafts-off"' not in page  # her account's drafts are read

    token = csrf_token(client, "/settings/later")
    refused = client.post(f"/settings/later/{first.id}/send-now")  # no CSRF token
    assert refused.status_code == 400
    answer = client.post(
        f"/settings/later/{second.id}/move", data={"csrf_token": token, "when": "3d"}
    )
    assert answer.status_code == 303
    client.post(f"/settings/later/{first.id}/send-now", data={"csrf_token": token})
    clock.advance(minutes=2)
    engine.run_pass()
    assert mail_world.sink.count(first.message_id) == 1
    assert mail_world.sink.count(second.message_id) == 0
    bad = client.post(f"/settings/later/{second.id}/move", data={"csrf_token": token, "when": "x"})
    page = html.unescape(client.get(bad.headers["Location"]).get_data(as_text=True))
    assert "is not a delay or a date" in page
    client.post(f"/settings/later/{second.id}/cancel", data={"csrf_token": token})
    clock.advance(days=4)
    engine.run_pass()
    assert mail_world.sink.count(second.message_id) == 0
    assert [r.state for r in scheduled(store)] == ["done", "cancelled"]
    page = client.get("/settings/later").get_data(as_text=True)
    assert "Nothing scheduled" in page
    page = html.unescape(client.get("/settings/later?all=1").get_data(as_text=True))
    assert "To Dan" in page and "cancelled" in page


def test_another_users_scheduled_send_is_out_of_reach(app, mail_world, alice, config, clock):
    store = app.extensions["replywatch"]["store"]
    engine = Engine(store, config, clock=clock.now)
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    mail_world.save_draft(alice, [chiara], "Private", CHIARA_TEXT, bcc=[plus(alice, "later-2w")])
    engine.run_pass()
    [row] = scheduled(store)
    make_user(app, "mallory@example.test")
    client = sign_in(app, "mallory@example.test")
    assert "Private" not in client.get("/settings/later").get_data(as_text=True)
    with store.session() as s:  # an account of hers with drafts not read: the page says so
        store.add_account(
            s, store.get_or_create_user(s, "mallory@example.test"), kind="imap",
            email="mallory@example.test", settings={}, secret="{}", now=clock.now(),
        )  # fmt: skip
    page = " ".join(html.unescape(client.get("/settings/later").get_data(as_text=True)).split())
    assert "now off for mallory@example.test" in page
    token = csrf_token(client, "/settings/later")
    client.post(f"/settings/later/{row.id}/send-now", data={"csrf_token": token})
    client.post(f"/settings/later/{row.id}/cancel", data={"csrf_token": token})
    page = client.get("/settings/later").get_data(as_text=True)
    assert f"no scheduled send {row.id}" in page
    assert scheduled(store)[0].state == "scheduled"
    assert scheduled(store)[0].send_at > clock.now()


def test_the_page_adds_a_followup_after_sending(app, mail_world, alice, config, clock):
    store = app.extensions["replywatch"]["store"]
    engine = Engine(store, config, clock=clock.now)
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    mail_world.save_draft(alice, [chiara], "Call", CHIARA_TEXT, bcc=[plus(alice, "later-1d")])
    engine.run_pass()
    [row] = scheduled(store)
    make_user(app, alice.email)
    client = sign_in(app, alice.email)
    token = csrf_token(client, "/settings/later")
    client.post(f"/settings/later/{row.id}/then", data={"csrf_token": token, "then": "1w"})
    page = html.unescape(client.get("/settings/later").get_data(as_text=True))
    assert "then a follow-up (1w)" in page
    clock.advance(days=1, minutes=1)
    engine.run_pass()
    [row] = scheduled(store)
    assert row.state == "done" and row.followup_id is not None
    bad = client.post(f"/settings/later/{row.id}/then", data={"csrf_token": token, "then": "9x"})
    assert bad.status_code == 303  # sent already: refused, and the page says why
    page = html.unescape(client.get("/settings/later").get_data(as_text=True))
    assert "cannot be changed" in page
