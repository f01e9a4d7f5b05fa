"""Send later on the Gmail emulator: a draft (DRAFT label) with the user's me+later-…@… in Bcc
is sent through the Gmail API at its time, once; not if the person wrote first; Gmail's Sent is
authoritative, so a crash before the message reached it means "send again" and one after means
"recorded from Sent". Includes a real watcher process SIGKILLed inside messages.send."""

from __future__ import annotations

import contextlib
import email.policy
import email.utils
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.test_gmail_e2e import connect as connect_gmail
from tests.e2e.test_send_later_e2e import CHIARA_TEXT, later_events, scheduled
from tests.e2e.test_triggers_e2e import compose, followups, plus
from tests.support.mailboxes import DiesAfterRecordingTheHandOver, WrappedMailbox
from watcher.compose import bump_message_id
from watcher.engine import Engine
from watcher.later import actions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def galice(google, gcli):
    user = google.new_user("alice")
    connect_gmail(gcli, google, user)
    code, _, err = gcli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    code, _, err = gcli("account", "triggers", user.email, "on")  # drafts are read on opt-in
    assert code == 0, err
    return user


def gmail_later_draft(google, user, to, tag="later-2w", bcc=(), subject="Catching up"):
    msg = compose(user, to, subject, CHIARA_TEXT, bcc=[plus(user, tag), *bcc])
    return google.gmail.create_draft(user.email, msg.as_bytes(policy=email.policy.SMTP))


def test_gmail_draft_is_sent_on_time_and_deleted(google, galice, gengine, clock):
    chiara = google.new_user("chiara")
    dan = google.new_user("dan")
    gengine.run_pass()
    # Gmail's own compose window: the Bcc holds the tag and a real Bcc recipient.
    gmail_later_draft(google, galice, [chiara.email], tag="later-2w", bcc=[dan.email])
    gengine.run_pass()
    [row] = scheduled(gengine.store)
    assert row.state == "scheduled" and row.recipients == [chiara.email, dan.email]
    clock.advance(days=14, minutes=1)
    gengine.run_pass()
    [sent] = google.gmail.find(galice.email, row.message_id)
    assert "SENT" in google.gmail.label_names(galice.email, sent)
    assert plus(galice, "later-2w") not in sent.header("To") + sent.header("Bcc")
    assert dan.email in sent.header("Bcc")  # the Sent copy keeps the real Bcc
    assert CHIARA_TEXT in sent.text()
    assert google.gmail.find(chiara.email, row.message_id)  # delivered
    [to_dan] = google.gmail.find(dan.email, row.message_id)
    assert not to_dan.header("Bcc")  # nobody sees the Bcc
    assert google.gmail.drafts_of(galice.email) == {}
    assert scheduled(gengine.store)[0].state == "done"
    gengine.run_pass()
    assert len(google.gmail.find(galice.email, row.message_id)) == 1


def test_gmail_keeps_the_draft_when_they_wrote_first(google, galice, gengine, clock):
    chiara = google.new_user("chiara")
    gengine.run_pass()
    gmail_later_draft(google, galice, [chiara.email], tag="later-3d")
    gengine.run_pass()
    clock.advance(days=1)
    when = email.utils.format_datetime(clock.now())  # the emulator's UI stamps the wall clock
    google.send(chiara, [galice], "Lunch?", "Shall we have lunch next week?", date=when)
    gengine.run_pass()
    clock.advance(days=2, minutes=1)
    gengine.run_pass()
    [row] = scheduled(gengine.store)
    assert row.state == "held"
    assert not google.gmail.find(galice.email, row.message_id)
    assert len(google.gmail.drafts_of(galice.email)) == 1
    [held] = [d for k, d in later_events(gengine.store) if k == "later_held"]
    assert "wrote to you first" in held and "Lunch?" in held


def test_gmail_then_followup_after_sending(google, galice, gengine, clock):
    chiara = google.new_user("chiara")
    gengine.run_pass()
    gmail_later_draft(google, galice, [chiara.email], tag="later-1d-then-1w")
    gengine.run_pass()
    clock.advance(days=1, minutes=1)
    gengine.run_pass()
    [row] = scheduled(gengine.store)
    [followup] = followups(gengine.store)
    assert row.followup_id == followup.id and followup.anchor_message_id == row.message_id
    [sent] = google.gmail.find(galice.email, row.message_id)
    assert followup.thread_ref == sent.thread_id  # the Sent copy was the anchor
    clock.advance(weeks=1, minutes=1)
    gengine.run_pass()
    [bump] = google.gmail.find(galice.email, bump_message_id(followup.token, 1, galice.email))
    assert bump.thread_id == sent.thread_id


class DiesAfterSend(WrappedMailbox):
    def send(self, bump, before_commit=None):
        self.inner.send(bump, before_commit)
        raise SystemExit("killed after the hand-over, before the record")


@pytest.mark.parametrize(
    "dying, expected_state",
    [
        (DiesAfterSend, "done"),  # found in Sent: recorded, not resent
        (DiesAfterRecordingTheHandOver, "done"),  # not in Sent, which is authoritative: sent
    ],
)
def test_gmail_crash_at_each_step_sends_exactly_once(
    google, galice, gengine, gmail_config, clock, dying, expected_state
):
    chiara = google.new_user("chiara")
    gengine.run_pass()
    gmail_later_draft(google, galice, [chiara.email], tag="later-1d")
    gengine.run_pass()
    clock.advance(days=1, minutes=1)
    crashing = Engine(gengine.store, gmail_config, clock=clock.now, mailbox_factory=dying)
    with contextlib.suppress(SystemExit):
        crashing.run_pass()
    clock.advance(seconds=gmail_config.lease_seconds + 3600)
    restarted = Engine(
        gengine.store, gmail_config.with_overrides(worker_id="second"), clock=clock.now
    )
    restarted.run_pass()
    restarted.run_pass()
    [row] = scheduled(gengine.store)
    assert row.state == expected_state
    assert len(google.gmail.find(galice.email, row.message_id)) == 1
    assert len(google.gmail.find(chiara.email, row.message_id)) == 1
    assert google.gmail.drafts_of(galice.email) == {}


def test_gmail_sigkill_after_the_api_took_it_is_recorded_not_resent(
    google, galice, gengine, gmail_config
):
    """A real `python -m watcher once` killed right after Gmail carried out messages.send."""
    chiara = google.new_user("chiara")
    gengine.run_pass()
    gmail_later_draft(google, galice, [chiara.email], tag="later-1d")
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    Engine(gengine.store, gmail_config, clock=lambda: two_days_ago).run_pass()
    [row] = scheduled(gengine.store)
    env = {
        **os.environ,
        **google.env(),
        "REPLYWATCH_INSTANCE_DIR": str(gmail_config.instance_dir),
        "REPLYWATCH_WORKER_ID": "doomed-watcher",
        "REPLYWATCH_RETRY_WAIT_MAX": "0",
    }
    watcher = subprocess.Popen(
        [sys.executable, "-m", "watcher", "once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    gmail = google.gmail
    original = gmail._messages_send

    def send_then_kill(box, req, match):
        response = original(box, req, match)  # carried out: in Sent, delivered
        if gmail.find(galice.email, row.message_id):
            watcher.send_signal(signal.SIGKILL)
            watcher.wait(10)
        return response

    gmail._messages_send = send_then_kill
    try:
        output = watcher.communicate(timeout=60)[0].decode()
    finally:
        del gmail._messages_send
    assert watcher.returncode == -signal.SIGKILL, output
    assert scheduled(gengine.store)[0].state == "sending"
    later = datetime.now(UTC) + timedelta(seconds=gmail_config.lease_seconds + 60)
    restarted = Engine(gengine.store, gmail_config, clock=lambda: later)
    restarted.run_pass()
    restarted.run_pass()
    assert len(google.gmail.find(galice.email, row.message_id)) == 1
    assert len(google.gmail.find(chiara.email, row.message_id)) == 1
    [row] = scheduled(gengine.store)
    assert row.state == "done"
    assert any("found in Sent" in d for k, d in later_events(gengine.store) if k == "later_sent")


def test_gmail_a_draft_edited_after_scheduling_sends_its_newest_version_once(
    google, galice, gengine, clock
):
    """Gmail saves each edit as a new message under the same draft id; this one even has a
    new Message-ID: the draft id ties the versions together."""
    chiara = google.new_user("chiara")
    gengine.run_pass()
    first = gmail_later_draft(google, galice, [chiara.email], tag="later-1d")
    gengine.run_pass()
    [draft_id] = list(google.gmail.drafts_of(galice.email))
    clock.advance(hours=2)
    edited = compose(galice, [chiara.email], "Catching up", "Edited: how is it going?",
                     bcc=[plus(galice, "later-1d")])  # fmt: skip
    assert edited["Message-ID"] != first.message_id
    google.gmail.save_draft_again(galice.email, draft_id, edited.as_bytes(policy=email.policy.SMTP))
    gengine.run_pass()
    [row] = scheduled(gengine.store)  # one schedule, now pointing at the newest version
    assert row.draft_key == f"gmail-draft:{draft_id}"
    assert [k for k, _ in later_events(gengine.store)] == ["later_scheduled", "later_updated"]
    clock.advance(hours=22, minutes=1)
    gengine.run_pass()
    [sent] = google.gmail.find(galice.email, row.message_id)
    assert "Edited: how is it going?" in sent.text() and CHIARA_TEXT not in sent.text()
    assert len(google.gmail.find(chiara.email, row.message_id)) == 1
    assert google.gmail.drafts_of(galice.email) == {}
    assert [r.state for r in scheduled(gengine.store)] == ["done"]


def test_gmail_cancel_keeps_the_draft_and_send_now_sends_it(google, galice, gengine, clock):
    chiara, dan = google.new_user("chiara"), google.new_user("dan")
    gengine.run_pass()
    gmail_later_draft(google, galice, [chiara.email], tag="later-2w", subject="To Chiara")
    gmail_later_draft(google, galice, [dan.email], tag="later-2w", subject="To Dan")
    gengine.run_pass()
    to_chiara, to_dan = scheduled(gengine.store)
    with gengine.store.session() as s:
        actions.cancel(gengine.store, s, to_chiara.user_id, to_chiara.id, clock.now())
        actions.send_now(gengine.store, s, to_dan.user_id, to_dan.id, clock.now())
    clock.advance(minutes=2)
    gengine.run_pass()
    assert len(google.gmail.find(dan.email, to_dan.message_id)) == 1
    clock.advance(days=15)
    gengine.run_pass()
    assert not google.gmail.find(galice.email, to_chiara.message_id)
    [left] = google.gmail.drafts_of(galice.email).values()
    assert left.header("Subject") == "To Chiara"
    assert [r.state for r in scheduled(gengine.store)] == ["cancelled", "done"]


class DiesBeforeDeletingTheDraft(WrappedMailbox):
    def discard_draft(self, ref):
        raise SystemExit("killed after the record, before the draft was deleted")


def test_gmail_crash_before_the_draft_is_deleted_deletes_it_later_sends_nothing_more(
    google, galice, gengine, gmail_config, clock
):
    chiara = google.new_user("chiara")
    gengine.run_pass()
    gmail_later_draft(google, galice, [chiara.email], tag="later-1d")
    gengine.run_pass()
    clock.advance(days=1, minutes=1)
    crashing = Engine(
        gengine.store, gmail_config, clock=clock.now, mailbox_factory=DiesBeforeDeletingTheDraft
    )
    with contextlib.suppress(SystemExit):
        crashing.run_pass()
    [row] = scheduled(gengine.store)
    assert row.state == "sent" and len(google.gmail.drafts_of(galice.email)) == 1
    clock.advance(seconds=gmail_config.lease_seconds + 3600)
    gengine.run_pass()
    assert scheduled(gengine.store)[0].state == "done"
    assert google.gmail.drafts_of(galice.email) == {}
    assert len(google.gmail.find(chiara.email, row.message_id)) == 1
