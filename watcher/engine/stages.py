"""The stage records every room writes: a history line, a stage done (and the next one
planned) in one transaction, a hand-over reset to PENDING, a follow-up failed.

Mixed into Engine (watcher.engine.core); uses its store, config, clock and owner.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import object_session

from .. import followups as fu_ops
from .. import send_caps
from ..models import FollowUp, FollowUpState, StageState, User

log = logging.getLogger(__package__)  # "watcher.engine", the logger name before the split


class StageRecords:
    def _fail(self, followup_id: int, reason: str) -> bool:
        with self.store.session() as s:
            followup = self.store.get_followup(s, followup_id)
            if not self.store.holds_lease(s, followup, self.owner, self.clock()):
                return False
            self._reset_stage(followup)
            followup.end(FollowUpState.FAILED, reason)
            self._note(s, followup, "failed", f"stopped as failed: {reason}")
        return True

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
