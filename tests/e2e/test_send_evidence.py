"""A bump whose SMTP hand-over broke off is settled by evidence, not left unconfirmed.

Every crash point of a send with a receipt copy (watcher.evidence, watcher.handover):
- before the final "." (the server drops the message): no copy arrives; after the grace the
  bump is sent again with the same Message-ID, exactly once in all;
- after the "." and before the database record (SIGKILL): the receipt copy is there, so the
  stage is recorded as sent and nothing goes out again;
- during the grace (a slow copy, a second watcher taking over): it waits, and a copy that
  arrives before the grace ends still counts as sent.
The receipt copy is only in the envelope, is filed away on arrival, and never counts as a reply
or sets a follow-up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.e2e.test_crash_safety import _two_days_ago, stage_state
from tests.e2e.test_watcher_e2e import add_followup, add_imap, bumps_sent_by, state_of, token_of
from tests.support.mailboxes import WrappedMailbox
from watcher.compose import bump_message_id
from watcher.engine import Engine
from watcher.models import FollowUp, TriggerItem
from watcher.store import Store

ROOT = Path(__file__).resolve().parents[2]


def connect_with_receipts(cli, world, user, *more):
    code, _, err = add_imap(
        cli, world, user, world.imap_settings(user)[1], "--name", user.name,
        "--send-evidence", "receipt", *more,
    )  # fmt: skip
    assert code == 0, err


@pytest.fixture
def alice(mail_world, cli):
    user = mail_world.new_user("alice")
    connect_with_receipts(cli, mail_world, user, "--save-sent", "never")
    code, _, err = cli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    return user


def receipt_of(user) -> str:
    local, _, domain = user.email.partition("@")
    return f"{local}+rw-receipt@{domain}"


def filed(world, user, message_id: str) -> int:
    """Copies filed away (Archive where the server has one, else Replywatch/Filed)."""
    folders = world.folders(user)
    name = "Archive" if "Archive" in folders else world.folder_name(user, "Replywatch/Filed")
    return world.count(user, name, message_id) if name in folders else 0


def kinds(store: Store, fid: int) -> list[str]:
    with store.session() as s:
        return [e.kind for e in store.events_for(s, fid)]


def details(store: Store, fid: int) -> list[str]:
    with store.session() as s:
        return [e.detail for e in store.events_for(s, fid)]


class DiesAfterTheHandOverBeforeTheDot(WrappedMailbox):
    """The real send (MAIL, RCPT with the receipt address, DATA, the whole message), the stage
    recorded as handed over, then the process 'dies' before the final ".": the server drops it."""

    def send(self, bump, before_commit=None):
        def record_then_die():
            before_commit()
            raise RuntimeError("killed between the hand-over record and the final dot")

        return self.inner.send(bump, record_then_die)


class DiesAfterTheDot(WrappedMailbox):
    """The server took the message (and its receipt copy); the process 'dies' before the
    record. The account keeps no Sent copy of its own (save_sent never), so only the receipt
    copy can tell."""

    def send(self, bump, before_commit=None):
        self.inner.send(bump, before_commit)
        raise SystemExit("killed after the server's 250, before the record")


def test_the_receipt_is_envelope_only_filed_away_and_never_a_reply(
    mail_world, alice, cli, config, clock
):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Envelope", "Hello?")
    fid = add_followup(cli, alice, mid, "--after", "3d", "--stage", "1w")
    store = Store.from_config(config)
    engine = Engine(store, config, clock=clock.now)
    engine.run_pass()
    clock.advance(days=3, minutes=1)
    assert engine.run_pass().sent == 1
    bump_id = bump_message_id(token_of(store, fid), 1, alice.email)
    (envelope,) = mail_world.sink.find(bump_id)
    assert envelope.rcpt_tos == [bob.email, receipt_of(alice)]  # one envelope, one more RCPT
    assert b"rw-receipt" not in envelope.content  # in no header: bob sees nothing of it
    assert mail_world.count(alice, "INBOX", bump_id) == 1  # the receipt copy arrived

    clock.advance(minutes=1)
    engine.run_pass()  # sees the copy: files it away, judges it as the user's own bump
    assert mail_world.count(alice, "INBOX", bump_id) == 0
    assert filed(mail_world, alice, bump_id) == 1
    assert state_of(store, fid) == "active"  # never a reply: stage 2 still waits
    assert "stopped" not in kinds(store, fid)
    assert [m.message_id for m in bumps_sent_by(mail_world, alice)] == [bump_id]  # no help mail
    with store.session() as s:
        (item,) = s.query(TriggerItem).filter_by(key=bump_id).all()
        assert (item.kind, item.state) == ("receipt", "done")


def test_mail_to_the_receipt_address_that_is_no_bump_stays_in_the_inbox(
    mail_world, alice, cli, config, clock
):
    eve = mail_world.new_user("eve")
    store = Store.from_config(config)
    engine = Engine(store, config, clock=clock.now)
    engine.run_pass()  # where the mailbox stands
    forged = mail_world.send(eve, [receipt_of(alice)], "Totally a receipt", "hi")
    engine.run_pass()
    engine.run_pass()
    assert mail_world.count(alice, "INBOX", forged) == 1  # left alone
    assert bumps_sent_by(mail_world, alice) == []  # and no help email about a "bad tag"
    with store.session() as s:
        (item,) = s.query(TriggerItem).filter_by(key=forged).all()
        assert item.state == "ignored"


def test_killed_before_the_dot_it_waits_the_grace_then_sends_once_with_the_same_id(
    mail_world, alice, cli, config, clock
):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Dropped", "?")
    fid = add_followup(cli, alice, mid, "--after", "3d")
    store = Store.from_config(config)
    dying = Engine(store, config, clock=clock.now, mailbox_factory=DiesAfterTheHandOverBeforeTheDot)
    dying.run_pass()
    clock.advance(days=3, minutes=1)
    assert dying.run_pass().account_faults == 1
    bump_id = bump_message_id(token_of(store, fid), 1, alice.email)
    assert mail_world.sink.count(bump_id) == 0  # the server dropped the unfinished message
    assert stage_state(store, fid) == "sending"

    clock.advance(seconds=config.lease_seconds + 1)  # a new watcher, inside the grace
    second = Engine(store, config.with_overrides(worker_id="second"), clock=clock.now)
    report = second.run_pass()
    assert report.sent == 0 and report.unconfirmed == 0
    assert stage_state(store, fid) == "sending"  # waiting for a copy that may be on its way
    assert kinds(store, fid)[-1] == "checking"

    clock.advance(seconds=config.receipt_grace_seconds)  # a third watcher, after the grace
    third = Engine(store, config.with_overrides(worker_id="third"), clock=clock.now)
    assert third.run_pass().sent == 1
    assert mail_world.sink.count(bump_id) == 1  # once, with the deterministic Message-ID
    assert mail_world.count(bob, "INBOX", bump_id) == 1
    assert stage_state(store, fid) == "sent" and state_of(store, fid) == "completed"
    history = kinds(store, fid)
    assert history.index("checking") < history.index("retry") < history.index("sent")
    assert "unconfirmed" not in history
    assert any("no copy arrived within 10 minutes" in d for d in details(store, fid))
    third.run_pass()
    assert mail_world.sink.count(bump_id) == 1


def test_killed_after_the_dot_the_receipt_copy_records_it_as_sent(
    mail_world, alice, cli, config, clock
):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Accepted", "?")
    fid = add_followup(cli, alice, mid, "--after", "3d")
    store = Store.from_config(config)
    dying = Engine(store, config, clock=clock.now, mailbox_factory=DiesAfterTheDot)
    dying.run_pass()
    clock.advance(days=3, minutes=1)
    with pytest.raises(SystemExit):
        dying.run_pass()
    bump_id = bump_message_id(token_of(store, fid), 1, alice.email)
    assert mail_world.sink.count(bump_id) == 1
    assert mail_world.count(alice, "Sent", bump_id) == 0  # Sent cannot tell here
    assert stage_state(store, fid) == "sending"

    clock.advance(seconds=config.lease_seconds + 1)
    report = Engine(store, config.with_overrides(worker_id="second"), clock=clock.now).run_pass()
    assert report.sent == 1 and report.unconfirmed == 0
    assert stage_state(store, fid) == "sent"
    assert any("its receipt copy arrived after a restart" in d for d in details(store, fid))
    clock.advance(seconds=config.receipt_grace_seconds * 2)
    Engine(store, config, clock=clock.now).run_pass()
    assert mail_world.sink.count(bump_id) == 1  # never again
    assert mail_world.count(bob, "INBOX", bump_id) == 1


def test_a_copy_that_arrives_late_but_within_the_grace_counts_as_sent(
    mail_world, alice, cli, config, clock
):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Slow delivery", "?")
    fid = add_followup(cli, alice, mid, "--after", "3d")
    store = Store.from_config(config)
    dying = Engine(store, config, clock=clock.now, mailbox_factory=DiesAfterTheDot)
    dying.run_pass()
    clock.advance(days=3, minutes=1)
    with pytest.raises(SystemExit):
        dying.run_pass()
    bump_id = bump_message_id(token_of(store, fid), 1, alice.email)
    with IMAPClient(mail_world.dovecot.host, mail_world.dovecot.port, ssl=False) as c:
        c.login(alice.email, alice.password)  # the copy is "still in the provider's queue"
        c.create_folder("Queue")
        c.select_folder("INBOX")
        c.move(c.search(["HEADER", "Message-ID", bump_id]), "Queue")

    clock.advance(seconds=config.lease_seconds + 1)
    assert Engine(store, config, clock=clock.now).run_pass().sent == 0
    assert stage_state(store, fid) == "sending" and kinds(store, fid)[-1] == "checking"

    with IMAPClient(mail_world.dovecot.host, mail_world.dovecot.port, ssl=False) as c:
        c.login(alice.email, alice.password)  # delivered, eight minutes late
        c.select_folder("Queue")
        c.move(c.search(["ALL"]), "INBOX")
    clock.advance(seconds=config.receipt_grace_seconds)
    assert Engine(store, config, clock=clock.now).run_pass().sent == 1
    assert stage_state(store, fid) == "sent"
    assert mail_world.sink.count(bump_id) == 1  # not sent again
    assert "retry" not in kinds(store, fid)


def test_without_evidence_it_is_still_asked_about(mail_world, cli, config, clock):
    """An account whose server gives no evidence (here: receipts off) keeps today's answer."""
    carol = mail_world.new_user("carol")
    code, _, err = add_imap(
        cli, mail_world, carol, mail_world.imap_settings(carol)[1], "--send-evidence", "none",
        "--save-sent", "never",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = cli("defaults", "--user", carol.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    bob = mail_world.new_user("bob")
    mid = mail_world.send(carol, [bob], "No evidence", "?")
    fid = add_followup(cli, carol, mid, "--after", "3d")
    store = Store.from_config(config)
    dying = Engine(store, config, clock=clock.now, mailbox_factory=DiesAfterTheDot)
    dying.run_pass()
    clock.advance(days=3, minutes=1)
    with pytest.raises(SystemExit):
        dying.run_pass()
    bump_id = bump_message_id(token_of(store, fid), 1, carol.email)
    assert mail_world.sink.find(bump_id)[0].rcpt_tos == [bob.email]  # no receipt asked
    clock.advance(seconds=config.lease_seconds + 1)
    report = Engine(store, config, clock=clock.now).run_pass()
    assert report.unconfirmed == 1 and stage_state(store, fid) == "unconfirmed"
    assert any("nothing can show whether it arrived" in d for d in details(store, fid))


def test_sigkill_after_the_server_took_it_is_settled_by_the_receipt(mail_world, alice, cli, config):
    """The real process, SIGKILLed inside the server's DATA reply (the message and its receipt
    copy delivered, the "250" never heard): the next watcher records it as sent."""
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Overdue", "Hello?", date=_two_days_ago())
    fid = add_followup(cli, alice, mid, "--after", "1d")
    store = Store.from_config(config)
    bump_id = bump_message_id(token_of(store, fid), 1, alice.email)
    env = {
        **os.environ,
        "REPLYWATCH_INSTANCE_DIR": str(config.instance_dir),
        "REPLYWATCH_WORKER_ID": "doomed-watcher",
        "REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS": "1",
        "REPLYWATCH_RETRY_WAIT_MAX": "0",
        "REPLYWATCH_SEND_JITTER_MINUTES": "0",
    }
    watcher = subprocess.Popen(
        [sys.executable, "-m", "watcher", "once"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def kill_the_watcher(envelope):
        if bump_id.encode() in envelope.content:
            watcher.send_signal(signal.SIGKILL)
            watcher.wait(10)

    mail_world.sink.on_data = kill_the_watcher
    try:
        output = watcher.communicate(timeout=60)[0].decode()
    finally:
        mail_world.sink.on_data = None
    assert watcher.returncode == -signal.SIGKILL, output
    assert stage_state(store, fid) == "sending"
    with store.session() as s:
        (stage,) = s.get(FollowUp, fid).stages
        assert stage.evidence == "receipt" and stage.handed_over_at is not None

    later = datetime.now(UTC) + timedelta(seconds=config.lease_seconds + 60)
    report = Engine(store, config, clock=lambda: later).run_pass()
    assert report.sent == 1 and report.unconfirmed == 0
    assert stage_state(store, fid) == "sent" and state_of(store, fid) == "completed"
    assert mail_world.sink.count(bump_id) == 1
    assert mail_world.count(bob, "INBOX", bump_id) == 1


def test_a_bounced_receipt_turns_receipts_off_and_never_fails_the_followup(
    mail_world, alice, cli, config, clock
):
    """A server that takes the receipt address and then bounces it has no plus-addresses: the
    follow-up goes on, and a later broken-off send of this account is asked about."""
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Bounced receipt", "?")
    fid = add_followup(cli, alice, mid, "--after", "3d", "--stage", "1w")
    store = Store.from_config(config)
    engine = Engine(store, config, clock=clock.now)
    engine.run_pass()
    clock.advance(days=3, minutes=1)
    assert engine.run_pass().sent == 1
    bump_id = bump_message_id(token_of(store, fid), 1, alice.email)
    receipt = receipt_of(alice)
    dsn = (
        "From: MAILER-DAEMON@example.test (Mail Delivery System)\r\n"
        f"To: {alice.email}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\nMessage-ID: <dsn-receipt@example.test>\r\n"
        f"Date: {clock.now().strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; example.test\r\n"
        f"\r\nFinal-Recipient: rfc822; {receipt}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {bump_id}\r\n"
        f"From: {alice.email}\r\nTo: {bob.email}\r\n--b--\r\n"
    )
    mail_world.deliver(alice, dsn)
    clock.advance(minutes=1)
    engine.run_pass()
    assert state_of(store, fid) == "active"  # not failed: bob got the bump
    assert any("only the receipt copy" in d for d in details(store, fid))
    with store.session() as s:
        account = store.find_account(s, alice.email)
        assert account.settings["send_evidence"] == "none"

    clock.advance(weeks=1, minutes=1)  # stage 2, killed after the server took it
    dying = Engine(store, config, clock=clock.now, mailbox_factory=DiesAfterTheDot)
    with pytest.raises(SystemExit):
        dying.run_pass()
    bump2 = bump_message_id(token_of(store, fid), 2, alice.email)
    assert mail_world.sink.find(bump2)[0].rcpt_tos == [bob.email]  # no receipt asked now
    clock.advance(seconds=config.lease_seconds + 1)
    assert Engine(store, config, clock=clock.now).run_pass().unconfirmed == 1
    assert stage_state(store, fid, 2) == "unconfirmed"
    assert mail_world.sink.count(bump2) == 1
