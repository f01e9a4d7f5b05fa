"""Recovery of a hand-over that broke off (a crash, or a line that dropped before the server's
answer): settled by evidence (watcher.handover) as SENT, UNCONFIRMED, wait, or send again.

Mixed into Engine (watcher.engine.core); uses its store, config, clock, owner, _retry and
the stage records.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from .. import followups as fu_ops
from .. import handover, send_caps
from ..models import StageState, User

log = logging.getLogger(__package__)  # "watcher.engine", the logger name before the split

UNCONFIRMED_RECHECK = timedelta(minutes=10)  # before retrying a send that Sent says never left


class RecoverySteps:
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
