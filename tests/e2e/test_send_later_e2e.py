"""Send later, end to end on Dovecot + the SMTP sink: a draft saved with the user's
me+later-…@… in Bcc is sent by the real engine at its time, exactly once, unless the person
wrote first; the faces (watcher.later.actions) cancel, move and send now; crashes at each step
lead to zero or one message, never two. The Gmail emulator versions are in
test_send_later_gmail_e2e.py."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.e2e.test_triggers_e2e import account_events, followups, plus
from tests.e2e.test_watcher_e2e import connect
from tests.support.mailboxes import DiesAfterRecordingTheHandOver, WrappedMailbox
from watcher.compose import bump_message_id, trigger_help_message_id
from watcher.engine import Engine
from watcher.later import actions
from watcher.later.model import ScheduledSend
from watcher.store import Store

ROOT = Path(__file__).resolve().parents[2]
CHIARA_TEXT = "Hey Chiara, following up on our conversation two weeks ago. How's it going?"


@pytest.fixture
def alice(mail_world, cli):
    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    code, _, err = cli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    code, _, err = cli("account", "triggers", user.email, "on")  # drafts are read on opt-in
    assert code == 0, err
    return user


def scheduled(store: Store) -> list[ScheduledSend]:
    with store.session() as s:
        return list(s.scalars(select(ScheduledSend).order_by(ScheduledSend.id)))


def later_events(store: Store) -> list[tuple[str, str]]:
    return [(k, d) for k, d in account_events(store) if k.startswith("later_")]


def schedule_draft(world, engine, user, to, tag="later-2w", subject="Catching up", **kw) -> str:
    """The user writes the message, addresses it, puts the tag in Bcc and closes the draft."""
    draft = world.save_draft(user, to, subject, CHIARA_TEXT, bcc=[plus(user, tag)], **kw)
    engine.run_pass()
    return draft


def test_a_tagged_draft_is_sent_on_time_from_the_users_account(mail_world, alice, engine, clock):
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    draft = schedule_draft(mail_world, engine, alice, [chiara])
    [row] = scheduled(engine.store)
    assert row.state == "scheduled" and row.recipients == [chiara.email]
    assert row.send_at == clock.now() + timedelta(weeks=2)
    [(kind, detail)] = later_events(engine.store)
    assert kind == "later_scheduled" and "unless a recipient writes to you first" in detail
    clock.advance(days=13)
    engine.run_pass()
    assert mail_world.sink.count(row.message_id) == 0  # not before its time
    clock.advance(days=1, minutes=1)
    engine.run_pass()
    engine.run_pass()
    [sent] = mail_world.sink.find(row.message_id)
    assert sent.rcpt_tos == [chiara.email]  # the tag address was only a marker
    content = sent.content.decode()
    assert "later-2w" not in content and "Bcc:" not in content
    assert CHIARA_TEXT in content
    assert mail_world.count(chiara, "INBOX", row.message_id) == 1
    assert mail_world.count(alice, "Sent", row.message_id) == 1  # where she expects it
    assert mail_world.count(alice, "Drafts", draft) == 0  # the draft went: its text is sent
    [row] = scheduled(engine.store)
    assert row.state == "done"
    assert "later_sent" in [k for k, _ in later_events(engine.store)]


def test_not_sent_when_the_person_wrote_first_in_another_thread(mail_world, alice, engine, clock):
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    draft = schedule_draft(mail_world, engine, alice, [chiara])
    clock.advance(days=3)
    theirs = mail_world.send(chiara, [alice], "Quick question", "Are you free on Friday?")
    engine.run_pass()
    clock.advance(days=12)
    engine.run_pass()
    [row] = scheduled(engine.store)
    assert row.state == "held"
    assert mail_world.sink.count(row.message_id) == 0
    assert mail_world.count(alice, "Drafts", draft) == 1  # kept, untouched
    held = [d for k, d in later_events(engine.store) if k == "later_held"]
    assert len(held) == 1 and "wrote to you first" in held[0] and "Quick question" in held[0]
    assert "\\Flagged" in mail_world.flags(alice, "INBOX", theirs)  # back in her sight
    engine.run_pass()
    assert mail_world.sink.count(row.message_id) == 0


def test_always_sends_even_after_they_wrote(mail_world, alice, engine, clock):
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    schedule_draft(mail_world, engine, alice, [chiara], tag="later-2d-always")
    clock.advance(days=1)
    mail_world.send(chiara, [alice], "Hi", "Hello there")
    clock.advance(days=1, minutes=1)
    engine.run_pass()
    [row] = scheduled(engine.store)
    assert mail_world.sink.count(row.message_id) == 1 and row.state == "done"


def test_the_user_cancels_and_the_draft_stays(mail_world, alice, engine, clock):
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    draft = schedule_draft(mail_world, engine, alice, [chiara])
    [row] = scheduled(engine.store)
    with engine.store.session() as s:
        actions.cancel(engine.store, s, row.user_id, row.id, clock.now())
    clock.advance(days=15)
    engine.run_pass()
    assert mail_world.sink.count(row.message_id) == 0
    assert mail_world.count(alice, "Drafts", draft) == 1
    assert scheduled(engine.store)[0].state == "cancelled"
    assert "later_cancelled" in [k for k, _ in later_events(engine.store)]


def test_send_now_and_move(mail_world, alice, engine, clock):
    chiara = mail_world.new_user("chiara")
    dan = mail_world.new_user("dan")
    engine.run_pass()
    schedule_draft(mail_world, engine, alice, [chiara], subject="First")
    schedule_draft(mail_world, engine, alice, [dan], subject="Second")
    first, second = scheduled(engine.store)
    clock.advance(minutes=5)
    with engine.store.session() as s:
        actions.send_now(engine.store, s, first.user_id, first.id, clock.now())
        actions.move(engine.store, s, second.user_id, second.id, "3d", clock.now())
    engine.run_pass()
    assert mail_world.sink.count(first.message_id) == 1
    assert mail_world.sink.count(second.message_id) == 0
    clock.advance(days=3, minutes=1)
    engine.run_pass()
    assert mail_world.sink.count(second.message_id) == 1
    assert [r.state for r in scheduled(engine.store)] == ["done", "done"]


def test_then_a_followup_starts_when_it_is_sent(mail_world, alice, engine, clock):
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    schedule_draft(mail_world, engine, alice, [chiara], tag="later-2d-then-1w")
    clock.advance(days=2, minutes=1)
    engine.run_pass()
    [row] = scheduled(engine.store)
    [followup] = followups(engine.store)
    assert row.followup_id == followup.id
    assert followup.anchor_message_id == row.message_id
    assert followup.origin == f"send later {plus(alice, 'later-2d-then-1w')}"
    assert followup.to_addrs == [chiara.email]
    clock.advance(weeks=1, minutes=1)
    engine.run_pass()
    bump = bump_message_id(followup.token, 1, alice.email)
    [sent] = mail_world.sink.find(bump)
    assert sent.rcpt_tos == [chiara.email]
    assert row.message_id in sent.content.decode()  # in the same thread


def test_a_newer_version_of_the_draft_is_the_one_sent(mail_world, alice, engine, clock):
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    draft = schedule_draft(mail_world, engine, alice, [chiara], tag="later-1d")
    # The client saves the edited draft again: same Message-ID, the old copy expunged.
    with mail_world._imap(alice) as c:
        c.select_folder("Drafts")
        c.delete_messages(c.search(["ALL"]))
        c.expunge()
    mail_world.save_draft(
        alice, [chiara], "Catching up", "Edited text.", bcc=[plus(alice, "later-1d")],
        message_id=draft,
    )  # fmt: skip
    clock.advance(hours=23, minutes=59, seconds=30)
    engine.run_pass()  # the newer version is seen 30 seconds before the time
    [row] = scheduled(engine.store)
    clock.advance(seconds=40)
    engine.run_pass()  # due, but saved less than a minute ago: it waits
    assert mail_world.sink.count(row.message_id) == 0
    waiting = [d for k, d in later_events(engine.store) if k == "later_waiting"]
    assert len(waiting) == 1 and "less than a minute ago" in waiting[0]
    clock.advance(seconds=30)
    engine.run_pass()
    [sent] = mail_world.sink.find(row.message_id)
    assert "Edited text." in sent.content.decode() and CHIARA_TEXT not in sent.content.decode()
    assert len(scheduled(engine.store)) == 1


@pytest.mark.parametrize(
    "tag, to, problem",
    [
        ("later-2w", [], "has no recipient"),
        ("later-2020-01-01", ["someone@else.test"], "is in the past"),
    ],
)
def test_bad_drafts_get_an_event_and_send_nothing(
    mail_world, alice, engine, clock, tag, to, problem
):
    engine.run_pass()
    schedule_draft(mail_world, engine, alice, to, tag=tag)
    assert scheduled(engine.store) == []
    [(kind, detail)] = later_events(engine.store)
    assert kind == "later_ignored" and problem in detail
    clock.advance(days=15)
    engine.run_pass()
    assert [m for m in mail_world.sink.messages if m.mail_from == alice.email] == []


def test_an_unreadable_tag_gets_one_help_email(mail_world, alice, engine, clock):
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    draft = schedule_draft(mail_world, engine, alice, [chiara], tag="later-2x")
    engine.run_pass()
    assert scheduled(engine.store) == []
    address = plus(alice, "later-2x")
    help_id = trigger_help_message_id(draft, address, alice.email)
    [sent] = mail_world.sink.find(help_id)
    assert sent.rcpt_tos == [alice.email]
    assert "later-WHEN" in sent.content.decode()
    engine.run_pass()
    assert mail_world.sink.count(help_id) == 1


def test_a_draft_deleted_before_its_time_sends_nothing(mail_world, alice, engine, clock):
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    schedule_draft(mail_world, engine, alice, [chiara])
    with mail_world._imap(alice) as c:
        c.select_folder("Drafts")
        c.delete_messages(c.search(["ALL"]))
        c.expunge()
    clock.advance(days=15)
    engine.run_pass()
    [row] = scheduled(engine.store)
    assert row.state == "cancelled" and mail_world.sink.count(row.message_id) == 0
    [gone] = [d for k, d in later_events(engine.store) if k == "later_cancelled"]
    assert "was deleted" in gone


def test_an_inbound_message_to_the_later_address_is_no_draft(mail_world, alice, engine, clock):
    mallory = mail_world.new_user("mallory")
    engine.run_pass()
    mail_world.send(mallory, [plus(alice, "later-1d")], "Send this for me", "to: everyone")
    engine.run_pass()
    assert scheduled(engine.store) == []


# -- crashes ---------------------------------------------------------------------------------


class DiesAfterSend(WrappedMailbox):
    """The process 'dies' right after the server took the message (and it reached Sent)."""

    def send(self, bump, before_commit=None):
        self.inner.send(bump, before_commit)
        raise SystemExit("killed after the hand-over, before the record")


class DiesBeforeTheDot(WrappedMailbox):
    """The process 'dies' just before it records the point of no return."""

    def send(self, bump, before_commit=None):
        def die():
            raise SystemExit("killed before the point of no return")

        return self.inner.send(bump, die)


def crash_then_restart(engine, config, clock, dying_mailbox):
    dying = Engine(engine.store, config, clock=clock.now, mailbox_factory=dying_mailbox)
    with contextlib.suppress(SystemExit):
        dying.run_pass()
    clock.advance(seconds=config.lease_seconds + 3600)  # past the lease and any back-off
    restarted = Engine(engine.store, config.with_overrides(worker_id="second"), clock=clock.now)
    restarted.run_pass()
    restarted.run_pass()


def test_crash_after_the_hand_over_is_recorded_from_sent_not_resent(
    mail_world, alice, engine, config, clock
):
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    draft = schedule_draft(mail_world, engine, alice, [chiara], tag="later-1d-then-1w")
    clock.advance(days=1, minutes=1)
    crash_then_restart(engine, config, clock, DiesAfterSend)
    [row] = scheduled(engine.store)
    assert mail_world.sink.count(row.message_id) == 1
    assert row.state == "done" and row.followup_id is not None  # the follow-up too, once
    assert len(followups(engine.store)) == 1
    assert mail_world.count(alice, "Drafts", draft) == 0


def test_crash_before_the_point_of_no_return_sends_it_once_later(
    mail_world, alice, engine, config, clock
):
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    schedule_draft(mail_world, engine, alice, [chiara], tag="later-1d")
    clock.advance(days=1, minutes=1)
    crash_then_restart(engine, config, clock, DiesBeforeTheDot)
    [row] = scheduled(engine.store)
    assert mail_world.sink.count(row.message_id) == 1 and row.state == "done"


def test_crash_between_marking_and_the_dot_is_unconfirmed_never_doubled(
    mail_world, alice, engine, config, clock
):
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    draft = schedule_draft(mail_world, engine, alice, [chiara], tag="later-1d")
    clock.advance(days=1, minutes=1)
    crash_then_restart(engine, config, clock, DiesAfterRecordingTheHandOver)
    [row] = scheduled(engine.store)
    # SMTP cannot prove it did not go out: never a second copy, and the user is told.
    assert mail_world.sink.count(row.message_id) == 0 and row.state == "unconfirmed"
    assert mail_world.count(alice, "Drafts", draft) == 1
    [told] = [d for k, d in later_events(engine.store) if k == "later_unconfirmed"]
    assert "not sent again" in told


def test_sigkill_after_the_server_took_it_never_sends_a_second_copy(
    mail_world, alice, engine, config, cli
):
    """A real `python -m watcher once` killed (SIGKILL) inside DATA, on the wall clock."""
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    mail_world.save_draft(
        alice, [chiara], "Catching up", CHIARA_TEXT, bcc=[plus(alice, "later-1d")]
    )
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    Engine(engine.store, config, clock=lambda: two_days_ago).run_pass()  # scheduled back then
    [row] = scheduled(engine.store)
    env = {
        **os.environ,
        "REPLYWATCH_INSTANCE_DIR": str(config.instance_dir),
        "REPLYWATCH_WORKER_ID": "doomed-watcher",
        "REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS": "1",  # the test mail servers are local
        "REPLYWATCH_RETRY_WAIT_MAX": "0",
    }
    watcher = subprocess.Popen(
        [sys.executable, "-m", "watcher", "once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def kill_the_watcher(envelope):
        if row.message_id.encode() in envelope.content:  # the server has it all: die now
            watcher.send_signal(signal.SIGKILL)
            watcher.wait(10)

    mail_world.sink.on_data = kill_the_watcher
    try:
        output = watcher.communicate(timeout=60)[0].decode()
    finally:
        mail_world.sink.on_data = None
    assert watcher.returncode == -signal.SIGKILL, output
    assert scheduled(engine.store)[0].state == "sending"  # the record never happened
    later = datetime.now(UTC) + timedelta(seconds=config.lease_seconds + 60)
    restarted = Engine(engine.store, config, clock=lambda: later)
    restarted.run_pass()
    restarted.run_pass()
    assert mail_world.sink.count(row.message_id) == 1  # still exactly one
    assert scheduled(engine.store)[0].state == "unconfirmed"
    code, out, _ = cli("later", "show", str(row.id))
    assert code == 0 and "not sent again" in out


def test_the_cli_lists_moves_cancels_and_sends_now(mail_world, alice, engine, cli, clock):
    chiara = mail_world.new_user("chiara")
    dan = mail_world.new_user("dan")
    engine.run_pass()
    draft = schedule_draft(mail_world, engine, alice, [chiara], subject="To Chiara")
    schedule_draft(mail_world, engine, alice, [dan], tag="later-1w-then-3d", subject="To Dan")
    first, second = scheduled(engine.store)
    code, out, err = cli("later", "list", "--user", alice.email)
    assert code == 0, err
    assert "To Chiara" in out and "To Dan" in out and chiara.email in out
    code, out, _ = cli("later", "show", str(second.id))
    assert code == 0 and "follow up if no reply (3d)" in out and "kept as a draft" in out
    code, out, err = cli("later", "move", str(second.id), "2d")
    assert code == 0, err
    code, out, err = cli("later", "then", str(second.id), "2w-remind")
    assert code == 0 and "a follow-up (2w-remind)" in out, err
    code, out, err = cli("later", "then", str(second.id), "2x")
    assert code == 2 and "'2x' is not a delay or a day" in err
    code, out, err = cli("later", "then", str(second.id), "none")
    assert code == 0 and "no follow-up" in out, err
    code, out, err = cli("later", "then", str(second.id), "3d")
    assert code == 0, err
    code, out, err = cli("later", "cancel", str(first.id))
    assert code == 0 and "the draft stays" in out, err
    code, _, err = cli("later", "move", str(first.id), "1d")  # cancelled: history now
    assert code == 2 and "cannot be moved" in err
    assert scheduled(engine.store)[0].state == "cancelled"
    clock.advance(minutes=2)
    engine.run_pass()
    assert mail_world.sink.count(second.message_id) == 0
    code, out, err = cli("later", "send-now", str(second.id))
    assert code == 0, err
    engine.run_pass()
    assert mail_world.sink.count(second.message_id) == 1
    code, out, err = cli("later", "send-now", str(second.id))
    assert code == 2 and "cannot be sent now" in err  # it is history now
    code, out, _ = cli("later", "list")
    assert "To Dan" not in out
    code, out, _ = cli("later", "list", "--all")
    assert "To Dan" in out and "done" in out
    assert mail_world.count(alice, "Drafts", draft) == 1


def test_send_later_on_sqlite_and_postgresql_with_two_watchers(mail_world, cli, db_config, clock):
    """The claim is one statement (FOR UPDATE SKIP LOCKED on PostgreSQL), the queries run on
    both databases, and a second watcher after the first sends nothing more."""
    env = {"DATABASE_URL": db_config.database_url}
    alice = mail_world.new_user("alice")
    settings, password = mail_world.imap_settings(alice)
    code, _, err = cli(
        "account", "add-imap", "--email", alice.email,
        "--imap-host", settings["imap_host"], "--imap-port", str(settings["imap_port"]),
        "--imap-security", "none", "--smtp-host", settings["smtp_host"],
        "--smtp-port", str(settings["smtp_port"]), "--smtp-security", "none",
        env={**env, "REPLYWATCH_IMAP_PASSWORD": password},
    )  # fmt: skip
    assert code == 0, err
    for args in (
        ("defaults", "--user", alice.email, "--days", "mon-sun", "--hours", "0-24"),
        ("account", "triggers", alice.email, "on"),
    ):
        code, _, err = cli(*args, env=env)
        assert code == 0, err
    store = Store.from_config(db_config)
    first = Engine(store, db_config, clock=clock.now)
    second = Engine(store, db_config.with_overrides(worker_id="second"), clock=clock.now)
    try:
        chiara = mail_world.new_user("chiara")
        first.run_pass()
        schedule_draft(mail_world, first, alice, [chiara], tag="later-1d")
        [row] = scheduled(store)
        clock.advance(days=1, minutes=1)
        assert first.store.is_postgres == db_config.database_url.startswith("postgresql")
        second.run_pass()
        first.run_pass()
        assert mail_world.sink.count(row.message_id) == 1
        assert scheduled(store)[0].state == "done"
    finally:
        store.dispose()


@pytest.mark.now("2026-11-25T10:00:00+00:00")  # a Wednesday
def test_in_the_recipients_working_hours_when_chosen(mail_world, alice, engine, cli, clock):
    chiara = mail_world.new_user("chiara")
    for args in (
        ("defaults", "--user", alice.email, "--timezone", "UTC", "--window", "recipient"),
        ("recipient", "zone", "--account", alice.email, "--address", chiara.email,
         "--zone", "America/Los_Angeles"),
    ):  # fmt: skip
        code, _, err = cli(*args)
        assert code == 0, err
    engine.run_pass()
    schedule_draft(mail_world, engine, alice, [chiara], tag="later-1d")
    [row] = scheduled(engine.store)
    # A day on is Thursday 10:00 UTC, 02:00 in Los Angeles, and that Thursday is Thanksgiving
    # (their public holiday): it waits for Friday 09:00 there.
    assert row.send_at == datetime(2026, 11, 27, 17, 0, tzinfo=UTC)


class DiesBeforeDeletingTheDraft(WrappedMailbox):
    def discard_draft(self, ref):
        raise SystemExit("killed after the record, before the draft was deleted")


def test_crash_before_the_draft_is_deleted_deletes_it_later_and_sends_nothing_more(
    mail_world, alice, engine, config, clock
):
    chiara = mail_world.new_user("chiara")
    engine.run_pass()
    draft = schedule_draft(mail_world, engine, alice, [chiara], tag="later-1d")
    clock.advance(days=1, minutes=1)
    crash_then_restart(engine, config, clock, DiesBeforeDeletingTheDraft)
    [row] = scheduled(engine.store)
    assert row.state == "done" and mail_world.sink.count(row.message_id) == 1
    assert mail_world.count(alice, "Drafts", draft) == 0
