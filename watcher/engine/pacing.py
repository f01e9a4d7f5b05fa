"""Pacing the due bumps before they are claimed: overdue ones spread after downtime, at most
max_bumps_per_minute per account, and the daily send cap (watcher.send_caps).

Mixed into Engine (watcher.engine.core); uses its store, config, clock and _note.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from .. import followups as fu_ops
from .. import send_caps
from ..models import Account, User
from ..schedule import spread_overdue
from .shared import AccountView

log = logging.getLogger(__package__)  # "watcher.engine", the logger name before the split


class PacingSteps:
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

    def _defer_over_cap(self, account: AccountView) -> bool:
        """The account's daily send cap is used up: the bumps due now wait for the next local
        day's window (remind-only follow-ups send nothing and go ahead). True if bumps are
        still due to send now (else the per-minute throttle has nothing to pace)."""
        now = self.clock()
        with self.store.session() as s:
            waiting = self.store.due_sends(s, account.id, now)
            if not waiting:  # an idle pass: one indexed query, no count
                return False
            cap = send_caps.status(s, s.get(Account, account.id), now)
            if not cap.reached:
                return True
            for followup in waiting:
                send_caps.defer(self.store, s, followup, cap, now)
            return False
