"""Seed ended (and running) follow-ups straight into the store, with their stages and the
Events the engine would have written, for the Results tests (watcher.stats, /settings/results).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from watcher.models import Event, FollowUp, FollowUpState, Stage, StageState

T0 = datetime.fromisoformat("2026-03-02T09:00:00+00:00")  # a Monday
_serial = itertools.count(1)


def add_user_account(store, email: str, account_email: str | None = None) -> tuple[int, int]:
    """A user with one IMAP account (never contacted): (user id, account id)."""
    with store.session() as s:
        user = store.get_or_create_user(s, email)
        account = store.add_account(
            s,
            user,
            kind="imap",
            email=account_email or email,
            settings={"imap_host": "127.0.0.1", "imap_port": 9, "imap_security": "none"},
            secret='{"imap_password": "pw", "smtp_password": "pw"}',
            now=T0,
        )
        return user.id, account.id


def add_account(store, user_id: int, email: str) -> int:
    with store.session() as s:
        user = store.get_user(s, user_id)
        return store.add_account(
            s,
            user,
            kind="imap",
            email=email,
            settings={"imap_host": "127.0.0.1", "imap_port": 9, "imap_security": "none"},
            secret='{"imap_password": "pw", "smtp_password": "pw"}',
            now=T0,
        ).id


def seed(
    s,
    user_id: int,
    account_id: int,
    *,
    state: str,
    bumps_done: list[timedelta] = (),
    stages: int | None = None,
    done_state: str = StageState.SENT,
    reply_after: timedelta | None = None,
    stopped_event_after: timedelta | None = None,
    origin: str = "",
    anchor_at: datetime = T0,
    updated_after: timedelta | None = None,
) -> FollowUp:
    """One follow-up anchored at `anchor_at`. `bumps_done`: when each done stage went out
    (offsets from the anchor); `stages`: how many stages in all (default: the done ones + 1,
    or exactly the done ones when COMPLETED). `reply_after`: the reply's time, stored in
    `replied_at`; leave it None for a follow-up from before that column, whose time only its
    "stopped" Event (`stopped_event_after`) or its `updated_at` (`updated_after`) tells."""
    total = stages or (len(bumps_done) if state == FollowUpState.COMPLETED else len(bumps_done) + 1)
    f = FollowUp(
        user_id=user_id,
        account_id=account_id,
        anchor_message_id=f"<results-seed-{next(_serial)}@example.test>",
        anchor_at=anchor_at,
        clock_base_at=anchor_at,
        state=state,
        current_stage=min(len(bumps_done) + 1, total),
        origin=origin,
        subject="seeded",
        to_addrs=["bob@example.test"],
        needs_check=False,
    )
    for position in range(1, total + 1):
        done = position <= len(bumps_done)
        f.stages.append(
            Stage(
                position=position,
                delay="1w",
                state=done_state if done else StageState.PENDING,
                done_at=anchor_at + bumps_done[position - 1] if done else None,
            )
        )
    if reply_after is not None:
        f.replied_at = anchor_at + reply_after
    if updated_after is not None:
        f.updated_at = anchor_at + updated_after
    s.add(f)
    s.flush()
    for position, offset in enumerate(bumps_done, start=1):
        s.add(
            Event(
                user_id=user_id,
                followup_id=f.id,
                kind="sent",
                detail=f"sent stage {position}",
                at=anchor_at + offset,
            )
        )
    if stopped_event_after is not None:
        s.add(
            Event(
                user_id=user_id,
                followup_id=f.id,
                kind="stopped",
                detail="stopped: reply from bob@example.test",
                at=anchor_at + stopped_event_after,
            )
        )
    return f
