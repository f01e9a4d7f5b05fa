"""Over HTTP (Flask's test client): the public sign-in page keeps the operator's Google set-up
to itself (the owner sees it on Accounts, the console prints it), and after a disconnect or a
refused login the Follow-ups page says which account, why, and the one click that fixes it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import create_app, startup_lines
from tests.support.web import csrf_token, make_user, seed_followup, sign_in

REDIRECT = "/settings/oauth/google/callback"


@pytest.fixture
def app(config, clock):
    app = create_app(config, clock=clock.now)  # Google is not configured here
    yield app
    app.extensions["replywatch"]["store"].dispose()


def _store(app):
    return app.extensions["replywatch"]["store"]


def test_sign_in_page_shows_no_google_set_up_only_the_owner_sees_it(app, config):
    make_user(app, "owner@example.test")
    make_user(app, "guest@example.test")
    public = app.test_client().get("/settings/signin").get_data(as_text=True)
    assert "REPLYWATCH_GOOGLE" not in public and REDIRECT not in public
    assert "Sign in with Google" not in public  # not offered while it cannot work

    owner = sign_in(app, "owner@example.test").get("/settings/accounts").get_data(as_text=True)
    assert "REPLYWATCH_GOOGLE_CLIENT_ID" in owner and "REPLYWATCH_GOOGLE_CLIENT_SECRET" in owner
    assert f"{config.base_url}{REDIRECT}" in owner

    guest = sign_in(app, "guest@example.test").get("/settings/accounts").get_data(as_text=True)
    assert "REPLYWATCH_GOOGLE" not in guest and REDIRECT not in guest
    assert "Not set up on this server yet" in guest

    lines = "\n".join(startup_lines(config, _store(app)))  # the console says it all
    assert "REPLYWATCH_GOOGLE_CLIENT_ID" in lines and f"{config.base_url}{REDIRECT}" in lines


def test_after_a_disconnect_the_list_names_the_account_instead_of_get_started(app, clock):
    uid = make_user(app, "me@example.test")
    account_id, _ = seed_followup(app, uid, email="me@example.test", now=clock.now())
    store = _store(app)
    with store.session() as s:
        store.disable_account(s, store.find_account(s, str(account_id)), clock.now())
    page = sign_in(app, "me@example.test").get("/settings/followups").get_data(as_text=True)
    assert "Get started" not in page and "Connect a mailbox" not in page
    assert "me@example.test is disconnected: its follow-ups are kept" in page
    assert f'href="/settings/accounts/{account_id}/reconnect">Reconnect me@example.test<' in page

    attention = sign_in(app, "me@example.test").get("/settings/followups?show=attention")
    row = attention.get_data(as_text=True)
    assert "Quarterly numbers" in row and "Waiting: me@example.test is disconnected." in row


def test_a_new_user_still_gets_started(app):
    make_user(app, "new@example.test")
    page = sign_in(app, "new@example.test").get("/settings/followups").get_data(as_text=True)
    assert "Get started" in page and 'id="attention"' not in page


def test_an_unconfirmed_bump_row_links_to_the_question(app, clock):
    from watcher.models import FollowUp, FollowUpState, StageState

    uid = make_user(app, "me@example.test")
    _, followup_id = seed_followup(app, uid, email="me@example.test", now=clock.now())
    store = _store(app)
    with store.session() as s:
        f = s.get(FollowUp, followup_id)
        f.state = FollowUpState.COMPLETED
        f.stages[0].state = StageState.UNCONFIRMED
        f.stages[0].done_at = clock.now() - timedelta(hours=1)
    page = sign_in(app, "me@example.test").get("/settings/followups?show=attention")
    html = page.get_data(as_text=True)
    assert "A bump may or may not have gone out." in html
    assert f'href="/settings/followups/{followup_id}#unconfirmed">Say whether it arrived<' in html


def test_a_refused_new_follow_up_still_says_what_needs_attention(app, clock):
    uid = make_user(app, "me@example.test")
    account_id, _ = seed_followup(app, uid, email="me@example.test", now=clock.now())
    _store(app).mark_account_failed(
        account_id, "IMAP login refused", permanent=True, now=clock.now(), backoff=timedelta(0)
    )
    client = sign_in(app, "me@example.test")
    token = csrf_token(client, "/settings/followups")
    answer = client.post(
        "/settings/followups/new",
        data={"csrf_token": token, "account": str(account_id), "message_id": ""},
    )
    assert answer.status_code == 400  # the new follow-up page, redrawn with its errors
    assert "me@example.test needs attention: IMAP login refused" in answer.get_data(as_text=True)
