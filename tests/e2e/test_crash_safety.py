"""Exactly once through crashes: a watcher killed mid-send never leads to a second bump."""

from __future__ import annotations

import contextlib
import email.utils
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.test_watcher_e2e import add_followup, bumps_sent_by, connect, state_of, token_of
from tests.support.mailboxes import DiesAfterRecordingTheHandOver, WrappedMailbox
from watcher.compose import bump_message_id
from watcher.engine import Engine
from watcher.models import FollowUp, Stage
from watcher.store import Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def alice(mail_world, cli):
    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    code, _, err = cli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    return user


def _two_days_ago() -> str:
    return email.utils.format_datetime(datetime.now(UTC) - timedelta(days=2))


def stage_state(store: Store, followup_id: int, position: int = 1) -> str:
    with store.session() as s:
        followup = s.get(FollowUp, followup_id)
        return next(st.state for st in followup.stages if st.position == position)


def test_sigkill_between_smtp_acceptance_and_the_db_record_sends_nothing_more(
    mail_world, alice, cli, config
):
    bob = mail_world.new_user("bob")
    # Sent two days ago with a one-day delay: the bump is due the moment the watcher runs.
    mid = mail_world.send(alice, [bob], "Overdue", "Hello?", date=_two_days_ago())
    fid = add_followup(cli, alice, mid, "--after", "1d")
    store = Store.from_config(config)
    bump_id = bump_message_id(token_of(store, fid), 1, alice.email)

    env = {
        **os.environ,
        "REPLYWATCH_INSTANCE_DIR": str(config.instance_dir),
        "REPLYWATCH_WORKER_ID": "doomed-watcher",
        "REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS": "1",  # the test mail servers are local
        "REPLYWATCH_RETRY_WAIT_MAX": "0",
        "REPLYWATCH_SEND_JITTER_MINUTES": "0",
    }
    watcher = subprocess.Popen(
        [sys.executable, "-m", "watcher", "once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def kill_the_watcher(envelope):
        # The server has the whole message; the watcher dies before it hears "250".
        if bump_id.encode() in envelope.content:
            watcher.send_signal(signal.SIGKILL)
            watcher.wait(10)

    mail_world.sink.on_data = kill_the_watcher
    try:
        output = watcher.communicate(timeout=60)[0].decode()
    finally:
        mail_world.sink.on_data = None
    assert watcher.returncode == -signal.SIGKILL, output
    assert mail_world.sink.count(bump_id) == 1
    assert stage_state(store, fid) == "sending"  # the record never happened

    # The next run, once the dead watcher's lease has run out.
    later = datetime.now(UTC) + timedelta(seconds=config.lease_seconds + 60)
    engine = Engine(store, config, clock=lambda: later)
    report = engine.run_pass()
    engine.run_pass()
    assert report.sent == 0 and report.unconfirmed == 1
    assert mail_world.sink.count(bump_id) == 1  # still exactly one
    assert mail_world.count(bob, "INBOX", bump_id) == 1
    assert stage_state(store, fid) == "unconfirmed"
    assert state_of(store, fid) == "completed"
    code, out, _ = cli("followup", "show", str(fid))
    assert code == 0 and "not sent again" in out


class CrashAfterSend(WrappedMailbox):
    """The real mailbox, but the process 'dies' right after the send went through."""

    def send(self, bump, before_commit=None):
        self.inner.send(bump, before_commit)
        raise SystemExit("killed after the copy reached Sent, before the record")


def test_crash_after_the_copy_reached_sent_is_recorded_as_sent_not_resent(
    mail_world, alice, cli, config, clock
):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Status", "Any update?")
    fid = add_followup(cli, alice, mid, "--after", "3d")
    store = Store.from_config(config)
    crashing = Engine(store, config, clock=clock.now, mailbox_factory=CrashAfterSend)
    crashing.run_pass()
    clock.advance(days=3, minutes=1)
    with pytest.raises(SystemExit):
        crashing.run_pass()
    bump_id = bump_message_id(token_of(store, fid), 1, alice.email)
    assert mail_world.sink.count(bump_id) == 1
    assert stage_state(store, fid) == "sending"

    clock.advance(seconds=config.lease_seconds + 1)
    restarted = Engine(store, config.with_overrides(worker_id="second"), clock=clock.now)
    report = restarted.run_pass()
    assert report.sent == 1  # recorded from the copy in Sent
    assert mail_world.sink.count(bump_id) == 1
    assert stage_state(store, fid) == "sent"
    with store.session() as s:
        details = [e.detail for e in store.events_for(s, fid)]
    assert any("found in Sent after a restart" in d for d in details)


def test_a_second_watcher_cannot_take_a_leased_followup(mail_world, alice, cli, config, clock):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Leases", "?")
    fid = add_followup(cli, alice, mid, "--after", "3d")
    store = Store.from_config(config)
    clock.advance(days=3, minutes=1)
    assert store.claim_due("first", clock.now(), timedelta(minutes=5), 10) == [fid]
    other = Engine(store, config.with_overrides(worker_id="second"), clock=clock.now)
    report = other.run_pass()
    assert report.sent == 0
    assert bumps_sent_by(mail_world, alice) == []
    with store.session() as s:
        assert s.get(Stage, s.get(FollowUp, fid).stages[0].id).state == "pending"


class CrashBeforeTheDot(CrashAfterSend):
    """The process 'dies' with the whole message written but the final "." not yet sent."""

    def send(self, bump, before_commit=None):
        def die():
            raise SystemExit("killed just before the point of no return")

        return self.inner.send(bump, die)


def test_crash_before_the_final_dot_loses_nothing_and_sends_once(
    mail_world, alice, cli, config, clock
):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Dot", "?")
    fid = add_followup(cli, alice, mid, "--after", "3d")
    store = Store.from_config(config)
    crashing = Engine(store, config, clock=clock.now, mailbox_factory=CrashBeforeTheDot)
    crashing.run_pass()
    clock.advance(days=3, minutes=1)
    with pytest.raises(SystemExit):
        crashing.run_pass()
    bump_id = bump_message_id(token_of(store, fid), 1, alice.email)
    assert mail_world.sink.count(bump_id) == 0  # the server dropped the unfinished message
    assert stage_state(store, fid) == "pending"  # so it is still owed

    clock.advance(seconds=config.lease_seconds + 1)
    report = Engine(store, config.with_overrides(worker_id="second"), clock=clock.now).run_pass()
    assert report.sent == 1
    assert mail_world.sink.count(bump_id) == 1
    assert stage_state(store, fid) == "sent"


def test_lease_is_renewed_while_a_slow_server_holds_up_a_send(mail_world, alice, cli, config):
    """A step slower than the lease keeps its claim: no second watcher joins in."""
    import threading

    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Slow", "?", date=_two_days_ago())
    fid = add_followup(cli, alice, mid, "--after", "1d")
    config = config.with_overrides(lease_seconds=0.6)
    store = Store.from_config(config)
    entered, gate = threading.Event(), threading.Event()

    calls = []

    class SlowServer(CrashAfterSend):
        def thread(self, key):
            calls.append(key)
            if len(calls) == 2:  # the re-read right before sending, under the lease
                entered.set()
                gate.wait(20)  # the server hangs until the test has seen what it needs
            return self.inner.thread(key)

        def send(self, bump, before_commit=None):
            return self.inner.send(bump, before_commit)

    engine = Engine(store, config, mailbox_factory=SlowServer)  # the real clock
    worker = threading.Thread(target=engine.run_pass)
    worker.start()
    try:
        assert entered.wait(20)
        with store.session() as s:
            first_lease = s.get(FollowUp, fid).lease_until
        deadline = first_lease + timedelta(seconds=config.lease_seconds)
        while datetime.now(UTC) < deadline:  # past the first lease's end, on the wall clock
            gate.wait(0.05)
        with store.session() as s:
            assert s.get(FollowUp, fid).lease_until > first_lease  # renewed meanwhile
        intruder = store.claim_due("intruder", datetime.now(UTC), timedelta(minutes=5), 10)
        assert intruder == []
    finally:
        gate.set()
        worker.join(30)
    assert stage_state(store, fid) == "sent"
    bump_id = bump_message_id(token_of(store, fid), 1, alice.email)
    assert mail_world.sink.count(bump_id) == 1


def test_a_database_restored_from_before_the_send_does_not_send_the_bump_again(
    mail_world, alice, cli, config
):
    """The bump is in the thread; the restored database says it was never tried."""
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Backup", "Hello?", date=_two_days_ago())
    fid = add_followup(cli, alice, mid, "--after", "1d")
    db = str(Path(config.instance_dir) / "replywatch.db")
    backup = sqlite3.connect(":memory:")
    with contextlib.closing(sqlite3.connect(db)) as live:
        live.backup(backup)  # taken before the watcher ran (SQLite's online backup)
    store = Store.from_config(config)
    bump_id = bump_message_id(token_of(store, fid), 1, alice.email)
    engine = Engine(store, config, clock=lambda: datetime.now(UTC) + timedelta(hours=1))
    assert engine.run_pass().sent == 1
    store.dispose()

    with contextlib.closing(sqlite3.connect(db)) as live:
        backup.backup(live)  # the self-hoster restores last night's backup
    store = Store.from_config(config)
    assert stage_state(store, fid) == "pending"
    report = Engine(store, config, clock=lambda: datetime.now(UTC) + timedelta(hours=2)).run_pass()
    assert report.sent == 1  # recorded, not sent
    assert stage_state(store, fid) == "sent"
    assert [m.message_id for m in bumps_sent_by(mail_world, alice)] == [bump_id]
    assert mail_world.count(alice, "Sent", bump_id) == 1
    with store.session() as s:
        details = [e.detail for e in s.get(FollowUp, fid).events]
    assert any("already in the thread" in d for d in details), details
    store.dispose()


def _unconfirmed_bump(mail_world, alice, cli, config, subject):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], subject, "Hello?", date=_two_days_ago())
    fid = add_followup(cli, alice, mid, "--after", "1d")
    store = Store.from_config(config)
    later = datetime.now(UTC) + timedelta(hours=1)
    dying = Engine(
        store, config, clock=lambda: later, mailbox_factory=DiesAfterRecordingTheHandOver
    )
    assert dying.run_pass().account_faults == 1
    Engine(store, config, clock=lambda: later + timedelta(hours=1)).run_pass()  # recovery
    assert stage_state(store, fid) == "unconfirmed"
    assert bumps_sent_by(mail_world, alice) == []  # the server dropped it
    return store, fid


def test_an_unconfirmed_bump_is_sent_again_only_on_the_users_word(mail_world, alice, cli, config):
    store, fid = _unconfirmed_bump(mail_world, alice, cli, config, "Lost at the dot")
    bump_id = bump_message_id(token_of(store, fid), 1, alice.email)
    Engine(store, config, clock=lambda: datetime.now(UTC) + timedelta(days=1)).run_pass()
    assert bumps_sent_by(mail_world, alice) == []  # never resent on its own
    code, out, err = cli("followup", "unconfirmed", str(fid), "--resend")
    assert code == 0 and "goes out again" in out, err
    Engine(store, config, clock=lambda: datetime.now(UTC) + timedelta(days=1)).run_pass()
    assert [m.message_id for m in bumps_sent_by(mail_world, alice)] == [bump_id]
    assert stage_state(store, fid) == "sent"
    with store.session() as s:
        f = s.get(FollowUp, fid)
        assert f.state == "completed"
        kinds = [e.kind for e in f.events]
    assert kinds.index("unconfirmed") < kinds.index("resend") < kinds.index("sent")
    code, _, err = cli("followup", "unconfirmed", str(fid), "--resend")
    assert code != 0 and "waiting for your word" in err  # settled: nothing more to decide
    store.dispose()


def test_an_unconfirmed_bump_the_user_saw_go_out_is_recorded_as_sent(
    mail_world, alice, cli, config
):
    store, fid = _unconfirmed_bump(mail_world, alice, cli, config, "It did go out")
    code, out, err = cli("followup", "unconfirmed", str(fid), "--went-out")
    assert code == 0 and "recorded as sent" in out, err
    assert stage_state(store, fid) == "sent"
    Engine(store, config, clock=lambda: datetime.now(UTC) + timedelta(days=1)).run_pass()
    assert bumps_sent_by(mail_world, alice) == []
    store.dispose()
