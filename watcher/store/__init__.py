"""Store: the database engine, short sessions, and every query by name.

Callers never hold a session across network I/O: the engine reads what it needs into plain
values, talks to the mail server, then comes back with a short write. Claims take a lease in one
statement (`UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING id` on
PostgreSQL; SQLite serializes writers with BEGIN IMMEDIATE), so several watchers can share work.

One module per aggregate, each a mixin on StoreBase (they all need its session factory), all
combined into the one `Store` object callers hold (`store.method(s, ...)`):

    base.py        the engine, sessions, migrate(), dispose(); Store(url, keys), from_config
    locks.py       lock_for_life (one process at a time), idle_claims (IDLE per account)
    claims.py      leases on accounts and due follow-ups: claim, renew, release
    cursors.py     each account's mailbox cursor, moved compare-and-set (StaleCursor)
    accounts.py    connect, look up, health, disconnect, reconnect, trigger folders
    agenda.py      which of a pass's steps an account needs, in one statement
    followups.py   follow-ups: lookups and pages, thread tracking, due and overdue, deleting
    rules.py       automatic rules and the trigger items they produced
    recipients.py  correspondents' time zones
    events.py      the history of every state change
    users.py       users and failed sign-in attempts
SQL lives only here.
"""

from .accounts import MAX_BACKOFF, AccountQueries
from .agenda import Agenda, AgendaQueries
from .base import MIGRATIONS_DIR, StoreBase, make_engine
from .claims import ClaimQueries
from .cursors import CursorQueries, StaleCursor
from .events import EventQueries
from .followups import FollowUpQueries
from .locks import LockQueries, ProcessLock
from .recipients import RecipientQueries
from .rules import RuleQueries
from .users import UserQueries

__all__ = [
    "MAX_BACKOFF",
    "MIGRATIONS_DIR",
    "Agenda",
    "ProcessLock",
    "StaleCursor",
    "Store",
    "StoreBase",
    "make_engine",
]


class Store(
    AccountQueries,
    AgendaQueries,
    ClaimQueries,
    CursorQueries,
    EventQueries,
    FollowUpQueries,
    LockQueries,
    RecipientQueries,
    RuleQueries,
    UserQueries,
):
    """The one entry to the database: every query by name, grouped by aggregate above."""
