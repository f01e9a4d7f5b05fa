"""Pure: one user's rows -> Results and a Report (the definitions in the package docstring)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..models import FollowUpState, StageState

# Bucket keys in display order, with their labels. "after3" is shown only when it has any.
REPLY_BUCKETS = ("before", "after1", "after2", "after3")
ENDED_BUCKETS = (*REPLY_BUCKETS, "never")
OTHER_COUNTS = ("cancelled", "failed", "waiting")
LABELS = {
    "before": "Reply before any bump",
    "after1": "Reply after bump 1",
    "after2": "Reply after bump 2",
    "after3": "Reply after bump 3 or later",
    "never": "Never replied",
    "cancelled": "Cancelled",
    "failed": "Failed (bounced)",
    "waiting": "Still waiting",
}
DONE_STAGES = (StageState.SENT, StageState.REMINDED, StageState.UNCONFIRMED)
_STATE_COUNT = {
    FollowUpState.COMPLETED: "never",
    FollowUpState.CANCELLED: "cancelled",
    FollowUpState.FAILED: "failed",
    FollowUpState.ACTIVE: "waiting",
}
ORIGIN_LABELS = {
    "": "By hand",
    "plus-address": "Plus-address",
    "rule": "Rules",
    "folder": "Folders and labels",
    "draft": "Drafts in Replywatch/Bumps",
}
EMPTY_MESSAGE = "no follow-ups have ended yet"


def origin_kind(origin: str | None) -> str:
    """The trigger kind of an origin: "rule 'Cold outreach' (#3)" -> "rule"; by hand: ""."""
    return (origin or "").strip().split(" ", 1)[0]


def reply_bucket(bumps_before_reply: int) -> str:
    if bumps_before_reply <= 0:
        return "before"
    return f"after{min(bumps_before_reply, 3)}"


def median(values: Iterable[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None if empty."""
    values = list(values)
    return statistics.median(values) if values else None


def humanize(delta: timedelta | None) -> str:
    """A duration as people say it, two units at most: "2 days 4 hours", "35 minutes"."""
    if delta is None:
        return "-"
    minutes = int(max(delta.total_seconds(), 0) // 60)
    if minutes < 1:
        return "under a minute"
    parts = []
    for unit, size in (("day", 1440), ("hour", 60), ("minute", 1)):
        n, minutes = divmod(minutes, size)
        if n:
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    return " ".join(parts[:2])


@dataclass(frozen=True)
class ReplyRow:
    """One REPLIED follow-up, as the query hands it over."""

    account_id: int
    origin: str
    anchor_at: datetime
    reply_at: datetime
    bumps_before_reply: int

    @property
    def seconds_to_reply(self) -> float:
        return max((self.reply_at - self.anchor_at).total_seconds(), 0.0)


@dataclass(frozen=True)
class StateCount:
    """How many follow-ups of one account and origin are in one (non-replied) state."""

    account_id: int
    origin: str
    state: str
    count: int


@dataclass(frozen=True)
class Results:
    """The results of one scope: counts per bucket, shares of the ended, median reply times."""

    scope: str
    counts: Mapping[str, int]
    seconds_before_bump: tuple[float, ...] = ()  # time to reply, replies before any bump
    seconds_after_bump: tuple[float, ...] = ()  # time to reply, replies after a bump
    account_id: int | None = None
    origin: str | None = None

    def count(self, key: str) -> int:
        return self.counts.get(key, 0)

    @property
    def ended(self) -> int:
        return sum(self.count(k) for k in ENDED_BUCKETS)

    @property
    def replied(self) -> int:
        return sum(self.count(k) for k in REPLY_BUCKETS)

    @property
    def total(self) -> int:
        return self.ended + sum(self.count(k) for k in OTHER_COUNTS)

    def share(self, key: str) -> float | None:
        """The part of the ended follow-ups in this bucket (0..1); None when none ended."""
        return self.count(key) / self.ended if self.ended else None

    @property
    def buckets(self) -> tuple[str, ...]:
        """The ended buckets worth showing: "after bump 3 or later" only if any."""
        return tuple(k for k in ENDED_BUCKETS if k != "after3" or self.count("after3"))

    @property
    def median_reply(self) -> timedelta | None:
        return _seconds(median([*self.seconds_before_bump, *self.seconds_after_bump]))

    @property
    def median_before_bump(self) -> timedelta | None:
        return _seconds(median(self.seconds_before_bump))

    @property
    def median_after_bump(self) -> timedelta | None:
        return _seconds(median(self.seconds_after_bump))

    def as_dict(self) -> dict:
        """For --json: plain numbers; shares as fractions (null with nothing ended)."""

        def secs(delta: timedelta | None) -> float | None:
            return None if delta is None else delta.total_seconds()

        return {
            "scope": self.scope,
            "account_id": self.account_id,
            "origin": self.origin,
            "ended": self.ended,
            "counts": {k: self.count(k) for k in (*ENDED_BUCKETS, *OTHER_COUNTS)},
            "shares": {k: self.share(k) for k in ENDED_BUCKETS},
            "median_seconds_to_reply": secs(self.median_reply),
            "median_seconds_to_reply_before_bump": secs(self.median_before_bump),
            "median_seconds_to_reply_after_bump": secs(self.median_after_bump),
        }


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


@dataclass(frozen=True)
class Report:
    """One user's results: overall, per account, per way of creating follow-ups."""

    overall: Results
    accounts: tuple[Results, ...] = ()
    origins: tuple[Results, ...] = ()

    def as_dict(self) -> dict:
        return {
            "overall": self.overall.as_dict(),
            "accounts": [r.as_dict() for r in self.accounts],
            "origins": [r.as_dict() for r in self.origins],
        }


@dataclass
class _Tally:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    before: list[float] = field(default_factory=list)
    after: list[float] = field(default_factory=list)

    def add_state(self, row: StateCount) -> None:
        key = _STATE_COUNT.get(row.state)
        if key is not None:
            self.counts[key] += row.count

    def add_reply(self, row: ReplyRow) -> None:
        bucket = reply_bucket(row.bumps_before_reply)
        self.counts[bucket] += 1
        (self.before if bucket == "before" else self.after).append(row.seconds_to_reply)

    def results(self, scope: str, **where) -> Results:
        return Results(
            scope=scope,
            counts=dict(self.counts),
            seconds_before_bump=tuple(sorted(self.before)),
            seconds_after_bump=tuple(sorted(self.after)),
            **where,
        )


def build_report(
    accounts: Iterable[tuple[int, str]],
    state_counts: Iterable[StateCount],
    replies: Iterable[ReplyRow],
    overall_scope: str = "All accounts",
) -> Report:
    """Pure: the rows of one user's queries -> their Report. `accounts` are (id, e-mail) in
    display order; every one gets a line, follow-ups or not."""
    overall = _Tally()
    by_account: dict[int, _Tally] = defaultdict(_Tally)
    by_origin: dict[str, _Tally] = defaultdict(_Tally)
    for row in state_counts:
        for tally in (overall, by_account[row.account_id], by_origin[origin_kind(row.origin)]):
            tally.add_state(row)
    for row in replies:
        for tally in (overall, by_account[row.account_id], by_origin[origin_kind(row.origin)]):
            tally.add_reply(row)
    # By hand first, then the known trigger kinds in their order, then anything new.
    known = list(ORIGIN_LABELS)
    kinds = sorted(by_origin, key=lambda k: (known.index(k) if k in known else len(known), k))
    return Report(
        overall=overall.results(overall_scope),
        accounts=tuple(
            by_account[account_id].results(email, account_id=account_id)
            for account_id, email in accounts
        ),
        origins=tuple(
            by_origin[k].results(ORIGIN_LABELS.get(k, k.capitalize()), origin=k) for k in kinds
        ),
    )
