"""End to end on a Google account: the CLI and the watcher against the Gmail and OAuth emulators.

Alice connects her Google account with `account add-gmail` (a refresh token, checked with
getProfile before it is saved, stored encrypted). Bob is another user of the emulated Gmail, so
he can really reply. Time moves with an injected clock, never a sleep; the same stories as
tests/e2e/test_watcher_e2e.py tell for IMAP.
"""

from __future__ import annotations

import email.utils

import pytest

from tests.e2e.test_watcher_e2e import BOUNCE, OOO, events_of, state_of, token_of
from watcher.compose import bump_message_id
from watcher.models import Account
from watcher.store import Store


@pytest.fixture
def alice(google, gcli):
    user = google.new_user("alice")
    connect(gcli, google, user)
    code, _, err = gcli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    return user


def connect(gcli, google, user, token=None):
    code, out, err = gcli(
        "account",
        "add-gmail",
        "--email",
        user.email,
        "--name",
        user.name,
        env={"REPLYWATCH_GMAIL_REFRESH_TOKEN": token or google.refresh_token(user)},
    )
    assert code == 0, err
    assert "Gmail API access checked" in out
    return out


def add_followup(gcli, user, message_id, *args):
    code, out, err = gcli(
        "followup", "add", "--account", user.email, "--message-id", message_id, *args
    )
    assert code == 0, err
    return int(out.split()[1].rstrip(":"))


def bumps_from(google, user) -> list:
    return [m for m in google.gmail.messages(user.email, "SENT") if m.message_id.startswith("<rw.")]


def _date() -> str:
    return email.utils.formatdate(localtime=False)


def test_add_gmail_checks_the_token_and_stores_it_encrypted(google, gcli, gmail_config):
    alice = google.new_user("alice")
    code, _, err = gcli(
        "account",
        "add-gmail",
        "--email",
        alice.email,
        env={"REPLYWATCH_GMAIL_REFRESH_TOKEN": "1//not-a-real-token"},
    )
    assert code == 2 and "Google refused access" in err and "1//not" not in err
    token = google.refresh_token(alice)
    connect(gcli, google, alice, token)
    store = Store.from_config(gmail_config)
    with store.session() as s:
        account = s.query(Account).one()
        assert account.kind == "gmail" and token not in account.secret
        assert store.account_spec(account).secret == f'{{"refresh_token": "{token}"}}'
    code, out, _ = gcli("account", "check", alice.email)
    assert code == 0 and "Gmail API access works" in out


def test_reply_stops_the_followup_and_no_bump_is_sent(google, alice, gcli, gengine, clock):
    bob = google.new_user("bob")
    mid = google.send(alice, [bob], "Proposal for Q1", "Shall we go ahead?")
    fid = add_followup(gcli, alice, mid, "--after", "2w")
    gengine.run_pass()
    assert state_of(gengine.store, fid) == "active"
    reply = google.send(bob, [alice], "Re: Proposal for Q1", "Yes!", in_reply_to=mid)
    report = gengine.run_pass()
    assert report.stopped == 1 and state_of(gengine.store, fid) == "replied"
    assert ("stopped", f"stopped: reply from {bob.email}, message {reply}") in events_of(
        gengine.store, fid
    )
    clock.advance(days=30)
    gengine.run_pass()
    assert bumps_from(google, alice) == []


def test_reply_before_the_first_pass_is_found_by_reading_the_thread(google, alice, gcli, gengine):
    bob = google.new_user("bob")
    mid = google.send(alice, [bob], "Lunch?", "Thursday?")
    google.send(bob, [alice], "Re: Lunch?", "Sure", in_reply_to=mid, references=[mid])
    fid = add_followup(gcli, alice, mid, "--after", "3d")
    gengine.run_pass()
    assert state_of(gengine.store, fid) == "replied"


def test_out_of_office_does_not_stop_and_the_bump_goes_out_threaded(
    google, alice, gcli, gengine, clock
):
    bob = google.new_user("bob")
    mid = google.send(alice, [bob], "Invoice 42", "Could you confirm?")
    fid = add_followup(gcli, alice, mid, "--after", "1w", "--text", "Hi {first_name}, any news?")
    gengine.run_pass()
    raw = OOO.format(
        bob=bob.email, alice=alice.email, subject="Invoice 42", mid=mid, n=1, date=_date()
    )
    google.deliver(alice, raw)
    gengine.run_pass()
    assert state_of(gengine.store, fid) == "active"
    assert any(k == "not_reply" and "auto-reply" in d for k, d in events_of(gengine.store, fid))
    clock.advance(days=7, minutes=1)
    assert gengine.run_pass().sent == 1
    bump_id = bump_message_id(token_of(gengine.store, fid), 1, alice.email)
    [sent] = google.gmail.find(alice.email, bump_id)
    [anchor] = google.gmail.find(alice.email, mid)
    assert sent.thread_id == anchor.thread_id  # in Alice's thread
    [got] = google.gmail.find(bob.email, bump_id)
    assert got.thread_id == google.gmail.find(bob.email, mid)[0].thread_id  # and in Bob's
    assert got.header("Subject") == "Re: Invoice 42" and got.header("In-Reply-To") == mid
    assert got.text().startswith("Hi Bob, any news?")
    assert state_of(gengine.store, fid) == "completed"
    clock.advance(days=30)
    gengine.run_pass()
    assert len(google.gmail.find(bob.email, bump_id)) == 1


def test_bounce_stops_the_followup_as_failed(google, alice, gcli, gengine, clock):
    bob = google.new_user("bob")
    mid = google.send(alice, [bob], "Hello", "Hi")
    fid = add_followup(gcli, alice, mid, "--after", "3d")
    gengine.run_pass()
    raw = BOUNCE.format(
        bob=bob.email, alice=alice.email, subject="Hello", mid=mid, n=1, date=_date()
    )
    google.deliver(alice, raw)
    gengine.run_pass()
    assert state_of(gengine.store, fid) == "failed"
    clock.advance(days=10)
    gengine.run_pass()
    assert bumps_from(google, alice) == []


def test_silence_sends_exactly_one_bump_per_stage_each_threaded(
    google, alice, gcli, gengine, clock
):
    bob, carol = google.new_user("bob"), google.new_user("carol")
    mid = google.send(alice, [bob], "Intro", "Meet Carol", cc=[carol])
    fid = add_followup(gcli, alice, mid, "--after", "1w", "--stage", "1w")
    token = token_of(gengine.store, fid)
    first, second = (bump_message_id(token, n, alice.email) for n in (1, 2))
    gengine.run_pass()
    clock.advance(days=7, minutes=1)
    gengine.run_pass()
    gengine.run_pass()
    assert len(google.gmail.find(bob.email, first)) == 1
    assert len(google.gmail.find(carol.email, first)) == 1
    clock.advance(days=7, minutes=1)
    gengine.run_pass()
    gengine.run_pass()
    [got] = google.gmail.find(bob.email, second)
    assert got.header("In-Reply-To") == first
    assert got.header("References").split() == [mid, first]
    thread = google.gmail.find(alice.email, mid)[0].thread_id
    assert [m.message_id for m in google.gmail.thread_of(alice.email, thread)] == [
        mid,
        first,
        second,
    ]
    assert state_of(gengine.store, fid) == "completed"
    assert [k for k, _ in events_of(gengine.store, fid)].count("sent") == 2


def test_remind_only_brings_the_thread_back_and_mails_nobody(google, alice, gcli, gengine, clock):
    bob = google.new_user("bob")
    mid = google.send(alice, [bob], "Quote", "Price?")
    fid = add_followup(gcli, alice, mid, "--after", "3d", "--remind-only")
    gengine.run_pass()
    clock.advance(days=3, minutes=1)
    assert gengine.run_pass().reminded == 1
    [msg] = google.gmail.find(alice.email, mid)
    assert {"INBOX", "UNREAD", "Replywatch"} <= google.gmail.label_names(alice.email, msg)
    assert bumps_from(google, alice) == []
    assert state_of(gengine.store, fid) == "completed"


def test_revoked_token_needs_attention_and_nothing_is_lost(google, alice, gcli, gengine, clock):
    bob = google.new_user("bob")
    mid = google.send(alice, [bob], "Deal", "Ready?")
    fid = add_followup(gcli, alice, mid, "--after", "1w")
    gengine.run_pass()
    google.oauth.revoke_user(alice.email)  # the user removed Replywatch's access
    clock.advance(days=7, minutes=1)
    report = gengine.run_pass()
    assert report.sent == 0 and report.account_faults == 1
    code, out, _ = gcli("account", "list")
    assert "needs_attention" in out and "reconnect the account" in out
    assert state_of(gengine.store, fid) == "active"  # waiting, not failed
    assert bumps_from(google, alice) == []

    google.oauth.restore_user(alice.email)  # reconnected (same grant, for the test)
    code, _, err = gcli("account", "check", alice.email)
    assert code == 0, err
    clock.advance(minutes=1)
    gengine.run_pass()
    bump_id = bump_message_id(token_of(gengine.store, fid), 1, alice.email)
    assert len(google.gmail.find(bob.email, bump_id)) == 1
    assert state_of(gengine.store, fid) == "completed"


def test_backend_error_on_send_is_settled_by_sent_and_retried_once(
    google, alice, gcli, gengine, clock
):
    """Gmail answers 500 to the send: not in Sent means not sent, so it is tried again later."""
    bob = google.new_user("bob")
    mid = google.send(alice, [bob], "Numbers", "?")
    fid = add_followup(gcli, alice, mid, "--after", "3d")
    gengine.run_pass()
    clock.advance(days=3, minutes=1)
    google.gmail.fail("messages.send", 500, user=alice.email)
    report = gengine.run_pass()
    assert report.sent == 0 and report.unconfirmed == 0
    assert bumps_from(google, alice) == []
    assert any(k == "retry" for k, _ in events_of(gengine.store, fid))
    gengine.run_pass()
    assert bumps_from(google, alice) == []  # not before the re-check delay
    clock.advance(minutes=11)
    assert gengine.run_pass().sent == 1
    assert len(bumps_from(google, alice)) == 1
    assert state_of(gengine.store, fid) == "completed"


def test_send_that_went_through_before_the_line_broke_is_recorded_not_resent(
    google, alice, gcli, gengine, clock
):
    bob = google.new_user("bob")
    mid = google.send(alice, [bob], "Contract", "?")
    fid = add_followup(gcli, alice, mid, "--after", "3d")
    gengine.run_pass()
    clock.advance(days=3, minutes=1)
    google.gmail.fail("messages.send", mode="drop_after", user=alice.email)
    assert gengine.run_pass().sent == 1  # found in Sent right away
    clock.advance(days=30)
    gengine.run_pass()
    assert len(bumps_from(google, alice)) == 1
    details = [d for k, d in events_of(gengine.store, fid) if k == "sent"]
    assert details and "found in Sent after a broken send" in details[0]
