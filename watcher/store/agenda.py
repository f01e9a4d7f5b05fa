"""An account's agenda: which of a pass's steps have anything to do, in one statement.

An idle check used to ask four questions one by one (threads to re-read, overdue follow-ups,
due bumps, due scheduled sends), each in its own transaction, plus a claim that found nothing:
about a third of a kept-session check's CPU. The agenda asks them at once with the very
conditions the steps' own queries use (followups.needing_check, followups.overdue,
claims.due_followup, later.due, and the zone scan's "new or due"), so a step it skips would
have found nothing; a step it runs asks again and acts as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, exists, or_, select, true

from ..models import FollowUp, FollowUpState
from . import later
from .base import StoreBase
from .claims import due_followup
from .followups import needing_check, overdue


@dataclass(frozen=True)
class Agenda:
    flagged: bool  # follow-ups whose threads must be read again
    overdue: bool  # follow-ups due before the grace: to spread after downtime
    due: bool  # follow-ups due now (a bump to send, a reminder)
    later_due: bool  # scheduled sends to act on
    # Follow-ups about to be planned, leased or not (new or due): what a zone scan looks at
    # (RecipientQueries.followups_in_recipient_hours).
    planning: bool = True


@cache
def _agenda_statement():
    """Built once with bound parameters: building the expression was most of the agenda's CPU."""
    account_id, now = bindparam("account_id"), bindparam("now")
    overdue_before = bindparam("overdue_before")
    return select(
        exists().where(*needing_check(account_id)),
        exists().where(*overdue(account_id, overdue_before, now)),
        exists().where(FollowUp.account_id == account_id, *due_followup(now)),
        exists().where(*later.due(account_id, now)),
        exists().where(
            FollowUp.account_id == account_id,
            FollowUp.state == FollowUpState.ACTIVE,
            or_(FollowUp.needs_check == true(), FollowUp.due_at <= now),
        ),
    )


class AgendaQueries(StoreBase):
    def agenda(self, account_id: int, now: datetime, overdue_before: datetime) -> Agenda:
        params = {"account_id": account_id, "now": now, "overdue_before": overdue_before}
        with self.session() as s:
            return Agenda(*s.execute(_agenda_statement(), params).one())
