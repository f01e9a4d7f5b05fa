"""The ScheduledSend table: one draft the user asked to send later (watcher.later)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, UTCDateTime, new_token, utcnow

# What a ScheduledSend can be in (see the package docstring for the transitions).
SCHEDULED, SENDING, SENT, DONE = "scheduled", "sending", "sent", "done"
HELD, CANCELLED, FAILED, UNCONFIRMED = "held", "cancelled", "failed", "unconfirmed"
OPEN_STATES = (SCHEDULED, SENDING, SENT)  # the watcher still has work on it
ENDED_STATES = (DONE, HELD, CANCELLED, FAILED, UNCONFIRMED)


class ScheduledSend(Base):
    """A draft to send at `send_at`. The draft is found again by `draft_ref` (the newest
    version seen) and recognised across versions by `draft_key`."""

    __tablename__ = "scheduled_sends"
    __table_args__ = (
        UniqueConstraint("account_id", "draft_key"),
        Index("ix_scheduled_sends_due", "account_id", "state", "send_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # What its versions share: Gmail's draft id ("gmail-draft:<id>"), else the draft's
    # Message-ID ("<…>"), or "ref:<ref>" for a draft without one.
    draft_key: Mapped[str] = mapped_column(String(998))
    draft_ref: Mapped[str] = mapped_column(String(998))  # the newest version's mailbox ref
    draft_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when that version was seen
    tag_address: Mapped[str] = mapped_column(String(200))  # me+later-2w@…, left out when sent
    subject: Mapped[str] = mapped_column(Text, default="")
    recipients: Mapped[list] = mapped_column(JSON, default=list)  # To + Cc + Bcc, tag left out
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)  # "since" of unless-reply
    unless_reply: Mapped[bool] = mapped_column(Boolean, default=True)
    then_tag: Mapped[str | None] = mapped_column(String(200))  # "1w", "3d-1w": the follow-up
    state: Mapped[str] = mapped_column(String(20), default=SCHEDULED)
    token: Mapped[str] = mapped_column(String(40), unique=True, default=new_token)
    message_id: Mapped[str] = mapped_column(String(998))  # deterministic: exactly once
    sent_ref: Mapped[str | None] = mapped_column(String(998))
    followup_id: Mapped[int | None] = mapped_column(ForeignKey("followups.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")  # the last word to the user
    waited_for_edit: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
