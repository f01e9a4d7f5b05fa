"""Seed many tracked follow-ups straight into the store (for cost tests and benchmarks)."""

from __future__ import annotations

from datetime import datetime, timedelta

from watcher.models import FollowUp, FollowUpState, Stage, TrackedId


def seed_tracked_followups(store, account_id: int, user_id: int, count: int, now: datetime):
    """`count` active follow-ups, already checked once, due in a week: an idle account."""
    with store.session() as s:
        for i in range(count):
            anchor = f"<seed-{account_id}-{i}@example.test>"
            followup = FollowUp(
                user_id=user_id,
                account_id=account_id,
                anchor_message_id=anchor,
                anchor_at=now,
                clock_base_at=now,
                due_at=now + timedelta(days=7),
                state=FollowUpState.ACTIVE,
                needs_check=False,
                subject=f"seed {i}",
                to_addrs=["someone@example.test"],
            )
            followup.stages.append(Stage(position=1, delay="1w"))
            s.add(followup)
            s.flush()
            s.add(TrackedId(followup_id=followup.id, message_id=anchor))
