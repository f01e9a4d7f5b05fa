"""Daily send caps: at most so many messages Replywatch sends from one account per day.

Providers suspend accounts that send too much, and the user's own mail counts against the same
limit. Each account has a cap (its own override, else its provider's default below), counted
from midnight to midnight in the user's time zone over what Replywatch itself sends: bumps and
help emails (a SendRecord each). A bump past the cap is deferred, never dropped: it waits for
the next local day's sending window, with an Event naming the cap.

Exactly once: a SendRecord is written in the transaction that passes a message's point of no
return (the stage becomes SENDING), together with the last check of the cap; a cap reached
there raises CapReached before the server can accept anything, and the stage stays PENDING.
A send that surely failed takes its record back (forget); a retry of the same Message-ID counts
once (one row per Message-ID).

Provider defaults. Providers count a rolling 24 hours; the cap counts the user's calendar day,
so two full days back to back may fall inside one provider window: a default is 40 % of the
documented limit (under half, leaving room for the mail the user sends by hand). A limit on
recipients is turned into messages at 10 recipients a bump (more is a mass mailing).
- Gmail: 500 messages a day (Google, "Gmail sending limits", support.google.com/mail/answer/22839)
  and Google Workspace: 2,000 a day, 500 for trial accounts, 10,000 recipients
  (support.google.com/a/answer/166852). A trial cannot be told apart: 200 for every Google
  account; a paid Workspace account may raise it to 800.
- Microsoft 365 / Exchange Online: 10,000 recipients a day (Exchange Online limits, "Sending
  limits", learn.microsoft.com/office365/servicedescriptions/exchange-online-service-description/
  exchange-online-limits): 400.
- Outlook.com (outlook.com, hotmail.*, live.*, msn.com addresses): 5,000 recipients a day for
  Microsoft 365 subscribers and "lower for non-subscribers", with no figure ("Sending limits in
  Outlook.com", support.microsoft.com/office/279ee200-594c-40f0-9ec8-bb6af7735c2e): 100.
- Anyone else (Fastmail, iCloud, Yahoo, a server of one's own): 100, a conservative default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from . import followups as fu_ops
from . import metrics, schedule
from .errors import ReplywatchError, ValidationError
from .models import Account, FollowUp, SendRecord, User

MAX_CAP = 100_000


@dataclass(frozen=True)
class Provider:
    name: str
    cap: int


GOOGLE = Provider("Gmail / Google Workspace", 200)
MICROSOFT_365 = Provider("Microsoft 365", 400)
OUTLOOK_COM = Provider("Outlook.com", 100)
OTHER = Provider("other providers", 100)

GOOGLE_HOSTS = ("smtp.gmail.com", "smtp.googlemail.com")
MICROSOFT_HOSTS = ("smtp.office365.com", "smtp-mail.outlook.com")
OUTLOOK_DOMAINS = ("outlook.", "hotmail.", "live.", "msn.com")


class CapReached(ReplywatchError):
    """The account's daily cap is reached: nothing more goes out today (checked before the
    point of no return, so nothing was handed to the server)."""


@dataclass(frozen=True)
class CapStatus:
    sent: int  # today, in the user's zone
    cap: int
    overridden: bool
    provider: Provider

    @property
    def reached(self) -> bool:
        return self.sent >= self.cap

    def describe(self) -> str:
        """'12 of 200 today', as the Accounts page and `account list` show it."""
        return f"{self.sent} of {self.cap} today"


def provider_of(account: Account) -> Provider:
    """The provider whose limits apply, from the account's kind, SMTP server and address."""
    domain = account.email.rsplit("@", 1)[-1].lower()
    host = str((account.settings or {}).get("smtp_host", "")).lower()
    if account.kind == "gmail" or host in GOOGLE_HOSTS:
        return GOOGLE
    if host in MICROSOFT_HOSTS or host.endswith(".outlook.com"):
        consumer = domain.startswith(OUTLOOK_DOMAINS)
        return OUTLOOK_COM if consumer else MICROSOFT_365
    return OTHER


def cap_of(account: Account) -> int:
    if account.daily_send_cap is not None:
        return account.daily_send_cap
    return provider_of(account).cap


def parse_cap(raw: str) -> int | None:
    """A cap as typed (CLI, settings page): a number, or "default" / empty for the provider's."""
    text = (raw or "").strip().lower()
    if text in ("", "default"):
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_CAP:
        raise ValidationError(
            f"a daily send cap is a whole number from 1 to {MAX_CAP:,}, or 'default' "
            f"(the provider's), not {raw!r}"
        )
    return int(text)


def day_bounds(now: datetime, zone: str) -> tuple[datetime, datetime]:
    """The user's local day around `now`, from midnight to midnight, as UTC instants."""
    tz = ZoneInfo(zone)
    day = now.astimezone(tz).date()
    start = datetime.combine(day, dt_time(0, 0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), dt_time(0, 0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def sent_today(s: Session, account_id: int, now: datetime, zone: str) -> int:
    start, end = day_bounds(now, zone)
    query = select(func.count()).where(
        SendRecord.account_id == account_id, SendRecord.at >= start, SendRecord.at < end
    )
    return s.scalar(query) or 0


def status(s: Session, account: Account, now: datetime) -> CapStatus:
    return CapStatus(
        sent=sent_today(s, account.id, now, account.user.timezone),
        cap=cap_of(account),
        overridden=account.daily_send_cap is not None,
        provider=provider_of(account),
    )


def claim(s: Session, account_id: int, message_id: str, kind: str, now: datetime) -> None:
    """At the point of no return, in its transaction: count this message, or raise CapReached
    when today's cap is already used up. A Message-ID counted before (a retry) passes."""
    known = s.scalar(
        select(SendRecord.id).where(
            SendRecord.account_id == account_id, SendRecord.message_id == message_id
        )
    )
    if known is not None:
        return
    account = s.get(Account, account_id)
    cap = status(s, account, now)
    if cap.reached:
        raise CapReached(f"the daily send cap of {account.email} is reached ({cap.describe()})")
    s.add(SendRecord(account_id=account_id, message_id=message_id, kind=kind, at=now))


def forget(s: Session, account_id: int, message_id: str | None) -> None:
    """The server surely did not take it: it does not count."""
    if message_id:
        s.execute(
            delete(SendRecord).where(
                SendRecord.account_id == account_id, SendRecord.message_id == message_id
            )
        )


def next_day_slot(store, s: Session, followup: FollowUp, user: User, now: datetime) -> datetime:
    """The first instant of the next local day inside the sending window (and, in recipient
    mode, the recipient's working hours when the two meet)."""
    _, tomorrow = day_bounds(now, user.timezone)
    mine = fu_ops.user_window(user)
    if user.window_mode == "recipient":
        zone, _ = fu_ops.recipient_zone_of(store, s, followup)
        at = schedule.next_in_both(tomorrow, mine, schedule.working_hours(zone or user.timezone))
        if at is not None:
            return at
    return schedule.next_in_window(tomorrow, mine)


def defer(store, s: Session, followup: FollowUp, cap: CapStatus, now: datetime) -> datetime:
    """Move a due bump to the next local day's window, with an Event naming the cap."""
    user = s.get(User, followup.user_id)
    account = s.get(Account, followup.account_id)
    when = next_day_slot(store, s, followup, user, now)
    followup.due_at = when
    source = "your setting" if cap.overridden else f"the default for {cap.provider.name}"
    store.add_event(
        s,
        user_id=followup.user_id,
        followup_id=followup.id,
        kind="send_cap",
        detail=(
            f"daily send cap reached: {account.email} sent {cap.describe()} (a cap of "
            f"{cap.cap} a day, {source}); this bump waits until "
            f"{fu_ops.format_local(when, user.timezone)}, the next day's sending window"
        ),
        at=now,
    )
    metrics.SEND_CAP_DEFERRALS.inc()
    return when
