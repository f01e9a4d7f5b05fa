"""Events: the history of every state change (what, when, why), per follow-up or account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Event
from .base import StoreBase


class EventQueries(StoreBase):
    def add_event(
        self,
        s: Session,
        *,
        user_id: int,
        kind: str,
        detail: str,
        at: datetime,
        followup_id: int | None = None,
        account_id: int | None = None,
        message_id: str | None = None,
        rule: str | None = None,
    ) -> Event:
        ev = Event(
            user_id=user_id,
            followup_id=followup_id,
            account_id=account_id,
            kind=kind,
            detail=detail,
            at=at,
            message_id=message_id,
            rule=rule,
        )
        s.add(ev)
        return ev

    def events_for(self, s: Session, followup_id: int) -> list[Event]:
        return list(
            s.scalars(select(Event).where(Event.followup_id == followup_id).order_by(Event.id))
        )

    def account_events(self, s: Session, account_id: int, limit: int = 20) -> list[Event]:
        return list(
            s.scalars(
                select(Event)
                .where(Event.account_id == account_id, Event.followup_id.is_(None))
                .order_by(Event.id.desc())
                .limit(limit)
            )
        )
