"""The small view objects the add-on builds from rows for the card builders (no I/O), and the
paging and history sizes the cards show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

PAGE_SIZE = 20
HISTORY_SHOWN = 8
STATE_LABELS = {
    "active": "Scheduled",
    "replied": "Stopped: they replied",
    "completed": "Done: every bump went out",
    "cancelled": "Cancelled",
    "failed": "Stopped",
}


@dataclass(frozen=True)
class FollowUpView:
    id: int
    subject: str
    recipient: str  # "Alice Smith" or an address
    state: str
    mode: str
    due_at: datetime | None
    stage: int  # the next stage to act on (1-based)
    stages: int
    stop_reason: str = ""
    texts: tuple[str | None, ...] = ()  # pending stage texts (None: the user's template)
    history: tuple[tuple[datetime, str, str], ...] = ()  # (at, kind, detail), oldest first


@dataclass(frozen=True)
class AccountView:
    email: str
    kind: str
    status: str
    reason: str = ""


@dataclass(frozen=True)
class MessageView:
    subject: str
    sender: str
    recipients: tuple[str, ...] = ()
    date: datetime | None = None


@dataclass(frozen=True)
class Page:
    items: Sequence[FollowUpView]
    total: int
    offset: int = 0
    attention: Sequence[AccountView] = field(default_factory=tuple)
    connected: bool = True
