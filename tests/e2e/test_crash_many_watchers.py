"""Several watcher processes on one PostgreSQL, killed at random: still exactly once.

1,000 follow-ups across 50 IMAP accounts on Dovecot; 3 `python -m watcher run` processes; a
controller SIGKILLs a random watcher every couple of seconds and starts a new one. Meanwhile
replies land on 50 follow-ups that are not due yet. At the end every due bump reached the SMTP
server exactly once, none is left unconfirmed (a kill between recording the hand-over and SMTP's
final "." is settled by the receipt copy, watcher.evidence: none arrived within the grace, so it
was sent again), no replied thread got a bump, and every history reads consistently.
"""

from __future__ import annotations

import email.utils
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from watcher import followups as fu_ops
from watcher.compose import bump_message_id
from watcher.mailbox import MessageSummary
from watcher.models import Account, FollowUp, FollowUpState, Stage, StageState
from watcher.store import Store

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = 50
PER_ACCOUNT = 20
REPLIED_PER_ACCOUNT = 1  # due later; the reply arrives first
WATCHERS = 3
KILL_EVERY = 2.0  # seconds between SIGKILLs
# Seconds for the whole run (2 cores, shared with Dovecot and PostgreSQL, and with other test
# runs): a hang guard, not a speed goal. Each bump's receipt copy is delivered, read and filed
# away too: a pass that sends 40 bumps took 5-7 s without receipts and 8-9 s with them, and
# the next pass (filing the 40 copies) 1-2 s instead of 0.1 s, on this shared machine.
DEADLINE = 1200.0


def _raw(sender: str, to: str, subject: str, msgid: str, date: datetime, **extra) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = email.utils.format_datetime(date)
    msg["Message-ID"] = msgid
    for name, value in extra.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("text\n")
    return msg.as_bytes()


def seed(world, store, now):
    """50 accounts, each with 20 sent messages and a follow-up on each."""
    plan = []  # (followup_id, account user, anchor id, will_reply)
    for a in range(ACCOUNTS):
        user = world.new_user(f"w{a}")
        spec = world.account_spec(user)
        anchors = []
        with IMAPClient(world.dovecot.host, world.dovecot.port, ssl=False) as c:
            c.login(user.email, user.password)
            for i in range(PER_ACCOUNT):
                msgid = f"<a{a}-{i}@example.test>"
                to = f"r{a}-{i}@elsewhere.test"
                c.append(
                    "Sent", _raw(user.email, to, f"Offer {a}-{i}", msgid, now - timedelta(days=2))
                )
                anchors.append((msgid, to, i < REPLIED_PER_ACCOUNT))
        with store.session() as s:
            owner = store.get_or_create_user(s, user.email)
            owner.send_days, owner.send_hours = "mon-sun", "00:00-24:00"
            account = store.add_account(
                s, owner, kind="imap", email=user.email,
                settings={**spec.settings, "send_evidence": "receipt"},  # Dovecot takes user+tag@
                secret=spec.secret, now=now,
            )  # fmt: skip
            for msgid, to, will_reply in anchors:
                anchor = MessageSummary(
                    ref="", message_id=msgid, subject="Offer", from_addr=user.email, to=(to,),
                    date=now - timedelta(days=2), in_sent=True,
                )  # fmt: skip
                # Replied ones are due in a minute; the rest are due at once.
                stage = (
                    fu_ops.StageSpec(at=now + timedelta(seconds=60))
                    if will_reply
                    else fu_ops.StageSpec(delay=fu_ops.schedule.parse_delay("1d"))
                )
                f = fu_ops.create_followup(
                    store, s, account=account, anchor=anchor, stages=[stage], now=now
                )
                plan.append((f.id, user, msgid, to, will_reply))
    return plan


def start_watcher(env, logs: Path, n: int) -> subprocess.Popen:
    log = open(logs / f"watcher-{n}.log", "wb")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, "-m", "watcher", "run"], cwd=ROOT, env=env, stdout=log, stderr=log
    )


@pytest.mark.timeout(1400)
def test_random_sigkills_across_three_watchers_keep_exactly_once(
    mail_world, pg_url, config, tmp_path
):
    now = datetime.now(UTC)
    store = Store(pg_url, config.encryption_keys)
    plan = seed(mail_world, store, now)
    assert len(plan) == ACCOUNTS * PER_ACCOUNT

    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "REPLYWATCH_INSTANCE_DIR": str(config.instance_dir),
        "REPLYWATCH_POLL_INTERVAL": "0.5",
        "REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS": "1",  # the test mail servers are local
        "REPLYWATCH_LEASE_SECONDS": "3",
        "REPLYWATCH_OVERDUE_GRACE_SECONDS": "1000000",  # no spreading: we want a rush
        "REPLYWATCH_RETRY_WAIT_MAX": "0.2",
        "REPLYWATCH_MAX_BUMPS_PER_MINUTE": "0",  # a rush on purpose: pacing is tested elsewhere
        "REPLYWATCH_SEND_JITTER_MINUTES": "0",
        # The sink delivers the receipt copy before it answers 250: seconds are plenty here.
        "REPLYWATCH_RECEIPT_GRACE_SECONDS": "5",
    }
    rng = random.Random(1234)
    started = 0
    watchers = []
    for _ in range(WATCHERS):
        watchers.append(start_watcher(env, tmp_path, started))
        started += 1

    replied = [p for p in plan if p[4]]
    kills = 0
    t0 = time.monotonic()
    next_kill = t0 + KILL_EVERY
    replies_sent = False
    try:
        while True:
            elapsed = time.monotonic() - t0
            if not replies_sent and elapsed > 1.0:
                for _, user, msgid, to, _ in replied:  # the recipients answer
                    mail_world.deliver(
                        user,
                        _raw(to, user.email, "Re: Offer", f"<reply-{msgid[1:]}", datetime.now(UTC),
                             In_Reply_To=msgid, References=msgid),
                    )  # fmt: skip
                replies_sent = True
            if time.monotonic() >= next_kill:
                victim = rng.randrange(len(watchers))
                watchers[victim].send_signal(signal.SIGKILL)
                watchers[victim].wait(10)
                watchers[victim] = start_watcher(env, tmp_path, started)
                started += 1
                kills += 1
                next_kill += KILL_EVERY
            with store.session() as s:
                open_count = s.scalar(
                    select(func.count()).select_from(FollowUp)
                    .where(FollowUp.state == FollowUpState.ACTIVE)
                )  # fmt: skip
            if replies_sent and open_count == 0:
                break
            assert elapsed < DEADLINE, f"{open_count} follow-ups still open after {elapsed:.0f}s"
            time.sleep(0.2)  # the controller's own pace, not a wait for a result
    finally:
        for w in watchers:
            w.send_signal(signal.SIGKILL)
            w.wait(10)

    assert kills >= 3, "the run was too short to kill anything"
    sink = Counter(m.message_id for m in mail_world.sink.messages)
    with store.session() as s:
        followups = {f.id: f for f in s.scalars(select(FollowUp))}
        stages = {st.followup_id: st for st in s.scalars(select(Stage))}
        tokens = {f.id: (f.token, s.get(Account, f.account_id).email) for f in followups.values()}
        histories = {fid: [e.kind for e in store.events_for(s, fid)] for fid in followups}

    problems, resent = [], []
    for fid, _user, _msgid, _, will_reply in plan:
        token, email_addr = tokens[fid]
        bump_id = bump_message_id(token, 1, email_addr)
        state, stage, kinds = followups[fid].state, stages[fid], histories[fid]
        if kinds.count("created") != 1:
            problems.append((fid, "created events", kinds))
        if will_reply:
            if state != "replied" or sink[bump_id] != 0 or "sent" in kinds:
                problems.append((fid, "bumped after a reply", state, sink[bump_id], kinds))
            continue
        if sink[bump_id] != 1:
            problems.append((fid, f"delivered {sink[bump_id]} times", state, stage.state, kinds))
        if state != "completed" or kinds.count("completed") != 1:
            problems.append((fid, "not completed once", state, kinds))
        if kinds.count("sent") != 1 or "unconfirmed" in kinds or stage.state != StageState.SENT:
            problems.append((fid, "stage outcome", stage.state, kinds))
        if "retry" in kinds:  # killed before the dot: no receipt within the grace, sent again
            resent.append(fid)
    sent_copies = Counter()
    for _, user, *_ in plan[::PER_ACCOUNT]:
        for m in mail_world.messages(user, "Sent"):
            sent_copies[str(m["Message-ID"])] += 1
    doubled = [mid for mid, n in sent_copies.items() if n > 1]
    store.dispose()
    assert not doubled, f"two copies in Sent: {doubled[:5]}"
    assert not problems, f"{len(problems)} inconsistent follow-ups, e.g. {problems[:5]}"
    unconfirmed = [fid for fid, st in stages.items() if st.state == StageState.UNCONFIRMED]
    assert unconfirmed == [], f"{len(unconfirmed)} unconfirmed"
    print(
        f"{kills} kills, {started} watcher processes, {len(mail_world.sink.messages)} messages, "
        f"0 unconfirmed, 0 doubles, {len(resent)} sent again after the grace"
    )
