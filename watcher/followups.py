"""What the faces (CLI, settings page, add-on) do to follow-ups: create, cancel, snooze.

They never send mail; they change rows and write Events. The engine does the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from . import schedule
from .classify import REPLIER_POLICIES
from .errors import ConflictError, ValidationError
from .mailbox import MessageSummary
from .models import Account, FollowUp, FollowUpState, Mode, Stage, StageState

# When a stage falls due lives in stage_timing; the faces keep calling these by this module.
from .stage_timing import DuePlan as DuePlan
from .stage_timing import format_local as format_local
from .stage_timing import plan_stage as plan_stage
from .stage_timing import recipient_of as recipient_of
from .stage_timing import recipient_zone_of as recipient_zone_of
from .stage_timing import stage_due as stage_due
from .stage_timing import user_window as user_window
from .store import Store

MAX_STAGES = 5
OWN_MESSAGE_POLICIES = ("restart", "ignore", "stop")
WINDOW_MODES = ("mine", "recipient")  # User.window_mode


@dataclass(frozen=True)
class StageSpec:
    """One bump: after a delay (from the previous message) or at a fixed time; its text."""

    delay: schedule.Delay | None = None
    at: datetime | None = None
    text: str | None = None

    def __post_init__(self):
        if (self.delay is None) == (self.at is None):
            raise ValidationError("a stage needs either a delay or a date, not both")


def parse_stage(text: str, now: datetime, tz: str) -> StageSpec:
    """'2w' -> a delay; '2026-12-01 09:00' -> a fixed time in the user's zone."""
    try:
        return StageSpec(delay=schedule.parse_delay(text))
    except ValidationError:
        return StageSpec(at=schedule.parse_when(text, now, tz))


def plus_tag(address: str, own_addresses: Iterable[str]) -> str | None:
    """TAG if `address` is local+TAG@domain for one of the user's own local@domain (any case)."""
    address = address.strip().lower()
    local, at, domain = address.rpartition("@")
    base, plus, tag = local.partition("+")
    if not at or not plus or not base:
        return None
    return tag if f"{base}@{domain}" in {a.lower() for a in own_addresses} else None


def theirs(addresses: Iterable[str], own: frozenset[str]) -> list[str]:
    """Who a bump goes to of these addresses: never the user, nor their plus-addresses."""
    return [a for a in addresses if a not in own and plus_tag(a, own) is None]


def create_followup(
    store: Store,
    s: Session,
    *,
    account: Account,
    anchor: MessageSummary,
    stages: list[StageSpec],
    mode: str = Mode.SEND,
    replier_policy: str | None = None,
    now: datetime,
    jitter_minutes: int = 0,
    origin: str = "",
) -> FollowUp:
    """A new follow-up on a message the user sent. Validates everything before writing.

    `jitter_minutes`: Config.send_jitter_minutes of the face that creates it. `origin`: the
    trigger that created it ("plus-address me+2w@…"), "" when made by hand."""
    user = account.user
    if not stages:
        raise ValidationError("a follow-up needs at least one stage")
    if len(stages) > MAX_STAGES:
        raise ValidationError(f"at most {MAX_STAGES} bumps per follow-up")
    if mode not in (Mode.SEND, Mode.REMIND):
        raise ValidationError(f"unknown mode {mode!r}: use send or remind")
    policy = replier_policy or user.replier_policy
    if policy not in REPLIER_POLICIES:
        raise ValidationError(f"unknown replier policy {policy!r}: {', '.join(REPLIER_POLICIES)}")
    if not anchor.message_id:
        raise ValidationError("that message has no Message-ID, so replies cannot be matched")
    if anchor.from_addr and anchor.from_addr not in account.own_addresses:
        raise ValidationError(
            f"{anchor.message_id} was sent by {anchor.from_addr}, not by {account.email}: "
            "follow-ups go on messages you sent"
        )
    own = account.own_addresses
    recipients = theirs((*anchor.to, *anchor.cc), own)
    if not recipients and mode == Mode.SEND:
        raise ValidationError("that message has no recipients other than you")
    if store.active_followup_for_anchor(s, account.id, anchor.message_id):
        raise ConflictError("there is already an active follow-up on that message")
    for spec in stages:
        if spec.at is not None and spec.at <= now:
            raise ValidationError("a follow-up date must be in the future")

    anchor_at = anchor.date or now
    followup = FollowUp(
        user_id=user.id,
        account_id=account.id,
        anchor_message_id=anchor.message_id,
        anchor_at=anchor_at,
        thread_ref=anchor.thread_ref,
        subject=anchor.subject,
        to_addrs=theirs(anchor.to, own),
        cc_addrs=theirs(anchor.cc, own),
        recipient_name=anchor.names.get(recipients[0], "") if recipients else "",
        mode=mode,
        state=FollowUpState.ACTIVE,
        current_stage=1,
        clock_base_at=anchor_at,
        needs_check=True,
        replier_policy=policy,
        origin=origin,
        created_at=now,
        updated_at=now,
    )
    for position, spec in enumerate(stages, start=1):
        followup.stages.append(
            Stage(
                position=position,
                delay=str(spec.delay) if spec.delay else None,
                at=spec.at,
                text=spec.text,
                state=StageState.PENDING,
            )
        )
    s.add(followup)
    s.flush()
    plan = plan_stage(
        store,
        s,
        followup,
        followup.stages[0],
        anchor_at,
        user,
        jitter_minutes=jitter_minutes,
        not_before=now,
    )
    followup.due_at = plan.at
    late = ""
    if plan.late:  # the message is older than the delay: due at the next chance
        late = " (your message is older than the delay, so it is due now)"
    store.track(s, followup.id, {anchor.message_id, *anchor.references, *anchor.in_reply_to})
    what = "remind you" if mode == Mode.REMIND else "send a bump"
    store.add_event(
        s,
        user_id=user.id,
        followup_id=followup.id,
        kind="created",
        detail=(
            f"will {what} at {format_local(followup.due_at, user.timezone)} if nobody replies"
            f"{late} ({describe_stages(followup, user.timezone)})"
            + (f"; {plan.note}" if plan.note else "")
            + (f"; set by {origin}" if origin else "")
        ),
        message_id=anchor.message_id,
        at=now,
    )
    return followup


def cancel_followup(store: Store, s: Session, followup: FollowUp, now: datetime) -> None:
    if followup.state != FollowUpState.ACTIVE:
        raise ConflictError(f"follow-up {followup.id} is {followup.state}, not active")
    followup.end(FollowUpState.CANCELLED, "cancelled by you")
    drafts = [
        st.position for st in followup.stages if st.draft_ref and st.state == StageState.PENDING
    ]
    kept = (
        f"; your draft for bump {drafts[0]} is not sent and stays where you filed it"
        if drafts
        else ""
    )
    store.add_event(
        s,
        user_id=followup.user_id,
        followup_id=followup.id,
        kind="cancelled",
        detail="cancelled by you" + kept,
        at=now,
    )


def settle_unconfirmed(
    store: Store, s: Session, followup: FollowUp, *, went_out: bool, now: datetime
) -> Stage:
    """The user's word on a bump whose hand-over broke off (stage UNCONFIRMED): it went out
    (recorded as sent), or it did not arrive (sent again at the next chance in the window;
    the follow-up picks up again from that bump). Replywatch never decides this alone."""
    stage = next(
        (st for st in reversed(followup.stages) if st.state == StageState.UNCONFIRMED), None
    )
    if stage is None:
        raise ConflictError("no bump of this follow-up is waiting for your word")
    user = followup.account.user
    event = dict(user_id=followup.user_id, followup_id=followup.id, at=now)
    if went_out:
        stage.state = StageState.SENT
        detail = f"you confirmed that bump {stage.position} went out"
        store.add_event(s, kind="confirmed", detail=detail, message_id=stage.message_id, **event)
        return stage
    if followup.state not in (FollowUpState.ACTIVE, FollowUpState.COMPLETED):
        raise ConflictError(f"follow-up {followup.id} is {followup.state}: nothing is sent again")
    later = [st for st in followup.stages if st.position > stage.position]
    if any(st.state != StageState.PENDING for st in later):
        raise ConflictError("a later bump has gone out since: this one is not sent again")
    stage.state = StageState.PENDING  # its Message-ID stays: Sent is searched before sending
    stage.done_at = None
    followup.state = FollowUpState.ACTIVE
    followup.stop_reason = ""
    followup.current_stage = stage.position
    followup.needs_check = True  # a reply may have come meanwhile: read the thread first
    followup.due_at = schedule.next_in_window(now, user_window(user))
    detail = (
        f"you said bump {stage.position} did not arrive: it goes out again "
        f"{format_local(followup.due_at, user.timezone)} if nobody replies"
    )
    store.add_event(s, kind="resend", detail=detail, message_id=stage.message_id, **event)
    return stage


def snooze_followup(
    store: Store, s: Session, followup: FollowUp, until: datetime, now: datetime, tz: str
) -> None:
    if followup.state != FollowUpState.ACTIVE:
        raise ConflictError(f"follow-up {followup.id} is {followup.state}, not active")
    if until <= now:
        raise ValidationError("snooze until a time in the future")
    if until - now > timedelta(days=366):
        raise ValidationError("snooze for at most a year")
    followup.due_at = until
    store.add_event(
        s,
        user_id=followup.user_id,
        followup_id=followup.id,
        kind="snoozed",
        detail=f"snoozed until {format_local(until, tz)}",
        at=now,
    )


def edit_stages(
    store: Store,
    s: Session,
    followup: FollowUp,
    *,
    stages: dict[int, StageSpec],
    replier_policy: str,
    mode: str | None = None,
    now: datetime,
    jitter_minutes: int = 0,
) -> None:
    """Change the bumps still to come (by position: timing and text), who counts as a replier,
    and whether bumps are sent or only remind the user."""
    if followup.state != FollowUpState.ACTIVE:
        raise ConflictError(f"follow-up {followup.id} is {followup.state}, not active")
    if replier_policy not in REPLIER_POLICIES:
        raise ValidationError(f"unknown replier policy {replier_policy!r}")
    if mode is not None and mode not in (Mode.SEND, Mode.REMIND):
        raise ValidationError(f"unknown mode {mode!r}: use send or remind")
    if mode == Mode.SEND and not (followup.to_addrs or followup.cc_addrs):
        raise ValidationError("that message has no recipients other than you")
    user = followup.account.user
    changed = []
    if mode is not None and mode != followup.mode:
        followup.mode = mode
        changed.append("only remind you" if mode == Mode.REMIND else "send the bumps")
    for position, spec in sorted(stages.items()):
        stage = followup.stage(position)
        if stage is None or stage.state != StageState.PENDING:
            raise ConflictError(f"bump {position} was already sent; it cannot be changed")
        if spec.at is not None and spec.at <= now:
            raise ValidationError("a follow-up date must be in the future")
        delay = str(spec.delay) if spec.delay else None
        if (stage.delay, stage.at, stage.text) != (delay, spec.at, spec.text):
            stage.delay, stage.at, stage.text = delay, spec.at, spec.text
            changed.append(f"bump {position}")
    if followup.replier_policy != replier_policy:
        followup.replier_policy = replier_policy
        changed.append(f"replier policy {replier_policy}")
    if not changed:
        return
    current = followup.stage()
    note = ""
    if current is not None and current.state == StageState.PENDING:
        plan = plan_stage(
            store,
            s,
            followup,
            current,
            followup.clock_base_at,
            user,
            jitter_minutes=jitter_minutes,
            not_before=now,
        )
        followup.due_at, note = plan.at, plan.note
    followup.updated_at = now
    when = format_local(followup.due_at, user.timezone)
    store.add_event(
        s,
        user_id=followup.user_id,
        followup_id=followup.id,
        kind="edited",
        detail=f"changed {', '.join(changed)}; next at {when}" + (f"; {note}" if note else ""),
        at=now,
    )


def edit_followup(
    store: Store, s: Session, followup: FollowUp, *, mode: str, text: str | None, now: datetime
) -> None:
    """Change what an active follow-up does (send/remind) and the text of its pending bumps.

    `text` is a stage template (None: the user's template). Timing changes are `snooze`.
    """
    if followup.state != FollowUpState.ACTIVE:
        raise ConflictError(f"follow-up {followup.id} is {followup.state}, not active")
    if mode not in (Mode.SEND, Mode.REMIND):
        raise ValidationError(f"unknown mode {mode!r}: use send or remind")
    if mode == Mode.SEND and not (followup.to_addrs or followup.cc_addrs):
        raise ValidationError("that message has no recipients other than you")
    changes = []
    if mode != followup.mode:
        followup.mode = mode
        changes.append("only remind you" if mode == Mode.REMIND else "send the bumps")
    pending = [st for st in followup.stages if st.state == StageState.PENDING]
    if any(st.text != text for st in pending):
        for st in pending:
            st.text = text
        changes.append("new text" if text is not None else "your default text")
    if changes:
        followup.updated_at = now
        store.add_event(
            s,
            user_id=followup.user_id,
            followup_id=followup.id,
            kind="edited",
            detail="edited: " + ", ".join(changes),
            at=now,
        )


def describe_stages(followup: FollowUp, tz: str = "UTC") -> str:
    """ "2 bumps: 3d, Tue 2026-12-08 09:00 CET": a fixed date in the user's zone `tz`."""
    parts = []
    for stage in followup.stages:
        parts.append(stage.delay if stage.delay else format_local(stage.at, tz))
    label = "bump" if len(parts) == 1 else "bumps"
    return f"{len(parts)} {label}: " + ", ".join(parts)
