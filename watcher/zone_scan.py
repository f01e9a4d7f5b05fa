"""Learn where a correspondent lives from their own mail, in any thread, before a bump is planned.

Zones are otherwise learnt only from messages judged in tracked threads, so the first bump to a
new correspondent would keep the user's zone. For follow-ups whose owner keeps the recipient's
working hours (User.window_mode "recipient") and that are about to be planned (new, or due),
a recipient with no observations and no override gets one look at their latest messages
(`Mailbox.messages_from`, headers only): each Date header's offset goes to the same observation
store the engine feeds. If the learnt zone moves the pending bump, it is re-planned and the
follow-up's history says so.

Cost: at most one scan per correspondent per SCAN_EVERY (RecipientZone.scanned_at) and at most
SCANS_PER_PASS per account and pass; a failed scan is logged, never faults the account, and is
not tried again by this process for FAILED_SCAN_RETRY.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from . import followups as fu_ops
from .classify import ClassifyContext, classify
from .mailbox import Mailbox, MessageSummary
from .models import FollowUp, RecipientZone, StageState, User
from .recipient_zone import holiday_country_of
from .store import Store

log = logging.getLogger(__name__)

SCAN_EVERY = timedelta(days=30)
SCAN_LIMIT = 20  # messages read per scan: the latest ones, enough to span a DST change
SCANS_PER_PASS = 10  # per account: a first pass after an upgrade spreads its scans out
FAILED_SCAN_RETRY = timedelta(hours=6)


class ScanAccount(Protocol):
    """What a scan needs of the account (the engine's AccountView)."""

    id: int
    user_id: int
    own_addresses: frozenset[str]


def needs_scan(row: RecipientZone | None, now: datetime) -> bool:
    """No zone known (nothing observed, nothing set by the user) and not scanned lately."""
    if row is None:
        return True
    if row.override_zone or row.observations:
        return False
    return row.scanned_at is None or now - row.scanned_at >= SCAN_EVERY


def addresses_to_scan(
    store: Store, s, account: ScanAccount, now: datetime, failed: dict[tuple[int, str], datetime]
) -> list[str]:
    """Recipients of follow-ups about to be planned whose zone is worth one look."""
    chosen: list[str] = []
    for followup in store.followups_in_recipient_hours(s, account.id, now):
        address = fu_ops.recipient_of(followup)
        if not address or address in chosen or address in account.own_addresses:
            continue
        if failed.get((account.user_id, address), now) > now:
            continue
        if needs_scan(store.recipient_zone(s, account.user_id, address), now):
            chosen.append(address)
            if len(chosen) == SCANS_PER_PASS:
                break
    return chosen


def usable(msg: MessageSummary, address: str, context: ClassifyContext) -> bool:
    """A message the person wrote themselves, with a Date header that says where they were.

    Automatic mail (out-of-office, bounces, lists) carries the clock of some server instead."""
    if msg.is_draft or msg.from_addr != address:
        return False
    if msg.date is None or msg.date_offset_minutes is None:
        return False
    return classify(msg, context).kind == "reply"


def learn_zones(
    store: Store,
    mailbox: Mailbox,
    account: ScanAccount,
    *,
    clock: Callable[[], datetime],
    retry: Callable,
    jitter_minutes: int,
    failed: dict[tuple[int, str], datetime],
) -> int:
    """Scan the recipients that need it; returns how many scans succeeded.

    `failed` (kept by the caller across passes): (user id, address) -> when to try again."""
    now = clock()
    with store.session() as s:
        addresses = addresses_to_scan(store, s, account, now, failed)
    done = 0
    for address in addresses:
        try:
            found = retry(lambda address=address: mailbox.messages_from(address, SCAN_LIMIT))
        except Exception as e:  # an extra: the pass goes on, the zone stays unknown
            failed[(account.user_id, address)] = now + FAILED_SCAN_RETRY
            reason = getattr(e, "message", None) or type(e).__name__
            log.warning("account %s: reading mail from %s failed: %s", account.id, address, reason)
            continue
        failed.pop((account.user_id, address), None)
        context = ClassifyContext(account.own_addresses)
        mine = [m for m in (found or [])[:SCAN_LIMIT] if usable(m, address, context)]
        try:
            with store.session() as s:
                _apply(store, s, account, address, mine, clock(), jitter_minutes)
        except IntegrityError:  # the same row made meanwhile (another account of the user)
            log.info("account %s: %s was recorded meanwhile", account.id, address)
            continue
        done += 1
    return done


def _apply(
    store: Store,
    s,
    account: ScanAccount,
    address: str,
    messages: list[MessageSummary],
    now: datetime,
    jitter_minutes: int,
) -> None:
    """Record the scan and what it saw; re-plan the pending bumps the learnt zone moves."""
    row = store.recipient_zone(s, account.user_id, address)
    if not needs_scan(row, now):
        return  # learnt meanwhile (mail judged in a thread, the user set it, another watcher)
    user = s.get(User, account.user_id)
    followups = [
        f
        for f in store.followups_in_recipient_hours(s, account.id)
        if fu_ops.recipient_of(f) == address and _pending(f)
    ]
    before = {f.id: _plan(store, s, f, user, jitter_minutes) for f in followups}
    for msg in messages:
        store.observe_offset(s, account.user_id, address, msg.date, msg.date_offset_minutes)
    row = store.mark_zone_scanned(s, account.user_id, address, now)
    s.flush()
    if row.inferred_zone is None:
        log.info("account %s: %s's zone is still unknown", account.id, address)
        return
    for f in followups:
        after = _plan(store, s, f, user, jitter_minutes)
        if before[f.id].at == after.at or f.due_at != before[f.id].at:
            continue  # the zone changes nothing, or the time was moved on purpose (snooze...)
        if after.at < now:  # the delay ran out already: the next chance in the right hours
            after = _plan(store, s, f, user, jitter_minutes, not_before=now)
        was = fu_ops.format_local(f.due_at, user.timezone)
        f.due_at = after.at
        n = len(row.observations)
        country = holiday_country_of(row.zone)
        detail = (
            f"{address}'s time zone, {row.zone}"
            + (f" (public holidays of {country})" if country else "")
            + f", was learnt from {n} of their messages: "
            f"stage {f.current_stage} moved from {was} to "
            f"{fu_ops.format_local(after.at, user.timezone)}"
            + (f"; {after.note}" if after.note else "")
        )
        store.add_event(
            s, user_id=f.user_id, followup_id=f.id, kind="rescheduled", detail=detail, at=now
        )


def _pending(followup: FollowUp) -> bool:
    stage = followup.stage()
    return stage is not None and stage.state == StageState.PENDING


def _plan(store, s, followup: FollowUp, user: User, jitter_minutes: int, not_before=None):
    return fu_ops.plan_stage(
        store,
        s,
        followup,
        followup.stage(),
        followup.clock_base_at,
        user,
        jitter_minutes=jitter_minutes,
        not_before=not_before,
    )
