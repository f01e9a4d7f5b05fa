"""Reply-to-stop latency on IMAP: from the reply's delivery to the follow-up's "stopped" Event.

Three ways the watcher learns of a reply, measured in the same run:
  polling  the watcher's regular pass on real Dovecot (interval set below; 60 s in production);
  IDLE     IMAP IDLE wakes the watcher as soon as the reply lands (poll interval one hour);
  push     Gmail (emulator): a signed Pub/Sub push reaches /push/gmail and wakes the watcher;
           measured from the push's arrival (Google's own delivery, typically seconds, is not
           included; the poll interval is one hour).
Run: .venv/bin/python bench/reply_latency.py [--runs 5 --poll 5]
"""

from __future__ import annotations

import argparse
import email.utils
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpSink
from tests.servers.world import MailWorld
from tests.support.mailboxes import WrappedMailbox
from watcher import followups as fu_ops
from watcher import schedule
from watcher.config import Config
from watcher.engine import Engine
from watcher.mailbox import open_mailbox
from watcher.models import Event, FollowUp
from watcher.store import Store

RNG = random.Random(7)


def one_run(world: MailWorld, tmp: Path, *, poll: float, idle: bool) -> float:
    alice, bob = world.new_user("alice"), world.new_user("bob")
    mid = world.send(alice, [bob], "Latency", "?")
    config = Config.for_instance(
        Path(tempfile.mkdtemp(dir=tmp)),
        worker_id="bench",
        poll_interval=poll,
        imap_idle=idle,
        allow_private_mail_hosts=True,  # Dovecot and the sink listen on 127.0.0.1
    )
    store = Store.from_config(config)
    store.migrate()
    spec = world.account_spec(alice)
    now = datetime.now(UTC)
    with store.session() as s:
        user = store.get_or_create_user(s, alice.email)
        account = store.add_account(
            s, user, kind="imap", email=alice.email, settings=dict(spec.settings),
            secret=spec.secret, now=now,
        )  # fmt: skip
        with open_mailbox(spec, config) as mailbox:
            anchor = mailbox.find_message(mid)
        fid = fu_ops.create_followup(
            store, s, account=account, anchor=anchor,
            stages=[fu_ops.StageSpec(delay=schedule.parse_delay("1w"))], now=now,
        ).id  # fmt: skip
    ready = threading.Event()

    def factory(spec, cfg):
        mailbox = open_mailbox(spec, cfg)
        if idle and hasattr(mailbox, "idle_connection"):
            real = mailbox.idle_connection

            def idle_connection():
                conn = real()
                ready.set()
                return conn

            mailbox.idle_connection = idle_connection
        return mailbox

    engine = Engine(store, config, mailbox_factory=factory)
    worker = threading.Thread(target=engine.run_forever)
    worker.start()
    try:
        if idle:
            ready.wait(30)
        # Mail arrives at any moment of the poll cycle: deliver at a random point of it.
        time.sleep(0.5 + (RNG.uniform(0, poll) if not idle else 0))
        delivered = time.perf_counter()
        world.send(bob, [alice], "Re: Latency", "Yes", in_reply_to=mid, references=[mid],
                   date=email.utils.formatdate())  # fmt: skip
        while True:
            with store.session() as s:
                if s.get(FollowUp, fid).state == "replied":
                    break
            time.sleep(0.01)
        latency = time.perf_counter() - delivered
        with store.session() as s:  # the Event is written in the same commit as the state
            assert any(e.kind == "stopped" for e in s.query(Event).filter_by(followup_id=fid))
    finally:
        engine.stop()
        worker.join(30)
        store.dispose()
    return latency


def one_push_run(google, tmp: Path) -> float:
    """Gmail: a reply, then Pub/Sub's push; the time from the push to the stopped follow-up."""
    from app import create_app
    from tests.e2e.test_push import PubSub, connect, envelope, follow_up, push_overrides

    config = Config.for_instance(
        Path(tempfile.mkdtemp(dir=tmp)), worker_id="bench", poll_interval=3600.0,
        imap_idle=False, **google.config_overrides(), **push_overrides(),
    )  # fmt: skip
    app = create_app(config)
    store = app.extensions["replywatch"]["store"]
    alice, bob = google.new_user("alice"), google.new_user("bob")
    account_id = connect(store, google, alice)
    mid = google.send(alice, [bob], "Latency", "?")
    fid = follow_up(store, config, google, account_id, mid)
    served = threading.Event()

    class Observed(WrappedMailbox):
        def __exit__(self, *exc):
            self.inner.__exit__(*exc)
            served.set()

    engine = Engine(store, config, mailbox_factory=Observed)
    app.extensions["replywatch"]["engine"] = engine
    worker = threading.Thread(target=engine.run_forever)
    worker.start()
    try:
        served.wait(30)  # the first pass (baseline cursor, users.watch)
        google.send(bob, [alice], "Re: Latency", "Yes", in_reply_to=mid)
        pubsub = PubSub(app.test_client(), google)
        pushed = time.perf_counter()
        assert (
            pubsub.post(envelope(alice.email, google.gmail.history_id(alice.email))).status_code
            == 204
        )
        while True:
            with store.session() as s:
                if s.get(FollowUp, fid).state == "replied":
                    break
            time.sleep(0.01)
        return time.perf_counter() - pushed
    finally:
        engine.stop()
        worker.join(30)
        store.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--poll", type=float, default=5.0, help="poll interval for 'polling'")
    args = parser.parse_args()
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, Dovecot 2.3")
    print(f"{'how':<26} {'median s':>9} {'max s':>7}  (runs: {args.runs})")
    with Dovecot() as dovecot, SmtpSink(dovecot) as sink, tempfile.TemporaryDirectory() as tmp:
        world = MailWorld(dovecot, sink)
        for label, kwargs in (
            (f"polling every {args.poll:g} s", {"poll": args.poll, "idle": False}),
            ("IMAP IDLE (poll 1 h)", {"poll": 3600.0, "idle": True}),
        ):
            times = [one_run(world, Path(tmp), **kwargs) for _ in range(args.runs)]
            print(f"{label:<26} {statistics.median(times):>9.2f} {max(times):>7.2f}")
        from tests.emulators import GoogleEmulators

        google = GoogleEmulators().start()
        try:
            times = [one_push_run(google, Path(tmp)) for _ in range(args.runs)]
        finally:
            google.stop()
        label = "Gmail push (poll 1 h)"
        print(f"{label:<26} {statistics.median(times):>9.2f} {max(times):>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
