"""The watcher: one pass over every account, and the loop that repeats it.

Lifecycle of one follow-up::

    created ──(needs_check)──> thread read once ──> ACTIVE, waiting for due_at
       │                                               │
       │  new mail in the thread (changes / re-read)   │ due_at reached (claimed with a lease)
       ▼                                               ▼
    classify ── reply ──────────────> REPLIED     re-read thread (a reply that just came wins)
       │  ├──── bounce ─────────────> FAILED      find_sent(deterministic Message-ID)?
       │  ├──── own (manual) ───────> clock of      ├─ found: record SENT (a crash came after)
       │  │                           the stage     └─ not found: mark SENDING, hand to SMTP,
       │  │                           restarts          record SENT + next stage, same commit
       │  ├──── out-of-office ──────> next bump held
       │  │                           to the return date
       │  └──── auto-reply / list ──> Event only   last stage done ──> COMPLETED
       ▼
    Event for every decision (what, when, why)

Own means found in the user's Sent (folder or SENT label), never a From: line: inbound mail
can claim any sender. A message From: the user that is only in the inbox waits for the thread
read before the bump (her Sent copy may still be on its way) and is then judged as someone
else's message (see _judge).

Exactly once: a stage found in SENDING after a crash (or a line that dropped before the server's
answer) is settled by evidence (watcher.handover): its copy in Sent or its receipt copy means
sent; where evidence can exist, none within the grace means the server dropped it, and it is
sent again with the same Message-ID; where none can exist the stage becomes UNCONFIRMED rather
than risk a second bump. The daily send cap (watcher.send_caps) is checked, and the send
counted, in the same commit that marks a stage SENDING: past the cap the stage stays PENDING and
waits for the next day; a stage that goes back to PENDING is not counted. Metrics
(watcher.metrics) are counted where things happen and decide nothing. The clock is injected, so
tests never sleep.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import object_session

from . import followups as fu_ops
from . import handover, judge_text, metrics, send_caps, triggers, zone_scan
from .classify import (
    ClassifyContext,
    Verdict,
    classify,
    delivery_report,
    is_absence_notice,
    replier_allowed,
)
from .compose import bump_message_id, compose_bump, first_name_of, render_text
from .config import Config
from .errors import (
    AuthFailed,
    NotFoundError,
    PermanentError,
    ReplywatchError,
    SendRejected,
    SendUnconfirmed,
    TransientError,
    ValidationError,
)
from .idle import IdleWatchers
from .later import send as later_send  # send later (hook in serve_account)
from .mailbox import (
    BUMPS_FOLDER,
    AccountSpec,
    Mailbox,
    MessageSummary,
    ThreadKey,
    open_mailbox,
)
from .models import Account, AccountStatus, FollowUp, FollowUpState, Mode, StageState, User
from .ooo import return_date
from .retry import call_with_retry
from .rules import sent_by_replywatch
from .schedule import next_in_window, spread_overdue
from .store import StaleCursor, Store
from .wake import Listener, notify

log = logging.getLogger(__name__)

CLOCK_SKEW = timedelta(minutes=5)  # mail older than the anchor by more than this predates it
UNCONFIRMED_RECHECK = timedelta(minutes=10)  # before retrying a send that Sent says never left
# Gmail's users.watch lasts 7 days; Google recommends calling it once per day (Gmail API guide
# "Push Notifications", "Renewing mailbox watch"): renewed when under 6 days are left.
WATCH_RENEW_BEFORE = timedelta(days=6)
WATCH_RETRY = timedelta(hours=1)  # after a failed users.watch (it costs 100 quota units)
IDLE_LOCK_KEY = 0x52574944  # PostgreSQL advisory lock: the process that holds IMAP IDLE


def utcnow() -> datetime:
    return datetime.now(UTC)


class LeaseLost(ReplywatchError):
    """Another watcher owns this follow-up now; stop before sending anything."""


@dataclass
class PassReport:
    accounts: int = 0
    account_faults: int = 0
    messages: int = 0
    stopped: int = 0
    sent: int = 0
    reminded: int = 0
    failed: int = 0
    unconfirmed: int = 0
    own_sent: int = 0  # Replywatch's own bumps and notices seen again in Sent: not news
    served: set[int] = field(default_factory=set)  # ids of the accounts this pass checked
    faults: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        own = f" (and {self.own_sent} sent by Replywatch itself)" if self.own_sent else ""
        return (
            f"{self.accounts} account(s) checked, {self.messages} new message(s){own}, "
            f"{self.stopped} stopped by reply, {self.sent} bump(s) sent, "
            f"{self.reminded} reminder(s), {self.failed} failed, "
            f"{self.account_faults} account fault(s)"
        )


@dataclass(frozen=True)
class AccountView:
    """What a pass needs of an account and its owner, read before any network I/O."""

    id: int
    user_id: int
    email: str
    display_name: str
    own_addresses: frozenset[str]
    spec: AccountSpec


class Engine:
    def __init__(
        self,
        store: Store,
        config: Config,
        clock: Callable[[], datetime] = utcnow,
        mailbox_factory: Callable[[AccountSpec, Config], Mailbox] = open_mailbox,
    ):
        self.store = store
        self.config = config
        self.clock = clock
        self.mailbox_factory = mailbox_factory
        self.owner = config.worker_id
        self.lease = timedelta(seconds=config.lease_seconds)
        self.wake = threading.Event()  # set by push handlers (and stop) to start a pass early
        self._stopping = threading.Event()
        self._woken: set[int] = set()  # accounts with news (push), served first next pass
        self._woken_lock = threading.Lock()
        self._watch_retry_at: dict[int, datetime] = {}  # account -> next users.watch attempt
        self._trigger_folders_ready: set[int] = set()  # accounts whose folders exist (this process)
        self._zone_scan_retry_at: dict[tuple[int, str], datetime] = {}  # after a failed scan
        self._idle: IdleWatchers | None = None  # IMAP IDLE threads, in one process only
        self._idle_lock = None  # the Store.lock_for_life that makes this process the one

    # -- the loop ------------------------------------------------------------------------------

    def wake_account(self, account_id: int, source: str = "push") -> None:
        """An account has news: start a pass now and serve it first. `source` (push, idle,
        notify) is only counted."""
        metrics.WAKEUPS.labels(source).inc()
        with self._woken_lock:
            self._woken.add(account_id)
        self.wake.set()

    def run_forever(self) -> None:
        """Pass after pass until stop(); a push or stop() wakes it before the interval ends."""
        log.info("watcher %s started (every %ss)", self.owner, self.config.poll_interval)
        listener = None
        if self.store.is_postgres:  # wake-ups from other processes (e.g. the web app's push)
            listener = Listener(
                self.config.database_url, lambda a: self.wake_account(a, "notify")
            ).start()
        try:
            self._loop()
        finally:
            if listener is not None:
                listener.stop()
            self._drop_idle()
        log.info("watcher %s stopped", self.owner)

    def _loop(self) -> None:
        """A full pass every poll_interval; between them, a wake-up (push, IDLE, NOTIFY)
        serves only the accounts with news, so busy inboxes do not re-poll every account."""
        next_full = 0.0
        while not self._stopping.is_set():
            try:
                full = time.monotonic() >= next_full
                if full:
                    next_full = time.monotonic() + self.config.poll_interval
                report = self.run_pass(woken_only=not full)
                log.info("%s: %s", "pass" if full else "woken pass", report)
                if full and self.config.imap_idle:  # new mail in an IMAP inbox wakes us
                    idle = self._idle_watchers()
                    if idle is not None:
                        idle.sync(self._idle_accounts())
            except Exception:  # a bug must not kill the watcher thread; the next pass retries
                log.exception("pass failed")
            self.wake.wait(max(0.0, next_full - time.monotonic()))
            self.wake.clear()

    def _idle_watchers(self) -> IdleWatchers | None:
        """IMAP IDLE runs in one watcher process only, the holder of a lock that passes to
        another process when it dies: N processes would hold N connections per inbox."""
        if self._idle is not None:
            if self._idle_lock.held():
                return self._idle
            log.info("watcher %s lost the IDLE lock (database connection gone)", self.owner)
            self._drop_idle()
        lock = self.store.lock_for_life(IDLE_LOCK_KEY)
        if lock is None:
            return None  # another watcher holds IDLE; this one polls (and is woken by NOTIFY)
        self._idle_lock = lock
        self._idle = IdleWatchers(self.config, self._inbox_news, self.mailbox_factory)
        log.info("watcher %s holds the IMAP IDLE connections", self.owner)
        return self._idle

    def _inbox_news(self, account_id: int) -> None:
        """IDLE saw new mail: wake this watcher, and on PostgreSQL every other one too (the
        account may be in another watcher's hands right now)."""
        self.wake_account(account_id, "idle")
        try:
            notify(self.store, account_id)
        except Exception:  # a hint only: polling stays the safety net
            log.warning("account %s: NOTIFY failed", account_id, exc_info=True)

    def _drop_idle(self) -> None:
        idle, lock, self._idle, self._idle_lock = self._idle, self._idle_lock, None, None
        if idle is not None:
            idle.stop()
        if lock is not None:
            lock.release()

    def _idle_accounts(self) -> dict[int, AccountSpec]:
        """IMAP accounts in good standing: the ones worth an IDLE connection."""
        with self.store.session() as s:
            return {
                a.id: self.store.account_spec(a)
                for a in self.store.list_accounts(s)
                if a.kind == "imap" and a.status == AccountStatus.OK
            }

    def stop(self) -> None:
        self._stopping.set()
        self.wake.set()

    def run_pass(self, woken_only: bool = False) -> PassReport:
        """Serve every account that is due a check, woken ones first; with `woken_only`, just
        the accounts woken since the last pass (a push or IDLE said they have news)."""
        started = time.perf_counter()
        report = self._serve_due_accounts(woken_only)
        kind = "woken" if woken_only else "full"
        metrics.observe_pass(kind, report, time.perf_counter() - started)
        return report

    def _serve_due_accounts(self, woken_only: bool) -> PassReport:
        report = PassReport()
        served: set[int] = set()
        with self._woken_lock:
            woken, self._woken = self._woken, set()
        while True:
            if woken_only and not woken - served:
                return report
            account_id = self.store.claim_account(
                self.owner,
                self.clock(),
                self.lease,
                served,
                prefer=woken - served,
                only=woken - served if woken_only else None,
            )
            if account_id is None:
                return report
            served.add(account_id)
            if self._stopping.is_set():  # SIGTERM: finish the account in hand, take no more
                self.store.release_account(account_id, self.owner)
                return report
            try:
                with self._keep_lease(Account, account_id):
                    self.serve_account(account_id, report)
            finally:
                self.store.release_account(account_id, self.owner)

    @contextlib.contextmanager
    def _keep_lease(self, model, row_id: int):
        """Renew a lease every third of its length while a long step runs (slow servers)."""
        done = threading.Event()
        interval = self.config.lease_seconds / 3

        def renew() -> None:
            while not done.wait(interval):
                try:
                    if not self.store.renew_lease(
                        model, row_id, self.owner, self.clock() + self.lease
                    ):
                        return  # lost it: the send path checks before the point of no return
                except Exception:  # a failed renewal is retried next interval
                    log.exception("renewing the lease on %s %s", model.__name__, row_id)

        keeper = threading.Thread(target=renew, name=f"lease-{row_id}", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            done.set()
            keeper.join()

    # -- one account ---------------------------------------------------------------------------

    def serve_account(self, account_id: int, report: PassReport) -> None:
        report.accounts += 1
        report.served.add(account_id)
        try:
            account = self._account_view(account_id)
            mailbox = self.mailbox_factory(account.spec, self.config)
            try:
                with mailbox:
                    self._keep_watch(account, mailbox)
                    self._ensure_trigger_folders(account, mailbox)
                    self._read_changes(account, mailbox, report)
                    self._run_triggers(account, mailbox)
                    self._learn_zones(account, mailbox)
                    self._check_flagged(account, mailbox, report)
                    self._spread_overdue(account)
                    self._act_on_due(account, mailbox, report)
                    later_send.serve_for(self, account, mailbox)  # send later: watcher/later
            finally:
                metrics.observe_mailbox(mailbox)
        except ReplywatchError as e:
            # A fault in one account never stops the pass for the others.
            report.account_faults += 1
            report.faults.append(f"account {account_id}: {e.message}")
            permanent = isinstance(e, PermanentError)
            metrics.ACCOUNT_FAULTS.labels("permanent" if permanent else "transient").inc()
            log.warning("account %s: %s", account_id, e.message)
            self.store.mark_account_failed(
                account_id,
                e.message,
                permanent=permanent,
                now=self.clock(),
                backoff=timedelta(seconds=self.config.account_backoff_seconds),
            )
            return
        except Exception as e:
            report.account_faults += 1
            report.faults.append(f"account {account_id}: internal error {type(e).__name__}")
            metrics.ACCOUNT_FAULTS.labels("internal").inc()
            log.exception("account %s: unexpected error", account_id)
            self.store.mark_account_failed(
                account_id,
                f"internal error ({type(e).__name__}); see the watcher log",
                permanent=False,
                now=self.clock(),
                backoff=timedelta(seconds=self.config.account_backoff_seconds),
            )
            return
        self.store.mark_account_ok(account_id, self.clock())

    def _keep_watch(self, account: AccountView, mailbox: Mailbox) -> None:
        """Gmail push: (re)start users.watch when none is known or it was last called a day ago.

        Done before reading changes, so nothing falls between the read and the watch. A failure
        is an account Event (once per distinct reason) and a wait of WATCH_RETRY before the
        next try (users.watch costs 100 units); it never faults the pass: polling goes on.
        """
        topic = self.config.gmail_pubsub_topic
        if not topic or not callable(getattr(mailbox, "watch", None)):
            return
        now = self.clock()
        if self._watch_retry_at.get(account.id, now) > now:
            return
        with self.store.session() as s:
            expires = s.get(Account, account.id).watch_expires_at
        if expires is not None and expires - now > WATCH_RENEW_BEFORE:
            return
        try:
            new_expiry = self._retry(lambda: mailbox.watch(topic))
        except Exception as e:  # push is an extra: the pass goes on regardless
            self._watch_retry_at[account.id] = now + WATCH_RETRY
            if isinstance(e, AuthFailed):  # the reads below fail too and say so, once
                log.warning("account %s: users.watch failed: %s", account.id, e.message)
                return
            if isinstance(e, ReplywatchError):
                reason = e.message
                log.warning("account %s: users.watch failed: %s", account.id, reason)
            else:
                reason = f"internal error ({type(e).__name__}); see the watcher log"
                log.exception("account %s: users.watch failed", account.id)
            detail = (
                f"Gmail push notifications could not be turned on: {reason} "
                "(new mail is still found by the regular checks)"
            )
            with self.store.session() as s:
                last = self.store.account_events(s, account.id, limit=1)
                if not (last and last[0].kind == "push_watch_error" and last[0].detail == detail):
                    self.store.add_event(
                        s,
                        user_id=account.user_id,
                        account_id=account.id,
                        kind="push_watch_error",
                        detail=detail,
                        at=now,
                    )
            return
        self._watch_retry_at.pop(account.id, None)
        with self.store.session() as s:
            row = s.get(Account, account.id)
            row.watch_expires_at = new_expiry
            if expires is None:  # a renewal is routine; the first watch is worth a line
                self.store.add_event(
                    s,
                    user_id=account.user_id,
                    account_id=account.id,
                    kind="push_watch",
                    detail="Gmail push notifications are on: new mail is seen within seconds",
                    at=now,
                )

    def _ensure_trigger_folders(self, account: AccountView, mailbox: Mailbox) -> None:
        """Create the Replywatch/… folders (labels) once per process for an opted-in account.

        A failure is an account Event and is tried again next pass; it never faults the pass
        (plus-addresses work without the folders)."""
        if not account.spec.trigger_folders or account.id in self._trigger_folders_ready:
            return
        try:
            self._retry(mailbox.ensure_trigger_folders)
        except ReplywatchError as e:
            log.warning("account %s: creating the trigger folders failed: %s", account.id, e)
            with self.store.session() as s:
                self.store.add_event(
                    s,
                    user_id=account.user_id,
                    account_id=account.id,
                    kind="trigger_folders_error",
                    detail=f"the Replywatch folders could not be created: {e.message} "
                    "(tried again on the next check)",
                    at=self.clock(),
                )
            return
        self._trigger_folders_ready.add(account.id)

    def _account_view(self, account_id: int) -> AccountView:
        with self.store.session() as s:
            account = s.get(Account, account_id)
            return AccountView(
                id=account.id,
                user_id=account.user_id,
                email=account.email,
                display_name=account.display_name,
                own_addresses=account.own_addresses,
                spec=self.store.account_spec(account),
            )

    def _retry(self, fn):
        return call_with_retry(fn, self.config.retry_attempts, self.config.retry_wait_max)

    # -- reading ------------------------------------------------------------------------------

    def _read_changes(self, account: AccountView, mailbox: Mailbox, report: PassReport) -> None:
        with self.store.session() as s:
            cursor = self.store.get_cursor(s, account.id)
        changes = self._retry(lambda: mailbox.changes(cursor))
        # The start of the body of each new message in a tracked thread: judged with it too.
        changes = judge_text.for_changes(self.store, account.id, changes, mailbox, self._retry)
        now = self.clock()
        try:
            self._judge_changes(account, cursor, changes, now, report)
        except (StaleCursor, IntegrityError) as e:
            # Another watcher took these changes first (our lease ran out): its decisions
            # stand and ours were rolled back with this transaction.
            metrics.LEASE_LOSSES.labels("changes").inc()
            log.info("account %s: changes already taken by another watcher (%s)", account.id, e)

    def _judge_changes(self, account, cursor, changes, now, report: PassReport) -> None:
        with self.store.session() as s:
            if changes.cursor_reset:
                flagged = self.store.flag_all_for_check(s, account.id)
                if cursor is not None:
                    log.info(
                        "account %s: cursor reset, re-checking %d threads", account.id, flagged
                    )
            # Drafts are never judged (an unsent draft is not the user writing in the thread);
            # triggers still see them (a draft filed in Replywatch/Bumps).
            every = sorted(changes.messages, key=_sent_first)
            messages = [m for m in every if not m.is_draft]
            # A bump Replywatch sent comes back through Sent; it is no new message to the user.
            own = sum(
                1 for m in messages if m.in_sent and sent_by_replywatch(m, account.own_addresses)
            )
            report.own_sent += own
            report.messages += len(messages) - own
            if messages:
                linked = self.store.active_followups_linked(
                    s,
                    account.id,
                    (m for msg in messages for m in msg.linked_ids),
                    (msg.thread_ref for msg in messages),
                )
                for followup in linked:
                    known = self.store.tracked_ids(s, followup.id)
                    for msg in messages:
                        if followup.state != FollowUpState.ACTIVE:
                            break
                        in_thread = bool(msg.linked_ids & known) or (
                            msg.thread_ref is not None and msg.thread_ref == followup.thread_ref
                        )
                        if in_thread:
                            self._judge(
                                s, followup, account, msg, known, now, report, defer_unproven=True
                            )
            if every:  # an idle pass reads no rules
                triggers.record(self.store, s, self._trigger_context(s, account, now), every)
            # The cursor moves in the same transaction as the decisions it led to.
            self.store.set_cursor(s, account.id, changes.cursor, now, expected=cursor)

    def _trigger_context(self, s, account: AccountView, now: datetime):
        return triggers.TriggerContext(
            account_id=account.id,
            user_id=account.user_id,
            email=account.email,
            own_addresses=account.own_addresses,
            trigger_folders=account.spec.trigger_folders,
            rules=tuple(self.store.enabled_rules(s, account.id)),
            now=now,
        )

    def _run_triggers(self, account: AccountView, mailbox: Mailbox) -> None:
        """Act on what triggers recorded (follow-ups without clicking): see watcher.triggers."""

        def make_job(item_id: int) -> triggers.Job:
            return triggers.Job(
                store=self.store,
                mailbox=mailbox,
                item_id=item_id,
                account=account,
                clock=self.clock,
                retry=self._retry,
                jitter_minutes=self.config.send_jitter_minutes,
            )

        triggers.process_pending(make_job, self.store, account.id)

    def _learn_zones(self, account: AccountView, mailbox: Mailbox) -> None:
        """Recipients of new or due follow-ups in "recipient" mode whose zone is unknown: read
        their latest mail (any thread) once a month at most; see watcher.zone_scan."""
        zone_scan.learn_zones(
            self.store,
            mailbox,
            account,
            clock=self.clock,
            retry=self._retry,
            jitter_minutes=self.config.send_jitter_minutes,
            failed=self._zone_scan_retry_at,
        )

    def _check_flagged(self, account: AccountView, mailbox: Mailbox, report: PassReport) -> None:
        """Re-read threads the cursor cannot vouch for (new follow-ups, after a cursor reset)."""
        while True:
            with self.store.session() as s:
                batch = [
                    (f.id, self._thread_key(s, f))
                    for f in self.store.followups_needing_check(s, account.id, limit=50)
                ]
            if not batch:
                return
            for followup_id, key in batch:
                thread = self._retry(lambda key=key: mailbox.thread(key))
                thread = self._with_text(mailbox, thread, key)
                try:
                    with self.store.session() as s:
                        followup = self.store.get_followup(s, followup_id)
                        self._judge_thread(s, followup, account, thread, report)
                        followup.needs_check = False
                except IntegrityError:  # judged concurrently by a watcher that took over
                    log.info("follow-up %s: already checked by another watcher", followup_id)

    def _with_text(self, mailbox: Mailbox, thread: list, key: ThreadKey) -> list:
        """A re-read thread with the body's start of the messages not judged yet."""
        wanted = judge_text.unjudged(thread, set(key.message_ids))
        return judge_text.fill(mailbox, thread, wanted, self._retry)

    def _thread_key(self, s, followup: FollowUp) -> ThreadKey:
        return ThreadKey(
            message_ids=frozenset(self.store.tracked_ids(s, followup.id)),
            thread_ref=followup.thread_ref,
        )

    def _judge_thread(
        self, s, followup: FollowUp, account: AccountView, thread, report: PassReport
    ) -> None:
        known = self.store.tracked_ids(s, followup.id)
        now = self.clock()
        for msg in sorted(thread, key=_sent_first):
            if followup.state != FollowUpState.ACTIVE:
                return
            if followup.thread_ref is None and msg.thread_ref:
                followup.thread_ref = msg.thread_ref
            self._judge(s, followup, account, msg, known, now, report)

    def _judge(
        self,
        s,
        followup: FollowUp,
        account: AccountView,
        msg: MessageSummary,
        known: set[str],
        now: datetime,
        report: PassReport,
        defer_unproven: bool = False,
    ) -> None:
        """Decide what one new message in a tracked thread means, and act on it.

        `defer_unproven` (new mail from changes()): a message From: the user that is not in
        their Sent (classify's "not-in-sent") is left for the thread read right before the
        bump: the Sent copy of the user's own message may land a moment after its inbox copy
        (IDLE wakes a pass on the inbox), and it must be judged as hers, not the copy as a
        reply. By then a forgery is still only in the inbox, and is judged as the outsider's
        message it is."""
        key = msg.message_id or f"ref:{msg.ref}"
        if key in known:
            return  # already judged (or part of the thread before the follow-up began)
        bump_ids = self._bump_ids(followup, account)
        linked_to_us = bool(msg.linked_ids & ({followup.anchor_message_id} | bump_ids))
        if msg.date and msg.date < followup.anchor_at - CLOCK_SKEW and not linked_to_us:
            known.add(key)
            self.store.track(s, followup.id, [key])
            return  # older than the message being followed up: not an answer to it
        verdict = classify(msg, ClassifyContext(account.own_addresses, frozenset(bump_ids)))
        if defer_unproven and verdict.rule == "not-in-sent":
            return  # not tracked: judged when the thread is read before the bump
        known.add(key)
        self.store.track(s, followup.id, [key])
        metrics.VERDICTS.labels(verdict.kind, verdict.rule).inc()
        if (
            verdict.kind != "own"
            and msg.from_addr
            and msg.from_addr not in account.own_addresses  # a forged From: teaches nothing
            and msg.date
            and msg.date_offset_minutes is not None
        ):
            # Where the sender's clock stood: how their working hours are learnt (same commit).
            self.store.observe_offset(
                s, followup.user_id, msg.from_addr, msg.date, msg.date_offset_minutes
            )
        event = dict(user_id=followup.user_id, followup_id=followup.id, at=now)
        event.update(message_id=msg.message_id or None, rule=verdict.rule)
        who = msg.from_addr or "an unknown sender"
        if verdict.kind == "auto_reply" and is_absence_notice(verdict):
            user = s.get(User, followup.user_id)
            if user.ooo_policy == "reply":
                verdict = Verdict(
                    "reply",
                    verdict.rule,
                    f"{verdict.detail}; counted as a reply (out-of-office policy 'reply')",
                )
            elif user.ooo_policy == "pause" and self._pause_for_absence(
                s, followup, user, msg, verdict, event
            ):
                return
        if verdict.kind == "reply":
            recipients = frozenset([*followup.to_addrs, *followup.cc_addrs])
            if not replier_allowed(msg, recipients, followup.replier_policy):
                self.store.add_event(
                    s,
                    kind="reply_ignored",
                    detail=f"reply from {who} does not count under the "
                    f"'{followup.replier_policy}' policy; still waiting",
                    **event,
                )
                return
            followup.end(FollowUpState.REPLIED, f"reply from {who}")
            # The reply's own time (for results: time to reply), never before the anchor.
            followup.replied_at = max(msg.date or now, followup.anchor_at)
            report.stopped += 1
            self.store.add_event(
                s,
                kind="stopped",
                detail=f"stopped: reply from {who}, message {msg.message_id}"
                + (f" ({verdict.detail})" if verdict.rule != "default-reply" else ""),
                **event,
            )
        elif verdict.kind == "bounce" and handover.receipt_bounced(s, followup, account, msg):
            self.store.add_event(
                s,
                kind="not_reply",
                detail="only the receipt copy to your own plus-address bounced: this mail "
                "server does not take plus-addresses, so receipts are off for this account (a "
                "broken-off send is asked about instead); the follow-up goes on",
                **event,
            )
        elif verdict.kind == "bounce" and self._bounce_spares(followup, msg):
            self.store.add_event(
                s,
                kind="not_reply",
                detail=f"a copy to someone in Cc bounced; the follow-up goes on: "
                f"{verdict.describe()}",
                **event,
            )
        elif verdict.kind == "bounce":
            followup.end(FollowUpState.FAILED, f"bounce: {verdict.detail}")
            report.failed += 1
            self.store.add_event(
                s, kind="failed", detail=f"stopped as failed: {verdict.describe()}", **event
            )
        elif verdict.kind == "own":
            self._own_message(s, followup, msg, verdict, event)
        else:
            self.store.add_event(
                s, kind="not_reply", detail=f"not a reply: {verdict.describe()}", **event
            )
        if followup.state != FollowUpState.ACTIVE:  # stopped by this message
            self._draft_stays(s, followup, event)

    def _draft_stays(self, s, followup: FollowUp, event: dict) -> None:
        """The follow-up stopped with a bump written from the user's draft still to go: the
        draft is not sent and stays where the user filed it; say so."""
        for stage in followup.stages:
            if stage.state == StageState.PENDING and stage.draft_ref:
                self.store.add_event(
                    s,
                    kind="draft_kept",
                    detail=f"bump {stage.position} is not sent ({followup.stop_reason}); your "
                    f"draft {followup.subject!r} stays in {BUMPS_FOLDER}",
                    **event,
                )

    def _pause_for_absence(
        self, s, followup: FollowUp, user: User, msg: MessageSummary, verdict: Verdict, event
    ) -> bool:
        """Hold the next bump until the first sending window on the day the person is back.

        True if an Event was written (paused, or the return comes before the bump anyway);
        False when the auto-reply states no return date: the caller records it as before.
        """
        back = return_date(msg.text, msg.date, msg.subject)
        if back is None:
            return False
        window = fu_ops.user_window(user)
        back_at = datetime.combine(back.day, dt_time(0, 0), tzinfo=ZoneInfo(user.timezone))
        hold = next_in_window(back_at.astimezone(UTC), window)
        what = "reminder" if followup.mode == Mode.REMIND else "bump"
        if followup.due_at is not None and hold > followup.due_at:
            was = fu_ops.format_local(followup.due_at, user.timezone)
            followup.due_at = hold
            detail = (
                f"out of office: {verdict.describe()}; back {back.day.isoformat()} "
                f"(read from {back.phrase!r}): next {what} held until "
                f"{fu_ops.format_local(hold, user.timezone)} instead of {was}"
            )
            self.store.add_event(s, kind="paused", detail=detail, **event)
        else:
            detail = (
                f"not a reply: {verdict.describe()}; out of office, back "
                f"{back.day.isoformat()} (read from {back.phrase!r}), before the next {what}: "
                "schedule unchanged"
            )
            self.store.add_event(s, kind="not_reply", detail=detail, **event)
        return True

    @staticmethod
    def _bounce_spares(followup: FollowUp, msg: MessageSummary) -> bool:
        """A bounce only for addresses in Cc (none in To): the people asked can still answer."""
        failed = set(delivery_report(msg).failed)
        to = {a.lower() for a in followup.to_addrs}
        cc = {a.lower() for a in followup.cc_addrs}
        return bool(failed) and failed <= cc and not failed & to

    def _own_message(self, s, followup: FollowUp, msg, verdict: Verdict, event: dict) -> None:
        if verdict.rule == "own-bump":
            return  # our own bump coming back through Sent
        user = s.get(User, followup.user_id)
        policy = user.own_message_policy
        if policy == "stop":
            followup.end(FollowUpState.CANCELLED, "you wrote in the thread yourself")
            self.store.add_event(
                s, kind="stopped", detail="stopped: you wrote in the thread yourself", **event
            )
            return
        stage = followup.stage()
        base = msg.date or event["at"]
        # Restart only forward: a late-arriving older message must not pull the bump earlier.
        if policy == "restart" and stage and stage.at is None and base > followup.clock_base_at:
            followup.clock_base_at = base
            plan = self._plan_stage(s, followup, stage, base, user)
            followup.due_at = plan.at
            detail = (
                "your own message in the thread restarted the clock; next "
                f"{'reminder' if followup.mode == Mode.REMIND else 'bump'} "
                f"{fu_ops.format_local(followup.due_at, user.timezone)}"
            ) + (f"; {plan.note}" if plan.note else "")
        else:
            detail = "your own message in the thread (the schedule is unchanged)"
        self.store.add_event(s, kind="own_message", detail=detail, **event)

    def _bump_ids(self, followup: FollowUp, account: AccountView) -> set[str]:
        return {
            bump_message_id(followup.token, st.position, account.email) for st in followup.stages
        }

    # -- acting -------------------------------------------------------------------------------

    def _spread_overdue(self, account: AccountView) -> None:
        """After downtime, overdue bumps go out spaced within the window, not as a burst."""
        now = self.clock()
        grace = timedelta(seconds=self.config.overdue_grace_seconds)
        with self.store.session() as s:
            overdue = self.store.overdue_followups(s, account.id, now - grace, now)
            if not overdue:
                return
            user = s.get(User, account.user_id)
            times = spread_overdue(
                len(overdue),
                now,
                fu_ops.user_window(user),
                timedelta(seconds=self.config.overdue_spacing_seconds),
            )
            for followup, when in zip(overdue, times, strict=True):
                was = fu_ops.format_local(followup.due_at, user.timezone)
                followup.due_at = when
                detail = (
                    f"was due {was} while the watcher was not running; now "
                    f"{fu_ops.format_local(when, user.timezone)} (spread out, not a burst)"
                )
                self._note(s, followup, "rescheduled", detail, at=now)

    def _throttle(self, account: AccountView) -> None:
        """At most max_bumps_per_minute bumps per account in any 60 seconds: once the cap is
        reached, the due bumps wait until the oldest of those sends is a minute old."""
        cap = self.config.max_bumps_per_minute
        if cap <= 0:
            return
        now = self.clock()
        with self.store.session() as s:
            recent = self.store.sends_since(s, account.id, now - timedelta(minutes=1))
            if len(recent) < cap:
                return
            free_at = recent[-cap] + timedelta(minutes=1)
            waiting = self.store.due_sends(s, account.id, now)
            if not waiting:
                return
            user = s.get(User, account.user_id)
            when = fu_ops.format_local(free_at, user.timezone)
            detail = (
                f"{cap} bumps already went out from {account.email} in the last minute; "
                f"this one waits until {when} so they do not go out as a burst"
            )
            for followup in waiting:
                followup.due_at = free_at
                self._note(s, followup, "rescheduled", detail, at=now)

    def _defer_over_cap(self, account: AccountView) -> None:
        """The account's daily send cap is used up: the bumps due now wait for the next local
        day's window (remind-only follow-ups send nothing and go ahead)."""
        now = self.clock()
        with self.store.session() as s:
            waiting = self.store.due_sends(s, account.id, now)
            if not waiting:  # an idle pass: one indexed query, no count
                return
            cap = send_caps.status(s, s.get(Account, account.id), now)
            if not cap.reached:
                return
            for followup in waiting:
                send_caps.defer(self.store, s, followup, cap, now)

    def _act_on_due(self, account: AccountView, mailbox: Mailbox, report: PassReport) -> None:
        while True:
            self._defer_over_cap(account)
            self._throttle(account)
            # One at a time: a lease covers only the follow-up in hand, so several watchers
            # share an account's due work evenly and nothing waits under a stale claim.
            ids = self.store.claim_due(self.owner, self.clock(), self.lease, 1, account.id)
            if not ids:
                return
            for followup_id in ids:
                try:
                    with self._keep_lease(FollowUp, followup_id):
                        self._act(account, mailbox, followup_id, report)
                except (ValidationError, NotFoundError) as e:
                    # A problem of this follow-up alone (its thread is gone, its text is
                    # broken): fail it visibly; the account and the others go on.
                    if self._fail(followup_id, e.message):
                        report.failed += 1
                except (LeaseLost, IntegrityError) as e:
                    # Another watcher took over (our lease ran out while we were slow): it
                    # owns the follow-up now, so leave everything to it.
                    metrics.LEASE_LOSSES.labels("followup").inc()
                    log.info("follow-up %s: another watcher took over (%s)", followup_id, e)
                finally:
                    self.store.release_followup(followup_id, self.owner)

    def _fail(self, followup_id: int, reason: str) -> bool:
        with self.store.session() as s:
            followup = self.store.get_followup(s, followup_id)
            if not self.store.holds_lease(s, followup, self.owner, self.clock()):
                return False
            self._reset_stage(followup)
            followup.end(FollowUpState.FAILED, reason)
            self._note(s, followup, "failed", f"stopped as failed: {reason}")
        return True

    def _act(self, account: AccountView, mailbox: Mailbox, followup_id: int, report) -> None:
        with self.store.session() as s:
            followup = self.store.get_followup(s, followup_id)
            if followup.state != FollowUpState.ACTIVE or followup.lease_owner != self.owner:
                return
            stage = followup.stage()
            key = self._thread_key(s, followup)
            recovering = stage.message_id if stage.state == StageState.SENDING else None
            position = stage.position
        if recovering:
            self._recover(mailbox, followup_id, position, recovering, report)
            self._discard_sent_draft(account, mailbox, followup_id, position)
            return

        # A reply that arrived after the claim wins: read the thread fresh, right now.
        thread = self._with_text(mailbox, self._retry(lambda: mailbox.thread(key)), key)
        with self.store.session() as s:
            followup = self.store.get_followup(s, followup_id)
            self._judge_thread(s, followup, account, thread, report)
            if followup.state != FollowUpState.ACTIVE:
                return
            if followup.due_at is None or followup.due_at > self.clock():
                return  # the user's own message restarted the clock
            plan = self._plan(s, followup, account, thread)
        if plan["mode"] == Mode.REMIND:
            self._retry(lambda: mailbox.remind(key))
            with self.store.session() as s:
                followup = self.store.get_followup(s, followup_id)
                if self._finish_stage(
                    s, followup, plan["stage"], StageState.REMINDED, None, None, "reminded"
                ):
                    report.reminded += 1
            return
        self._send(account, mailbox, followup_id, plan, report, thread)
        self._discard_sent_draft(account, mailbox, followup_id, plan["stage"])

    def _discard_sent_draft(self, account: AccountView, mailbox: Mailbox, followup_id, position):
        """The bump went out with the text of the user's draft: delete that draft. A failure
        is an Event (the user can delete it), never a fault."""
        with self.store.session() as s:
            stage = self.store.get_followup(s, followup_id).stage(position)
            if stage is None or stage.state != StageState.SENT or not stage.draft_ref:
                return
            ref = stage.draft_ref
        try:
            self._retry(lambda: mailbox.discard_draft(ref))
            detail = f"your draft for bump {position} went out as the bump and was deleted"
        except ReplywatchError as e:
            detail = f"your draft for bump {position} went out but could not be deleted: {e}"
        with self.store.session() as s:
            self._note(s, self.store.get_followup(s, followup_id), "draft_discarded", detail)

    def _plan(self, s, followup: FollowUp, account: AccountView, thread) -> dict:
        """Compose the bump from stored values and the thread as it is now."""
        user = s.get(User, followup.user_id)
        stage = followup.stage()
        own = [m for m in thread if m.in_sent]  # a From: line alone proves nothing
        anchor = next(
            (m for m in thread if m.message_id == followup.anchor_message_id),
            MessageSummary(ref="", message_id=followup.anchor_message_id, subject=followup.subject),
        )
        # A bump answers the user's own latest message, as a person pressing "reply" would.
        latest = max(own, key=_date_key) if own else anchor
        to = tuple(followup.to_addrs)
        text = render_text(
            stage.text if stage.text is not None else user.bump_template,
            first_name=first_name_of(followup.recipient_name, to[0] if to else ""),
            subject=followup.subject,
            recipient_name=followup.recipient_name,
            sender_name=account.display_name,
        )
        bump = None
        if followup.mode == Mode.SEND:
            bump = compose_bump(
                account_email=account.email,
                account_name=account.display_name,
                original=anchor,
                latest=latest,
                to=to,
                cc=tuple(followup.cc_addrs),
                token=followup.token,
                stage=stage.position,
                text=text,
                now=self.clock(),
            )
        return {
            "mode": followup.mode,
            "bump": bump,
            "stage": stage.position,
            # An earlier attempt handed this stage to the server (and it went back to PENDING
            # after a fault that said "not sent"): worth a search of Sent before sending.
            "attempted": stage.message_id is not None,
            "evidence": stage.evidence,
        }

    def _send(
        self, account: AccountView, mailbox: Mailbox, followup_id, plan, report, thread
    ) -> None:
        bump, position = plan["bump"], plan["stage"]

        def record(state, sent_ref, how) -> bool:
            with self.store.session() as s:
                followup = self.store.get_followup(s, followup_id)
                return self._finish_stage(
                    s, followup, position, state, bump.message_id, sent_ref, how
                )

        # A copy already there means an earlier attempt got through: record, never resend.
        # The thread just read holds it (a bump answers the thread, with its References, and
        # both mailboxes read Sent with it), so a first attempt needs no search of its own;
        # e.g. a database restored from a backup taken before the send is caught here. A stage
        # tried before is also looked up by Message-ID (Gmail search: 5 quota units).
        found = next((m.ref for m in thread if m.message_id == bump.message_id), None)
        how = "already in the thread"
        if found is None and plan["attempted"]:  # Sent, and the receipt copy if one was asked
            found, how = handover.look_for_copy(
                self._retry, mailbox, bump.message_id, plan["evidence"]
            )
        if found:
            if record(StageState.SENT, found, how):
                report.sent += 1
            return

        def before_commit() -> None:
            # Last moment before the server may accept it: from here on the outcome is unsure.
            with self.store.session() as s:
                followup = self.store.get_followup(s, followup_id)
                stage = followup.stage(position)
                if not self.store.holds_lease(s, followup, self.owner, self.clock()) or (
                    followup.current_stage != position or stage.state != StageState.PENDING
                ):
                    raise LeaseLost(f"lease on follow-up {followup_id} lost before sending")
                # Counted here, in the same commit; over the day's cap nothing goes out.
                send_caps.claim(s, account.id, bump.message_id, "bump", self.clock())
                stage.state = StageState.SENDING
                stage.message_id = bump.message_id
                # What can tell later whether it went out, if the answer never comes.
                stage.handed_over_at = self.clock()
                stage.evidence = handover.evidence_of(mailbox, bump.message_id)

        try:
            sent_ref = self._retry(lambda: mailbox.send(bump, before_commit))
        except SendUnconfirmed as e:
            self._settle_unconfirmed(
                mailbox, followup_id, position, bump.message_id, e.message, report
            )
            return
        except SendRejected as e:
            metrics.BUMPS.labels("failed").inc()
            if self._fail(followup_id, f"the mail server refused the bump: {e.message}"):
                report.failed += 1
            return
        except send_caps.CapReached:
            # Reached since the pass's first look (another sender of the account): nothing
            # was handed over and the stage is still PENDING; it waits for tomorrow.
            with self.store.session() as s:
                followup = self.store.get_followup(s, followup_id)
                if self.store.holds_lease(s, followup, self.owner, self.clock()):
                    now = self.clock()
                    cap = send_caps.status(s, s.get(Account, account.id), now)
                    send_caps.defer(self.store, s, followup, cap, now)
            return
        except (TransientError, PermanentError):
            # Our mailboxes raise these only when the server surely did not take the message.
            with self.store.session() as s:
                followup = self.store.get_followup(s, followup_id)
                if self.store.holds_lease(s, followup, self.owner, self.clock()):
                    self._reset_stage(followup)
            raise
        # A mailbox that had to send otherwise than asked (Gmail: a new conversation because
        # the old thread is refused) leaves a note for the follow-up's history.
        how = getattr(mailbox, "send_notes", {}).pop(bump.message_id, "sent")
        if record(StageState.SENT, sent_ref, how):
            report.sent += 1

    def _recover(self, mailbox, followup_id, position, message_id, report) -> None:
        """A previous watcher died while handing this stage over; never send it twice."""
        how = (
            "the watcher stopped while handing it to the mail server; it may have gone out, "
            "so it is not sent again"
        )
        self._settle_unconfirmed(
            mailbox, followup_id, position, message_id, how, report, after="a restart"
        )

    def _settle_unconfirmed(
        self, mailbox, followup_id, position, message_id, how, report, after="a broken send"
    ):
        """A hand-over that broke off: settled by evidence (see watcher.handover)."""
        with self.store.session() as s:
            evidence = self.store.get_followup(s, followup_id).stage(position).evidence
        found, where = handover.look_for_copy(self._retry, mailbox, message_id, evidence)
        with self.store.session() as s:
            followup = self.store.get_followup(s, followup_id)
            stage = followup.stage(position)
            now = self.clock()
            decision = handover.decide(
                found=bool(found),
                authoritative=getattr(mailbox, "sent_copy_is_authoritative", False),
                evidence=stage.evidence,
                handed_over_at=stage.handed_over_at,
                now=now,
                grace=timedelta(seconds=self.config.receipt_grace_seconds),
            )
            if decision.outcome == handover.Outcome.SENT:
                how = f"{where} after {after}"
                if self._finish_stage(
                    s, followup, position, StageState.SENT, message_id, found, how
                ):
                    report.sent += 1
                return
            if decision.outcome == handover.Outcome.UNCONFIRMED:
                how += "; nothing can show whether it arrived (no receipt copy was taken)"
                if self._finish_stage(
                    s, followup, position, StageState.UNCONFIRMED, message_id, None, how
                ):
                    report.unconfirmed += 1
                return
            if (
                stage.state != StageState.SENDING
                or followup.current_stage != position
                or not self.store.holds_lease(s, followup, self.owner, now)
            ):
                return  # settled or taken over meanwhile
            tz = s.get(User, followup.user_id).timezone
            if decision.outcome == handover.Outcome.WAIT:
                stage.handed_over_at = stage.handed_over_at or now
                followup.due_at = decision.until
                detail = (
                    f"stage {position} may or may not have gone out ({how}); looking for its "
                    f"copy until {fu_ops.format_local(decision.until, tz)}: found, it counts as "
                    "sent; not found, it is sent again"
                )
                self._note(s, followup, "checking", detail, message_id=message_id)
                return
            stage.state = StageState.PENDING  # not sent: it does not count against the cap
            send_caps.forget(s, followup.account_id, message_id)
            if decision.outcome == handover.Outcome.RESEND:
                followup.due_at = now
                detail = (
                    f"stage {position} did not go out ({how}): no copy arrived within "
                    f"{self.config.receipt_grace_seconds / 60:g} minutes, so it is sent again"
                )
            else:  # RETRY: not in Sent, where this server files everything it sends
                followup.due_at = now + UNCONFIRMED_RECHECK
                detail = (
                    f"stage {position} did not go out ({how}); it is not in Sent, so it is "
                    f"tried again {fu_ops.format_local(followup.due_at, tz)}"
                )
            self._note(s, followup, "retry", detail, message_id=message_id)

    def _note(self, s, followup: FollowUp, kind: str, detail: str, **extra) -> None:
        """One line of the follow-up's history, stamped with the injected clock by default."""
        extra.setdefault("at", self.clock())
        self.store.add_event(
            s, user_id=followup.user_id, followup_id=followup.id, kind=kind, detail=detail, **extra
        )

    def _reset_stage(self, followup: FollowUp) -> None:
        """The hand-over surely failed (the server did not take it): back to PENDING, and it
        does not count against the daily send cap."""
        stage = followup.stage()
        if stage is not None and stage.state == StageState.SENDING:
            stage.state = StageState.PENDING
            send_caps.forget(object_session(followup), followup.account_id, stage.message_id)

    def _finish_stage(
        self, s, followup: FollowUp, position: int, state, message_id, sent_ref, how
    ) -> bool:
        """Record a stage as done and schedule the next, in one transaction.

        Returns False, changing nothing, if that stage was already recorded (by a watcher that
        took over after our lease ran out): a stage has exactly one outcome.
        """
        now = self.clock()
        stage = followup.stage(position)
        if stage is None or stage.state not in (StageState.PENDING, StageState.SENDING):
            log.info("follow-up %s stage %s was already recorded", followup.id, position)
            return False
        stage.state = state
        stage.message_id = message_id or stage.message_id
        stage.sent_ref = sent_ref
        stage.done_at = now
        if message_id:
            self.store.track(s, followup.id, [message_id])
        user = s.get(User, followup.user_id)
        if state == StageState.REMINDED:
            detail = f"reminded you: stage {position} brought the thread back to your inbox"
            kind = "reminded"
        elif state == StageState.UNCONFIRMED:
            detail = f"stage {position} as {message_id} is unconfirmed: {how}"
            kind = "unconfirmed"
        else:
            detail = f"sent stage {position} as {message_id}"
            detail += f" ({how})" if how != "sent" else ""
            kind = "sent"
        event = dict(user_id=followup.user_id, followup_id=followup.id, at=now)
        self.store.add_event(s, kind=kind, detail=detail, message_id=message_id, **event)
        if followup.state != FollowUpState.ACTIVE or followup.current_stage != position:
            return True  # stopped meanwhile (a reply during the send): nothing more to plan
        following = followup.stage(position + 1)
        if following is None:
            followup.end(FollowUpState.COMPLETED, "every stage done, no reply")
            self.store.add_event(
                s, kind="completed", detail="every stage is done and nobody replied", **event
            )
            return True
        followup.current_stage = following.position
        followup.clock_base_at = now
        plan = self._plan_stage(s, followup, following, now, user)
        followup.due_at = plan.at
        self.store.add_event(
            s,
            kind="scheduled",
            detail=f"stage {following.position} due "
            f"{fu_ops.format_local(followup.due_at, user.timezone)} if nobody replies",
            **event,
        )
        if plan.note:
            self.store.add_event(s, kind="window", detail=plan.note, **event)
        return True

    def _plan_stage(self, s, followup: FollowUp, stage, base: datetime, user: User):
        return fu_ops.plan_stage(
            self.store,
            s,
            followup,
            stage,
            base,
            user,
            jitter_minutes=self.config.send_jitter_minutes,
        )


def _date_key(msg: MessageSummary) -> datetime:
    return msg.date or datetime.min.replace(tzinfo=UTC)


def _sent_first(msg: MessageSummary) -> tuple[datetime, bool]:
    """By date, and of two copies of one message (the Sent copy of a Bcc to oneself and the
    inbox copy) the Sent one first: it is judged as the user's own, and the inbox copy, with
    the same Message-ID, is then already known."""
    return _date_key(msg), not msg.in_sent
