"""The follow-up flows through the HTTP client: a pasted Message-ID header line, what is refused
with which words, every bad field marked at once, and a mail server that is down or silent
(the page says so within its time limit; nothing is written)."""

from __future__ import annotations

import socket
import time

import pytest

from app import create_app
from tests.e2e.test_rules_http import connect
from tests.support.web import csrf_token, make_user, seed_followup, sign_in
from watcher.models import FollowUp
from web.new_followup import message_id_from


@pytest.fixture
def app(config, clock):
    app = create_app(config, clock=clock.now)
    yield app
    app.extensions["replywatch"]["store"].dispose()


def _store(app):
    return app.extensions["replywatch"]["store"]


def _count(app) -> int:
    with _store(app).session() as s:
        return s.query(FollowUp).count()


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        ("<CAF1x@mail.example.com>", "<CAF1x@mail.example.com>"),
        ("CAF1x@mail.example.com", "<CAF1x@mail.example.com>"),
        ("Message-ID: <CAF1x@mail.example.com>", "<CAF1x@mail.example.com>"),
        ("message-id:<CAF1x@mail.example.com>\n", "<CAF1x@mail.example.com>"),
        ("Message-Id:\r\n <CAF1x@mail.example.com>", "<CAF1x@mail.example.com>"),  # folded
        ("  <CAF1x@mail.example.com>  ", "<CAF1x@mail.example.com>"),
    ],
)
def test_a_message_id_is_read_as_pasted(pasted, expected):
    assert message_id_from(pasted) == expected


@pytest.mark.parametrize(
    ("pasted", "words"),
    [
        ("Proposal for Q3", "use the search above the list"),  # a subject
        ("", "pick a message from the list"),
        ("<a@b> <c@d>", "not a Message-ID"),
    ],
)
def test_what_is_not_a_message_id_is_refused_with_a_hint(pasted, words):
    with pytest.raises(Exception, match=words):
        message_id_from(pasted)


def test_a_pasted_header_line_sets_a_follow_up(app, mail_world):
    uid = make_user(app, "me@example.test")
    me, bob = mail_world.new_user("me"), mail_world.new_user("bob")
    account_id = connect(app, uid, mail_world, me)
    mid = mail_world.send(me, [bob], "Proposal", "Here.")
    client = sign_in(app, "me@example.test")
    token = csrf_token(client, "/settings/followups/new")
    answer = client.post(
        "/settings/followups/new",
        data={
            "csrf_token": token,
            "account": account_id,
            "message_id": f"Message-ID: {mid}",
            "after": "3d",
            "mode": "send",
            "replier_policy": "anyone",
        },
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    with _store(app).session() as s:
        (f,) = s.query(FollowUp).all()
        assert (f.anchor_message_id, f.stages[0].delay) == (mid, "3d")


def test_three_bad_fields_are_marked_at_once_and_kept(app, mail_world):
    uid = make_user(app, "me@example.test")
    me = mail_world.new_user("me")
    account_id = connect(app, uid, mail_world, me)
    client = sign_in(app, "me@example.test")
    token = csrf_token(client, "/settings/followups/new")
    answer = client.post(
        "/settings/followups/new",
        data={
            "csrf_token": token,
            "account": account_id,
            "message_id": "Proposal for Q3",
            "after": "soon",
            "text": "Hi {frist_name}",
            "mode": "send",
            "replier_policy": "anyone",
        },
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    for field in ("message_id", "after", "text"):
        assert f'id="{field}-error"' in page, field
        assert f'aria-describedby="{field}-hint {field}-error"' in page, field
    assert page.count('aria-invalid="true"') == 3
    assert "3 fields need fixing" in page
    assert 'value="soon"' in page and "Hi {frist_name}</textarea>" in page
    assert _count(app) == 0


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_an_unreachable_mailbox_is_said_on_the_page(app, clock):
    uid = make_user(app, "me@example.test")
    account_id, _ = seed_followup(app, uid, email="me@example.test", now=clock.now())
    with _store(app).session() as s:
        account = _store(app).find_account(s, str(account_id))
        account.settings = {**account.settings, "imap_port": _dead_port()}
    client = sign_in(app, "me@example.test")
    page = client.get("/settings/followups/new")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="sent-unreachable"' in text and "could not be read just now" in text
    assert "Nothing was changed" in text
    assert 'name="message_id"' in text  # the Advanced form is still there
    assert _count(app) == 1


def test_a_silent_mail_server_costs_the_page_at_most_its_time_limit(app, clock):
    """A server that accepts the connection and never says a word: the page answers within
    its limit (1 s here) instead of the sockets' 10 s timeouts, retries included."""
    app.config["REPLYWATCH_PAGE_MAIL_SECONDS"] = 1
    uid = make_user(app, "me@example.test")
    account_id, _ = seed_followup(app, uid, email="me@example.test", now=clock.now())
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the kernel; nobody ever answers
        with _store(app).session() as s:
            account = _store(app).find_account(s, str(account_id))
            account.settings = {**account.settings, "imap_port": silent.getsockname()[1]}
        client = sign_in(app, "me@example.test")
        started = time.monotonic()
        page = client.get("/settings/followups/new")
        took = time.monotonic() - started
    assert page.status_code == 200
    assert "could not be read just now" in page.get_data(as_text=True)
    assert took < 5, took
    print(f"silent server: page answered in {took:.2f}s")


@pytest.mark.now("2026-11-24T10:00:00+01:00")
def test_edit_bumps_marks_each_bad_field_and_shows_dates_in_the_users_zone(app, clock):
    uid = make_user(app, "me@example.test")
    with _store(app).session() as s:
        _store(app).get_user(s, uid).timezone = "Europe/Berlin"
    _, fid = seed_followup(app, uid, email="me@example.test", now=clock.now())
    client = sign_in(app, "me@example.test")
    token = csrf_token(client, f"/settings/followups/{fid}")
    url = f"/settings/followups/{fid}"
    bad = client.post(
        url + "/edit",
        data={
            "csrf_token": token,
            "replier_policy": "anyone",
            "mode": "send",
            "stage-1-when": "soon",
            "stage-1-text": "Hi {nme}",
        },
    )
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert 'id="stage-1-when-error"' in page and "is not a delay or a date" in page
    assert 'id="stage-1-text-error"' in page and "Unknown placeholder {nme}" in page
    assert page.count('aria-invalid="true"') == 2
    assert 'value="soon"' in page and "Hi {nme}</textarea>" in page  # kept as typed

    # A fixed date is shown as the user types it, in their zone; never an ISO UTC stamp.
    ok = client.post(
        url + "/edit",
        data={
            "csrf_token": token,
            "replier_policy": "anyone",
            "mode": "send",
            "stage-1-when": "2026-12-08 10:00",
            "stage-1-text": "",
        },
    )
    assert ok.status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert 'value="2026-12-08 10:00"' in page
    assert "+00:00" not in page and "2026-12-08T" not in page
    assert "Tue 2026-12-08 10:00 CET" in page


@pytest.mark.parametrize("folders", [False, True])
def test_the_ways_without_the_page_show_the_users_own_address_folders_on_or_off(app, folders):
    uid = make_user(app, "me@example.test")
    account_id, _ = seed_followup(app, uid, email="sam.lee@example.test")
    with _store(app).session() as s:
        _store(app).find_account(s, str(account_id)).trigger_folders = folders
    client = sign_in(app, "me@example.test")
    for path in ("/settings/followups", "/settings/accounts"):
        page = client.get(path).get_data(as_text=True)
        assert "sam.lee+" in page and "@example.test</code>" in page, path
    ways = client.get("/settings/followups").get_data(as_text=True)
    assert "sam.lee+3d@example.test" in ways and "set up a rule" in ways
    assert ("Replywatch/3 days" in ways) is folders
    assert ("Turn them on" in ways) is not folders


def test_the_browser_zone_is_taken_once_with_a_token_and_never_over_a_choice(app):
    uid = make_user(app, "me@example.test")
    client = sign_in(app, "me@example.test")
    assert 'id="zone-auto"' in client.get("/settings/followups").get_data(as_text=True)
    no_token = client.post("/settings/timezone/browser", data={"zone": "Asia/Tokyo"})
    assert no_token.status_code == 400
    token = csrf_token(client, "/settings/followups")
    bogus = client.post("/settings/timezone/browser", data={"csrf_token": token, "zone": "Mars"})
    assert bogus.get_json() == {"taken": False}
    taken = client.post(
        "/settings/timezone/browser", data={"csrf_token": token, "zone": "Europe/Berlin"}
    )
    assert taken.get_json() == {"taken": True, "zone": "Europe/Berlin"}
    again = client.post(
        "/settings/timezone/browser", data={"csrf_token": token, "zone": "Asia/Tokyo"}
    )
    assert again.get_json() == {"taken": False}
    with _store(app).session() as s:
        user = _store(app).get_user(s, uid)
        assert (user.timezone, user.timezone_source) == ("Europe/Berlin", "browser")
    assert 'id="zone-auto"' not in client.get("/settings/followups").get_data(as_text=True)


def test_another_users_rule_cannot_be_seen_or_edited(app, mail_world):
    alice = make_user(app, "alice@example.test")
    connect(app, alice, mail_world, mail_world.new_user("alice"))
    client = sign_in(app, "alice@example.test")
    token = csrf_token(client, "/settings/rules")
    form = {"csrf_token": token, "name": "Mine", "delays": "3d", "mode": "send"}
    with _store(app).session() as s:
        (account,) = _store(app).list_accounts(s, alice)
        form["account"] = str(account.id)
    assert client.post("/settings/rules", data=form).status_code == 303
    with _store(app).session() as s:
        (rule,) = _store(app).list_rules(s, user_id=alice)
        rule_id = rule.id
    make_user(app, "mallory@example.test")
    mallory = sign_in(app, "mallory@example.test")
    assert mallory.get(f"/settings/rules/{rule_id}/edit").status_code == 404
    mtoken = csrf_token(mallory, "/settings/rules")
    answer = mallory.post(
        f"/settings/rules/{rule_id}/edit", data={**form, "csrf_token": mtoken, "name": "Taken"}
    )
    assert answer.status_code == 404
    with _store(app).session() as s:
        assert _store(app).get_rule(s, rule_id).name == "Mine"
