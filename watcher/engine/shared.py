"""What the engine's rooms share: the pass report, the account view, the order of messages."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

from ..errors import ReplywatchError
from ..mailbox import AccountSpec, MessageSummary


def utcnow() -> datetime:
    return datetime.now(UTC)


class LeaseLost(ReplywatchError):
    """Another watcher owns this follow-up now; stop before sending anything."""


@dataclass
class PassReport:
    accounts: int = 0
    account_faults: int = 0
    messages: int = 0
    stopped: int = 0
    sent: int = 0
    reminded: int = 0
    failed: int = 0
    unconfirmed: int = 0
    own_sent: int = 0  # Replywatch's own bumps and notices seen again in Sent: not news
    served: set[int] = field(default_factory=set)  # ids of the accounts this pass checked
    faults: list[str] = field(default_factory=list)

    def merge(self, other: PassReport) -> None:
        """Add another report's counts (one account worker's) into this one."""
        for f in fields(self):
            if f.type == "int":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.served |= other.served
        self.faults.extend(other.faults)

    def __str__(self) -> str:
        own = f" (and {self.own_sent} sent by Replywatch itself)" if self.own_sent else ""
        return (
            f"{self.accounts} account(s) checked, {self.messages} new message(s){own}, "
            f"{self.stopped} stopped by reply, {self.sent} bump(s) sent, "
            f"{self.reminded} reminder(s), {self.failed} failed, "
            f"{self.account_faults} account fault(s)"
        )


@dataclass(frozen=True)
class AccountView:
    """What a pass needs of an account and its owner, read before any network I/O."""

    id: int
    user_id: int
    email: str
    display_name: str
    own_addresses: frozenset[str]
    spec: AccountSpec


def date_key(msg: MessageSummary) -> datetime:
    return msg.date or datetime.min.replace(tzinfo=UTC)


def sent_first(msg: MessageSummary) -> tuple[datetime, bool]:
    """By date, and of two copies of one message (the Sent copy of a Bcc to oneself and the
    inbox copy) the Sent one first: it is judged as the user's own, and the inbox copy, with
    the same Message-ID, is then already known."""
    return date_key(msg), not msg.in_sent
