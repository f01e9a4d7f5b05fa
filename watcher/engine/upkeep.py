"""Upkeep around the reading and sending: the IMAP IDLE claims, Gmail's push watch, the
trigger folders and what triggers recorded, and learning recipients' time zones.

Mixed into Engine (watcher.engine.core); uses its store, config, clock, owner,
mailbox_factory and _retry, and keeps its per-process state (_idle, _idle_lock,
_watch_retry_at, _trigger_folders_ready, _zone_scan_retry_at), set up in Engine.__init__.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from .. import triggers, zone_scan
from ..errors import AuthFailed, ReplywatchError
from ..idle import IdleWatchers
from ..mailbox import AccountSpec, Mailbox
from ..models import Account, AccountStatus
from ..wake import notify
from .shared import AccountView

log = logging.getLogger(__package__)  # "watcher.engine", the logger name before the split

# Gmail's users.watch lasts 7 days; Google recommends calling it once per day (Gmail API guide
# "Push Notifications", "Renewing mailbox watch"): renewed when under 6 days are left.
WATCH_RENEW_BEFORE = timedelta(days=6)
WATCH_RETRY = timedelta(hours=1)  # after a failed users.watch (it costs 100 quota units)
IDLE_LOCK_KEY = 0x52574944  # the IDLE lock_for_life key (SQLite: granted; PostgreSQL: unused)


class UpkeepSteps:
    def _idle_watchers(self) -> IdleWatchers | None:
        """IMAP IDLE, one connection per inbox across all watcher processes. On PostgreSQL
        each process claims accounts one by one (an advisory lock each, on a connection of
        its own) up to its share, so the connections spread over the processes and a dead
        process's accounts pass to the others; SQLite has one watcher process: it holds all."""
        if self._idle is not None:
            if self._idle_lock.held():
                return self._idle
            log.info("watcher %s lost its IDLE claims (database connection gone)", self.owner)
            self._drop_idle()
        if not self.store.is_postgres:
            self._idle_lock = self.store.lock_for_life(IDLE_LOCK_KEY)  # always granted
            self._idle = IdleWatchers(self.config, self._inbox_news, self.mailbox_factory)
            return self._idle
        claims = self.store.idle_claims()
        self._idle_lock = claims
        self._idle = IdleWatchers(
            self.config,
            self._inbox_news,
            self.mailbox_factory,
            claim=claims.claim,
            release=claims.release,
            share=lambda n: -(-n // max(1, claims.watchers())),  # ceil(n / watchers)
        )
        log.info("watcher %s holds its share of the IMAP IDLE connections", self.owner)
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
            lock.close()

    def _idle_accounts(self) -> dict[int, AccountSpec]:
        """IMAP accounts in good standing: the ones worth an IDLE connection."""
        with self.store.session() as s:
            return {
                a.id: self.store.account_spec(a)
                for a in self.store.list_accounts(s)
                if a.kind == "imap" and a.status == AccountStatus.OK
            }

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
