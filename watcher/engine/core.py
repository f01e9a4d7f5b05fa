"""The Engine: the pass loop and its wake-ups, the leases on accounts and on due follow-ups,
and serving one account step by step.

Each step's code lives in a room of its own, mixed into Engine: upkeep (IDLE, Gmail watch,
trigger folders, zones), judging, pacing, sending, recovery, and the stage records they
share. Mixins rather than collaborators: every room reads the engine's store, config, clock
and owner (which tests replace on a live engine) and the rooms call each other's steps.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from .. import limits, metrics
from ..config import Config
from ..errors import NotFoundError, PermanentError, ReplywatchError, ValidationError
from ..idle import IdleWatchers
from ..later import send as later_send
from ..mailbox import AccountSpec, Mailbox, open_mailbox
from ..models import Account, FollowUp
from ..retry import call_with_retry
from ..store import Agenda, Store
from ..wake import Listener
from .judging import JudgingSteps
from .kept import KeptMailboxes, fingerprint
from .pacing import PacingSteps
from .pool import serve_accounts
from .recovery import RecoverySteps
from .sending import SendingSteps
from .shared import AccountView, LeaseLost, PassReport, utcnow
from .stages import StageRecords
from .upkeep import UpkeepSteps

log = logging.getLogger(__package__)  # "watcher.engine", the logger name before the split


class Engine(UpkeepSteps, JudgingSteps, PacingSteps, SendingSteps, RecoverySteps, StageRecords):
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
        self._idle: IdleWatchers | None = None  # IMAP IDLE for this process's share of inboxes
        self._idle_lock = None  # its Store.idle_claims (PostgreSQL) or lock_for_life (SQLite)
        # Account workers for the loop's passes (watcher.engine.pool); see Config.workers.
        self.workers = config.workers or (8 if store.is_postgres else 1)
        # IMAP sessions kept between the loop's passes (watcher.engine.kept); None: log in
        # afresh every check.
        self.kept: KeptMailboxes | None = None
        if config.imap_keep_seconds > 0:
            self.kept = KeptMailboxes(config.imap_keep_seconds, config.imap_keep_max)

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
        open_files = limits.raise_open_files_limit()
        if self.kept is not None and self.kept.max_open > open_files // 3:
            # Kept sessions must leave room for IDLE sockets, the database and the web app.
            self.kept.max_open = max(1, open_files // 3)
            log.info("at most %s kept IMAP sessions (open-files limit)", self.kept.max_open)
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
            if self.kept is not None:
                self.kept.close_all()
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
                report = self.run_pass(woken_only=not full, respect_interval=True)
                log.info("%s: %s", "pass" if full else "woken pass", report)
                if self.kept is not None:
                    self.kept.close_idle()
                if full and self.config.imap_idle:  # new mail in an IMAP inbox wakes us
                    idle = self._idle_watchers()
                    if idle is not None:
                        idle.sync(self._idle_accounts())
            except Exception:  # a bug must not kill the watcher thread; the next pass retries
                log.exception("pass failed")
            self.wake.wait(max(0.0, next_full - time.monotonic()))
            self.wake.clear()

    def stop(self) -> None:
        self._stopping.set()
        self.wake.set()

    def run_pass(self, woken_only: bool = False, respect_interval: bool = False) -> PassReport:
        """Serve every account that is due a check, woken ones first; with `woken_only`, just
        the accounts woken since the last pass (a push or IDLE said they have news).

        `respect_interval` is the loop's mode (`run`): accounts that any watcher checked
        within the poll interval are skipped (Gmail ones with live push: within
        gmail_safety_poll_seconds), so several watchers share the polling, and the account
        workers serve them in parallel. Without it (`once`, tests) every account is checked,
        one after another, however recently it was."""
        started = time.perf_counter()
        with self._woken_lock:
            woken, self._woken = self._woken, set()
        if respect_interval:
            report = self._serve_fresh_aware(woken, woken_only)
        else:
            report = self._serve_due_accounts(woken, woken_only)
        kind = "woken" if woken_only else "full"
        metrics.observe_pass(kind, report, time.perf_counter() - started)
        return report

    def _serve_fresh_aware(self, woken: set[int], woken_only: bool) -> PassReport:
        """The loop's pass: batch claims of due (not fresh) accounts, served by the pool."""
        interval = self.config.poll_interval
        # A quarter interval of slack: an account checked late in one pass is still due at
        # the same point of the next (its stamp is when its check began, not the pass).
        fresh_for = timedelta(seconds=interval * 0.75)
        push_fresh_for = None
        if self.config.gmail_pubsub_topic:
            safety = max(self.config.gmail_safety_poll_seconds, interval)
            push_fresh_for = timedelta(seconds=safety - interval * 0.25)
        pending = set(woken)  # woken accounts not served yet: due whatever their freshness
        # Unchecked this long, an account goes before those whose session this watcher keeps.
        late_after = timedelta(seconds=interval * 1.5)
        # Claims stop after an interval: with more accounts than it can check in one, a pass
        # would never end, nor would what runs between passes (IDLE sync, closing sessions).
        claims_until = self.clock() + timedelta(seconds=interval)
        cut_short = False

        def claim(limit: int) -> list[int]:
            nonlocal cut_short
            # News that came during this pass (IDLE, push) is served by the next free worker,
            # not after the pass: at 1,000 accounts a pass takes long.
            with self._woken_lock:
                pending.update(self._woken)
                self._woken.clear()
            if self.clock() >= claims_until:
                cut_short = True
                return []
            if woken_only and not pending:
                return []
            ids = self.store.claim_accounts(
                self.owner,
                self.clock(),
                self.lease,
                limit,
                fresh_for=fresh_for,
                push_fresh_for=push_fresh_for,
                woken=pending,
                only=pending if woken_only else None,
                kept=self.kept.kept_ids() if self.kept is not None else (),
                late_before=self.clock() - late_after,
            )
            pending.difference_update(ids)
            return ids

        def news() -> bool:
            with self._woken_lock:
                return bool(self._woken)

        def serve(account_id: int) -> PassReport:
            return self._serve_leased(account_id, keep_session=True)

        def release(account_id: int) -> None:
            self.store.release_account(account_id, self.owner)

        report = serve_accounts(claim, serve, self.workers, self._stopping, news, release)
        if cut_short and pending:  # woken but not reached: the next pass serves them first
            with self._woken_lock:
                self._woken.update(pending)
        return report

    def _serve_leased(self, account_id: int, keep_session: bool = False) -> PassReport:
        """One account worker's job: serve a leased account, keep the lease, give it back."""
        report = PassReport()
        released = False
        try:
            with self._keep_lease(Account, account_id):
                released = self.serve_account(account_id, report, keep_session=keep_session)
        finally:
            if not released:
                self.store.release_account(account_id, self.owner)
        return report

    def _serve_due_accounts(self, woken: set[int], woken_only: bool) -> PassReport:
        """`once`'s pass: every account not backing off, one after another."""
        report = PassReport()
        served: set[int] = set()
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
            report.merge(self._serve_leased(account_id))

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

    def serve_account(self, account_id: int, report: PassReport, keep_session=False) -> bool:
        """Check one account and act on it. `keep_session` (the loop's passes): take up its
        kept IMAP session and keep it for the next pass (watcher.engine.kept). True if the
        check went well: it was then marked so, and our lease released, in one statement."""
        checked_at = self.clock()
        report.accounts += 1
        report.served.add(account_id)
        try:
            account, cursor = self._account_view(account_id)
            mailbox = None
            try:
                with self._session_for(account, keep_session) as mailbox:
                    self._keep_watch(account, mailbox)
                    self._ensure_trigger_folders(account, mailbox)
                    self._read_changes(account, mailbox, report, cursor)
                    self._run_triggers(account, mailbox)
                    agenda = self._agenda(account)  # the steps below with something to do
                    if agenda.planning:  # zones of recipients of new or due follow-ups
                        self._learn_zones(account, mailbox)
                    if agenda.flagged:
                        self._check_flagged(account, mailbox, report)
                    if agenda.overdue:
                        self._spread_overdue(account)
                    if agenda.due or agenda.flagged:  # a thread read may make one due
                        self._act_on_due(account, mailbox, report)
                    if agenda.later_due:
                        later_send.serve_for(self, account, mailbox)  # drafts to send later
            finally:  # after the session is closed or kept: its LOGOUT counts too
                if mailbox is not None:
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
            return False
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
            return False
        self.store.mark_account_ok(
            account_id, self.clock(), checked_at=checked_at, release_owner=self.owner
        )
        return True

    @contextlib.contextmanager
    def _session_for(self, account: AccountView, keep: bool):
        """The account's mailbox: its kept session when there is one, else a new mailbox;
        after the check kept (clean check) or closed (a fault may have broken it)."""
        if not keep or self.kept is None:
            mailbox = self.mailbox_factory(account.spec, self.config)
            with mailbox:
                yield mailbox
            return
        print_ = fingerprint(account.spec, self.mailbox_factory)
        mailbox = self.kept.take(account.id, print_)
        taken = mailbox is not None
        if mailbox is None:
            mailbox = self.mailbox_factory(account.spec, self.config)
        if not getattr(mailbox, "keeps_session", False):  # Gmail: nothing to keep
            with mailbox:
                yield mailbox
            return
        try:
            yield mailbox
        except BaseException:
            self.kept.discard(mailbox, taken=taken)
            raise
        self.kept.give_back(account.id, print_, mailbox, taken=taken)

    def _agenda(self, account: AccountView) -> Agenda:
        now = self.clock()
        grace = timedelta(seconds=self.config.overdue_grace_seconds)
        return self.store.agenda(account.id, now, overdue_before=now - grace)

    def _account_view(self, account_id: int) -> tuple[AccountView, str | None]:
        """The account as the pass needs it, and its mailbox cursor: one short session."""
        with self.store.session() as s:
            account, cursor = self.store.account_with_cursor(s, account_id)
            view = AccountView(
                id=account.id,
                user_id=account.user_id,
                email=account.email,
                display_name=account.display_name,
                own_addresses=account.own_addresses,
                spec=self.store.account_spec(account),
            )
            return view, cursor

    def _retry(self, fn):
        return call_with_retry(fn, self.config.retry_attempts, self.config.retry_wait_max)

    # -- acting -------------------------------------------------------------------------------

    def _act_on_due(self, account: AccountView, mailbox: Mailbox, report: PassReport) -> None:
        while True:
            if self._defer_over_cap(account):
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
