"""Cost of judging one new message in a tracked thread with the start of its body (issue 18).

The engine reads the bounded start of the body of every new message in a tracked thread
(watcher/judge_text.py, Mailbox.with_text). This measures what that read costs per message,
on a real Dovecot (IMAP commands, bytes read from the server, wall time) and on the Gmail API
emulator (API calls, quota units, wall time), for four kinds of message: a one-line human
reply, a plain bounce with no telling header, an out-of-office without an RFC 3834 header, and
a human reply carrying a 300 KiB attachment (the IMAP read stops at 64 KiB). It also reports
the whole pass that judged the message, and checks that an idle pass reads no body at all.

Run: .venv/bin/python bench/judge_cost.py   (about 20 seconds)
"""

from __future__ import annotations

import base64
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from idle_pass import (
    CountingImap,
    add_account,
    new_store,
)  # bench/ is on the path of a bench script

from tests.emulators import GoogleEmulators
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpSink
from tests.servers.world import MailWorld
from watcher import followups as fu_ops
from watcher import schedule
from watcher.engine import Engine
from watcher.mailbox import open_mailbox
from watcher.models import Event

RUNS = 5  # messages of each kind; figures are medians

HUMAN = "Thanks, looks good - go ahead.\n"
BOUNCE = (
    "Your message to {to} couldn't be delivered.\n\n"
    "Remote server returned: 550 5.1.1 RESOLVER.ADR.RecipNotFound; not found\n"
)
OOO = (
    "Thank you for your email. I am currently out of the office with limited access to email. "
    "I will respond upon my return. For urgent matters please contact my colleague.\n"
)


def raw_message(kind: str, sender: str, to: str, mid: str, n: int) -> str:
    subject, body, frm = "Re: Judge cost", HUMAN, sender
    if kind == "bounce":
        subject, body, frm = "Re: Judge cost", BOUNCE.format(to=sender), "mailgw@partner.example"
    elif kind == "ooo":
        subject, body = "Judge cost", OOO
    head = (
        f"From: {frm}\nTo: {to}\nSubject: {subject}\nDate: {_now_header()}\n"
        f"Message-ID: <judge-{kind}-{n}-{time.time_ns()}@partner.example>\n"
        f"In-Reply-To: {mid}\nReferences: {mid}\nMIME-Version: 1.0\n"
    )
    if kind != "attachment":
        return head + f'Content-Type: text/plain; charset="utf-8"\n\n{body}'
    blob = base64.encodebytes(os.urandom(300 * 1024)).decode()
    return (
        head + 'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
        f'Content-Type: text/plain; charset="utf-8"\n\n{body}\n--b\n'
        'Content-Type: application/pdf; name="contract.pdf"\nContent-Transfer-Encoding: base64\n'
        f'Content-Disposition: attachment; filename="contract.pdf"\n\n{blob}\n--b--\n'
    )


def _now_header() -> str:
    import email.utils

    return email.utils.format_datetime(datetime.now(UTC))


KINDS = ("human", "bounce", "ooo", "attachment")


class Measured(CountingImap):
    """Counts what with_text() alone costs: commands, bytes, time."""

    reads: list[dict]

    def with_text(self, messages):
        before_cmds, before_bytes = self.commands, self.bytes_read
        start = time.perf_counter()
        out = super().with_text(messages)
        self.reads.append(
            {
                "messages": len(messages),
                "cmds": self.commands - before_cmds,
                "bytes": self.bytes_read - before_bytes,
                "ms": (time.perf_counter() - start) * 1e3,
            }
        )
        return out


def verdicts(store, fid: int) -> list[str]:
    with store.session() as s:
        return [e.rule for e in s.query(Event).filter_by(followup_id=fid) if e.rule]


def imap_runs(world: MailWorld) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {k: [] for k in KINDS}
    reads: list[dict] = []
    for kind in KINDS:
        for n in range(RUNS):
            alice, bob = world.new_user("alice"), world.new_user("bob")
            mid = world.send(alice, [bob], "Judge cost", "Shall we?")
            now = datetime.now(UTC)
            with tempfile.TemporaryDirectory() as tmp:
                config, store = new_store(tmp)
                spec = world.account_spec(alice)
                account_id, _ = add_account(store, spec, now)
                fid = _followup(store, spec, config, account_id, mid, now)
                opened: list[Measured] = []

                def factory(spec, cfg, opened=opened):
                    opened.append(Measured(spec, cfg))
                    opened[-1].reads = reads
                    return opened[-1]

                engine = Engine(store, config, clock=lambda now=now: now, mailbox_factory=factory)
                engine.run_pass()  # baseline
                reads.clear()
                engine.run_pass()  # idle: must read no body
                idle_reads = len(reads)
                world.deliver(alice, raw_message(kind, bob.email, alice.email, mid, n))
                start = time.perf_counter()
                engine.run_pass()
                ms = (time.perf_counter() - start) * 1e3
                judged = reads[-1] if reads else {"messages": 0, "cmds": 0, "bytes": 0, "ms": 0.0}
                results[kind].append(
                    {
                        **judged,
                        "pass_cmds": opened[-1].commands,
                        "pass_ms": ms,
                        "idle_reads": idle_reads,
                        "rule": (verdicts(store, fid) or ["-"])[-1],
                    }
                )
                store.dispose()
    return results


def _followup(store, spec, config, account_id: int, mid: str, now: datetime) -> int:
    from watcher.models import Account

    with open_mailbox(spec, config) as mailbox:
        anchor = mailbox.find_message(mid)
    with store.session() as s:
        account = s.get(Account, account_id)
        return fu_ops.create_followup(
            store,
            s,
            account=account,
            anchor=anchor,
            stages=[fu_ops.StageSpec(delay=schedule.parse_delay("1w"))],
            now=now,
        ).id


def gmail_runs(google: GoogleEmulators) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {k: [] for k in KINDS}
    for kind in KINDS:
        for n in range(RUNS):
            alice, bob = google.new_user("alice"), google.new_user("bob")
            mid = google.send(alice, [bob], "Judge cost", "Shall we?")
            now = datetime.now(UTC)
            with tempfile.TemporaryDirectory() as tmp:
                config, store = new_store(tmp, **google.config_overrides())
                spec = google.account_spec(alice)
                account_id, _ = add_account(store, spec, now)
                fid = _followup(store, spec, config, account_id, mid, now)
                engine = Engine(store, config, clock=lambda now=now: now)
                engine.run_pass()  # baseline cursor, access token
                google.gmail.reset_quota()
                engine.run_pass()
                idle_units = google.gmail.units(alice.email)
                google.deliver(alice, raw_message(kind, bob.email, alice.email, mid, n))
                google.gmail.reset_quota()
                start = time.perf_counter()
                engine.run_pass()
                ms = (time.perf_counter() - start) * 1e3
                calls = google.gmail.calls(alice.email)
                results[kind].append(
                    {
                        "pass_units": google.gmail.units(alice.email),
                        "pass_calls": sum(calls.values()),
                        "get_calls": calls.get("messages.get", 0),
                        "pass_ms": ms,
                        "idle_units": idle_units,
                        "rule": (verdicts(store, fid) or ["-"])[-1],
                    }
                )
                store.dispose()
    return results


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> int:
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    logging.basicConfig(level=logging.ERROR)
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, SQLite, "
        f"Dovecot and the Gmail API emulator on 127.0.0.1; medians of {RUNS} messages per kind"
    )
    with Dovecot() as dovecot, SmtpSink(dovecot) as sink:
        imap = imap_runs(MailWorld(dovecot, sink))
    google = GoogleEmulators().start()
    google.gmail.user_rate_limit = None
    try:
        gmail = gmail_runs(google)
    finally:
        google.stop()

    failed = []
    print(
        "\nIMAP (Dovecot): the body read of one judged message, and the whole pass that judged it"
    )
    print(f"{'message':>11} | {'cmds':>5} {'bytes':>7} {'ms':>6} | {'pass cmds':>9} "
          f"{'pass ms':>8} | idle reads | verdict")  # fmt: skip
    for kind, rows in imap.items():
        print(
            f"{kind:>11} | {med(rows, 'cmds'):>5.0f} {med(rows, 'bytes'):>7.0f} "
            f"{med(rows, 'ms'):>6.1f} | {med(rows, 'pass_cmds'):>9.0f} {med(rows, 'pass_ms'):>8.1f}"
            f" | {max(r['idle_reads'] for r in rows):>10} | {rows[-1]['rule']}"
        )
        if any(r["idle_reads"] for r in rows) or any(r["messages"] != 1 for r in rows):
            failed.append(f"IMAP {kind}")
    print("\nGmail API (emulator): the pass that judged one new message")
    print(f"{'message':>11} | {'units':>5} {'calls':>5} {'gets':>5} {'ms':>7} | idle units | "
          "verdict")  # fmt: skip
    for kind, rows in gmail.items():
        print(
            f"{kind:>11} | {med(rows, 'pass_units'):>5.0f} {med(rows, 'pass_calls'):>5.0f} "
            f"{med(rows, 'get_calls'):>5.0f} {med(rows, 'pass_ms'):>7.1f} | "
            f"{max(r['idle_units'] for r in rows):>10} | {rows[-1]['rule']}"
        )
        if any(r["idle_units"] != 1 for r in rows):
            failed.append(f"Gmail {kind}")
    print(
        "\nGmail: the body read is one messages.get format=full (5 units; attachments stay on "
        "the server) on top of the metadata get (5); a possible auto-reply or report had its "
        "raw read in changes() already."
    )
    if failed:
        print("FAIL: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
