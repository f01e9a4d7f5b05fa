"""GmailMailbox and the Google emulators, through the real Google client libraries over HTTP."""

from __future__ import annotations

import email.policy
import email.utils
import json
import logging
import threading
from email.message import EmailMessage

import pytest
import requests
from google.oauth2 import id_token
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

from gmail.api import GmailMailbox
from tests.emulators.oauth import query_of
from watcher.errors import (
    AuthFailed,
    MailboxProtocolError,
    MailboxUnavailable,
    SendRejected,
    SendUnconfirmed,
)
from watcher.mailbox import Bump, ThreadKey, open_mailbox
from watcher.retry import call_with_retry


def bump_for(sender, to, subject, *, in_reply_to=None, references=(), thread_ref=None) -> Bump:
    msg = EmailMessage()
    msg["From"] = sender.email
    msg["To"] = ", ".join(str(t) for t in to)
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate()
    msg["Message-ID"] = email.utils.make_msgid(domain="replywatch.test")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    msg.set_content("Just following up.\n")
    return Bump(
        message_id=msg["Message-ID"],
        sender=sender.email,
        recipients=tuple(str(t) for t in to),
        raw=msg.as_bytes(policy=email.policy.SMTP),
        thread_ref=thread_ref,
    )


def mailbox(google, user, config, token=None) -> GmailMailbox:
    return open_mailbox(google.account_spec(user, token), config)


# -- OAuth emulator with google-auth-oauthlib and google-auth -------------------------------


def test_browser_flow_with_pkce_gives_a_refresh_token_and_a_verifiable_id_token(
    google, gmail_config, monkeypatch
):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the emulator speaks plain HTTP
    alice = google.new_user("alice")
    cfg = gmail_config
    client = {
        "web": {
            "client_id": cfg.google_client_id,
            "client_secret": cfg.google_client_secret,
            "auth_uri": cfg.google_auth_uri,
            "token_uri": cfg.google_token_uri,
            "redirect_uris": ["http://127.0.0.1:9/callback"],
        }
    }
    scopes = ["openid", "email", "https://www.googleapis.com/auth/gmail.modify"]
    flow = Flow.from_client_config(client, scopes=scopes, redirect_uri="http://127.0.0.1:9/cb")
    url, state = flow.authorization_url(prompt="consent", login_hint=alice.email)
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    back = query_of(answer.headers["Location"])
    assert back["state"] == state and back["code"]

    # A callback without the verifier (a new Flow, as in a second web request) is refused.
    other = Flow.from_client_config(client, scopes=scopes, redirect_uri="http://127.0.0.1:9/cb")
    other.code_verifier = None
    with pytest.raises(InvalidGrantError):
        other.fetch_token(code=back["code"])

    flow.fetch_token(code=back["code"])
    creds = flow.credentials
    assert creds.refresh_token and creds.token
    info = id_token.verify_token(
        creds.id_token,
        requests_transport(),
        audience=cfg.google_client_id,
        certs_url=cfg.google_certs_uri,
    )
    assert info["email"] == alice.email and info["iss"] == "https://accounts.google.com"
    me = requests.get(
        cfg.google_userinfo_uri, headers={"Authorization": f"Bearer {creds.token}"}, timeout=5
    ).json()
    assert me["email"] == alice.email

    # The refresh token works for the Gmail mailbox, until it is revoked.
    with mailbox(google, alice, cfg, creds.refresh_token) as mb:
        mb.check()
    assert requests.post(cfg.google_revoke_uri, params={"token": creds.refresh_token}, timeout=5).ok
    with pytest.raises(AuthFailed, match="reconnect the account"):
        mailbox(google, alice, cfg, creds.refresh_token).check()


def requests_transport():
    import google.auth.transport.requests

    return google.auth.transport.requests.Request()


def test_denied_consent_redirects_with_access_denied(google, gmail_config):
    alice = google.new_user("alice")
    google.oauth.deny_next = True
    answer = requests.get(
        gmail_config.google_auth_uri,
        params={
            "client_id": gmail_config.google_client_id,
            "redirect_uri": "http://127.0.0.1:9/cb",
            "response_type": "code",
            "scope": "email",
            "state": "s1",
            "login_hint": alice.email,
        },
        allow_redirects=False,
        timeout=5,
    )
    assert query_of(answer.headers["Location"]) == {"error": "access_denied", "state": "s1"}


# -- GmailMailbox ---------------------------------------------------------------------------


def test_check_proves_the_token_and_the_address(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    with mailbox(google, alice, gmail_config) as mb:
        mb.check()
    spec = google.account_spec(alice, google.refresh_token(bob))
    with pytest.raises(AuthFailed, match=f"for {bob.email}, not {alice.email}"):
        open_mailbox(spec, gmail_config).check()


def test_revoked_token_is_auth_failed_and_no_token_is_ever_logged(google, gmail_config, caplog):
    alice = google.new_user("alice")
    token = google.refresh_token(alice)
    caplog.set_level(logging.DEBUG)
    with mailbox(google, alice, gmail_config, token) as mb:
        mb.changes(None)
        access = mb._creds.token
        google.oauth.revoke_user(alice.email)
        with pytest.raises(AuthFailed) as caught:
            mb.changes("1")
    message = caught.value.message
    assert message.startswith(f"Google refused access for {alice.email}")
    assert "Token has been expired or revoked" in message and "reconnect the account" in message
    assert token not in caplog.text and access not in caplog.text and token not in message


def test_wrong_client_secret_is_invalid_client(google, gmail_config):
    alice = google.new_user("alice")
    cfg = gmail_config.with_overrides(google_client_secret="wrong")
    with pytest.raises(AuthFailed, match="invalid_client"):
        mailbox(google, alice, cfg).check()


def test_access_tokens_are_reused_across_passes_and_refreshed_when_expired(google, gmail_config):
    alice = google.new_user("alice")
    token = google.refresh_token(alice)
    before = len(google.oauth.token_requests)
    for _ in range(3):
        with mailbox(google, alice, gmail_config, token) as mb:
            mb.check()
    assert len(google.oauth.token_requests) == before + 1
    google.oauth.expire_access_tokens()  # Gmail now answers 401: refresh and retry once
    with mailbox(google, alice, gmail_config, token) as mb:
        mb.check()
    assert len(google.oauth.token_requests) == before + 2


def test_changes_cost_one_unit_when_idle_and_grow_with_change_only(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    for i in range(30):
        google.send(bob, [alice], f"filler {i}")
    with mailbox(google, alice, gmail_config) as mb:
        first = mb.changes(None)
        assert first.cursor_reset and first.messages == []
        google.gmail.reset_quota()
        idle = mb.changes(first.cursor)
        assert idle.messages == [] and not idle.cursor_reset and idle.cursor == first.cursor
        assert google.gmail.units(alice.email) == 1
        mid = google.send(bob, [alice], "news")
        google.gmail.reset_quota()
        changed = mb.changes(idle.cursor)
        assert [m.message_id for m in changed.messages] == [mid]
        assert changed.messages[0].thread_ref and not changed.messages[0].in_sent
        assert google.gmail.units(alice.email) == 1 + 2 + 5
        assert mb.changes(changed.cursor).messages == []


def test_history_pages_and_own_sent_mail(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    with mailbox(google, alice, gmail_config) as mb:
        cursor = mb.changes(None).cursor
        sent = [google.send(alice, [bob], f"out {i}") for i in range(3)]
        got = [google.send(bob, [alice], f"in {i}") for i in range(502)]  # > one 500 page
        changes = mb.changes(cursor)
    ids = [m.message_id for m in changes.messages]
    assert ids == sent + got
    assert [m.in_sent for m in changes.messages[:4]] == [True, True, True, False]
    assert google.gmail.calls(alice.email)["history.list"] == 2


def test_expired_history_is_a_cursor_reset(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    with mailbox(google, alice, gmail_config) as mb:
        cursor = mb.changes(None).cursor
        google.send(bob, [alice], "lost in expired history")
        google.gmail.expire_history(alice.email)
        changes = mb.changes(cursor)
        assert changes.cursor_reset and changes.messages == []
        assert int(changes.cursor) == google.gmail.history_id(alice.email)
        for bad in ("", "not a number", "{}"):
            assert mb.changes(bad).cursor_reset


def test_bounce_and_out_of_office_bring_reported_ids_and_text(google, gmail_config):
    alice = google.new_user("alice")
    a = alice.email
    bounce = (
        f"From: MAILER-DAEMON@mx.example.test\nTo: {a}\nSubject: Undelivered\n"
        "Message-ID: <b1@mx.example.test>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nfailed\n\n--b\nContent-Type: text/rfc822-headers\n\n"
        "Message-ID: <orig@gmail.test>\n\n--b--\n"
    )
    ooo = (
        f"From: bob@example.test\nTo: {a}\nSubject: Out of office\n"
        "Auto-Submitted: auto-replied\nMessage-ID: <o1@example.test>\n"
        "Content-Type: text/plain\n\nBack on 3 March.\n"
    )
    with mailbox(google, alice, gmail_config) as mb:
        cursor = mb.changes(None).cursor
        google.deliver(alice, bounce)
        google.deliver(alice, ooo)
        got = {m.message_id: m for m in mb.changes(cursor).messages}
    assert got["<b1@mx.example.test>"].reported_ids == ("<orig@gmail.test>",)
    assert got["<o1@example.test>"].text.strip() == "Back on 3 March."
    assert "failed" in got["<b1@mx.example.test>"].text  # reports carry text too, as on IMAP


def test_thread_by_thread_ref_and_by_message_ids(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    first = google.send(alice, [bob], "Lunch?")
    reply = google.send(bob, [alice], "Re: Lunch?", in_reply_to=first, references=[first])
    with mailbox(google, alice, gmail_config) as mb:
        by_ids = mb.thread(ThreadKey(frozenset({first})))
        assert [m.message_id for m in by_ids] == [first, reply]
        ref = by_ids[0].thread_ref
        assert {m.thread_ref for m in by_ids} == {ref}
        google.gmail.reset_quota()
        by_ref = mb.thread(ThreadKey(frozenset({first}), thread_ref=ref))
        assert by_ref == by_ids
        assert google.gmail.units(alice.email) == 10
        assert mb.thread(ThreadKey(frozenset({"<nothing@x.test>"}))) == []
        gone = mb.thread(ThreadKey(frozenset({first}), thread_ref="ffffffffffffffff"))
        assert [m.message_id for m in gone] == [first, reply]  # stale threadId: searched


def test_find_message_and_find_sent(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    mine = google.send(alice, [bob], "mine")
    theirs = google.send(bob, [alice], "theirs")
    with mailbox(google, alice, gmail_config) as mb:
        found = mb.find_message(mine)
        assert found is not None and found.in_sent and found.subject == "mine"
        assert mb.find_message(theirs).in_sent is False
        assert mb.find_message("<missing@x.test>") is None
        assert mb.find_sent(mine) == found.ref
        assert mb.find_sent(theirs) is None
        assert mb.find_sent('<evil" OR in:inbox@x.test>') is None


def test_send_threads_only_when_gmail_would(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    first = google.send(alice, [bob], "Invoice 42")
    thread = google.gmail.find(alice.email, first)[0].thread_id
    calls = []
    with mailbox(google, alice, gmail_config) as mb:
        good = bump_for(
            alice, [bob], "Re: Invoice 42", in_reply_to=first, references=[first],
            thread_ref=thread,
        )  # fmt: skip
        ref = mb.send(
            good, before_commit=lambda: calls.append(google.gmail.find(bob.email, good.message_id))
        )
        assert calls == [[]]
        assert mb.find_sent(good.message_id) == ref
        changed = bump_for(alice, [bob], "Other topic", in_reply_to=first, thread_ref=thread)
        mb.send(changed)
        no_refs = bump_for(alice, [bob], "Re: Invoice 42", thread_ref=thread)
        mb.send(no_refs)
    threads = {
        m.message_id: m.thread_id
        for m in google.gmail.messages(alice.email, "SENT")
        if m.message_id in (first, good.message_id, changed.message_id, no_refs.message_id)
    }
    assert threads[good.message_id] == thread
    assert threads[changed.message_id] != thread and threads[no_refs.message_id] != thread
    [delivered] = google.gmail.find(bob.email, good.message_id)
    assert delivered.thread_id == google.gmail.find(bob.email, first)[0].thread_id
    assert delivered.header("In-Reply-To") == first


def test_send_into_a_deleted_thread_goes_out_unthreaded(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    first = google.send(alice, [bob], "Gone")
    bump = bump_for(alice, [bob], "Re: Gone", in_reply_to=first, thread_ref="fffffffffffffffe")
    with mailbox(google, alice, gmail_config) as mb:
        assert mb.send(bump)
        assert "404 the thread is gone" in mb.send_notes[bump.message_id]
    assert len(google.gmail.find(bob.email, bump.message_id)) == 1


def test_send_into_a_thread_gmail_no_longer_accepts_goes_out_unthreaded(google, gmail_config):
    """Gmail's 400 "Invalid thread_id value" is handled like the 404: sent on its own (once),
    with a note for the follow-up's history."""
    alice, bob = google.new_user("alice"), google.new_user("bob")
    first = google.send(alice, [bob], "Old")
    [sent] = google.gmail.find(alice.email, first)
    google.gmail.reject_thread(alice.email, sent.thread_id)
    bump = bump_for(alice, [bob], "Re: Old", in_reply_to=first, thread_ref=sent.thread_id)
    with mailbox(google, alice, gmail_config) as mb:
        ref = mb.send(bump)
        assert "400 Invalid thread_id value" in mb.send_notes[bump.message_id]
    [copy] = [m for m in google.gmail.find(alice.email, bump.message_id) if m.id == ref]
    assert copy.thread_id != sent.thread_id and "SENT" in copy.labels
    assert len(google.gmail.find(bob.email, bump.message_id)) == 1
    sends = [r for r in google.gmail.requests if r[0] == "messages.send" and r[1] == alice.email]
    assert [status for _, _, status in sends] == [400, 200]


def test_other_400s_on_send_are_not_retried_unthreaded(google, gmail_config):
    alice = google.new_user("alice")
    first = google.send(alice, ["x@outside.test"], "Topic")
    [sent] = google.gmail.find(alice.email, first)
    bad = bump_for(
        alice, ["not-an-address"], "Re: Topic", in_reply_to=first, thread_ref=sent.thread_id
    )
    with mailbox(google, alice, gmail_config) as mb, pytest.raises(SendRejected):
        mb.send(bad)
    sends = [r for r in google.gmail.requests if r[0] == "messages.send" and r[1] == alice.email]
    assert [status for _, _, status in sends] == [400]


def test_connection_dropped_after_send_is_unconfirmed_and_never_resent(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    bump = bump_for(alice, [bob], "Dropped")
    google.gmail.fail("messages.send", mode="drop_after", user=alice.email)
    with mailbox(google, alice, gmail_config) as mb, pytest.raises(SendUnconfirmed):
        mb.send(bump, before_commit=lambda: None)
    assert len(google.gmail.find(bob.email, bump.message_id)) == 1  # exactly one, not two
    with mailbox(google, alice, gmail_config) as mb:
        assert mb.find_sent(bump.message_id) is not None


def test_send_errors_map_to_transient_or_rejected(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    with mailbox(google, alice, gmail_config) as mb:
        google.gmail.fail("messages.send", 429, message="User-rate limit exceeded", retry_after="7")
        with pytest.raises(MailboxUnavailable) as caught:
            mb.send(bump_for(alice, [bob], "later"))
        assert caught.value.retry_after == 7
        bad = bump_for(alice, ["not-an-address"], "nobody")
        with pytest.raises(Exception) as caught:
            mb.send(bad)
        assert type(caught.value).__name__ == "SendRejected"
        assert "Invalid To header" in caught.value.message


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (403, "userRateLimitExceeded", MailboxUnavailable),
        (403, "rateLimitExceeded", MailboxUnavailable),
        (429, "rateLimitExceeded", MailboxUnavailable),
        (500, "backendError", MailboxUnavailable),
        (503, "backendError", MailboxUnavailable),
        (403, "insufficientPermissions", AuthFailed),
        (400, "failedPrecondition", MailboxProtocolError),
    ],
)
def test_error_mapping(google, gmail_config, status, reason, kind):
    alice = google.new_user("alice")
    google.gmail.fail("getProfile", status, reason=reason, user=alice.email)
    with mailbox(google, alice, gmail_config) as mb, pytest.raises(kind):
        mb.check()


def test_retry_after_is_honoured_through_retry_py(google, gmail_config):
    alice = google.new_user("alice")
    mb = mailbox(google, alice, gmail_config)
    message = "User-rate limit exceeded.  Retry after 2099-01-01T00:00:00.000Z"
    google.gmail.fail("getProfile", 403, reason="rateLimitExceeded", message=message)
    with pytest.raises(MailboxUnavailable) as caught:
        call_with_retry(mb.check, attempts=3, wait_max=60)  # asks for years: give up now
    assert caught.value.retry_after > 60
    assert google.gmail.requests.count(("getProfile", alice.email, 403)) == 1
    google.gmail.fail("getProfile", 429, retry_after="0", times=2)
    call_with_retry(mb.check, attempts=3, wait_max=0)  # two 429s, then it works
    assert google.gmail.requests.count(("getProfile", alice.email, 429)) == 2


def test_concurrent_requests_per_user_are_capped(google, gmail_config):
    alice = google.new_user("alice")
    cfg = gmail_config.with_overrides(gmail_max_concurrent=2)
    mb_token = google.refresh_token(alice)
    google.gmail.fail("getProfile", mode="delay", seconds=0.1, times=12)
    errors = []

    def work():
        try:
            with mailbox(google, alice, cfg, mb_token) as mb:
                mb.check()
        except Exception as e:  # collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert google.gmail.max_inflight[alice.email] <= 2


def test_remind_puts_the_thread_back_unread_with_a_replywatch_label(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    first = google.send(alice, [bob], "Quote")
    with mailbox(google, alice, gmail_config) as mb:
        mb.remind(ThreadKey(frozenset({first})))
        mb.remind(ThreadKey(frozenset({first})))  # the label is created once
    [msg] = google.gmail.find(alice.email, first)
    assert {"INBOX", "UNREAD", "SENT", "Replywatch"} <= google.gmail.label_names(alice.email, msg)
    names = [lab["name"] for lab in google.gmail.users[alice.email].labels.values()]
    assert names.count("Replywatch") == 1


def test_secret_may_be_a_bare_refresh_token(google, gmail_config):
    alice = google.new_user("alice")
    spec = google.account_spec(alice)
    bare = spec.__class__(
        kind="gmail",
        email=alice.email,
        settings={},
        secret=json.loads(spec.secret)["refresh_token"],
    )
    with open_mailbox(bare, gmail_config) as mb:
        mb.check()


def test_a_bump_this_process_sent_is_not_fetched_again_when_history_reports_it(
    google, gmail_config
):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    google.send(alice, [bob], "Before")
    with mailbox(google, alice, gmail_config) as mb:
        cursor = mb.changes(None).cursor
        sent_id = mb.send(bump_for(alice, [bob], "Ours"))
    other = google.send(alice, [bob], "Typed by hand")  # same account, not sent by Replywatch
    google.gmail.reset_quota()
    with mailbox(google, alice, gmail_config) as mb:
        changes = mb.changes(cursor)
    assert [m.message_id for m in changes.messages] == [other]
    assert sent_id not in {m.ref for m in changes.messages}
    gets = google.gmail.calls(alice.email)["messages.get"]
    assert gets == 1  # the hand-typed one only: 5 units saved per bump
