"""An account's agenda agrees with the steps' own queries: a step it skips would have found
nothing, and each kind of work turns on its own flag (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.test_store import LEASE, T0, _followups
from tests.integration.test_store import _account as _store_account
from tests.integration.test_store import config as config  # the fixtures: both DBs
from tests.integration.test_store import store as store
from watcher.later.model import ScheduledSend
from watcher.models import FollowUp, User
from watcher.store import Agenda
from watcher.store import later as store_later

GRACE = timedelta(minutes=15)


def agenda(store, account_id) -> Agenda:
    return store.agenda(account_id, T0, overdue_before=T0 - GRACE)


def steps_find(store, account_id) -> Agenda:
    """What the steps' own queries find at the same moment."""
    with store.session() as s:
        flagged = bool(store.followups_needing_check(s, account_id, limit=50))
        overdue = bool(store.overdue_followups(s, account_id, T0 - GRACE, T0))
        planning = bool(store.followups_in_recipient_hours(s, account_id, T0))  # zone scan
    due = bool(store.claim_due("probe", T0, LEASE, 50, account_id))
    later_due = store_later.claim_due(store, "probe", T0, LEASE, account_id) is not None
    with store.session() as s:  # give the probe's leases back
        for model in (FollowUp, ScheduledSend):
            for row in s.query(model).filter(model.lease_owner == "probe"):
                row.lease_owner = row.lease_until = None
    return Agenda(flagged, overdue, due, later_due, planning)


def _account(store, email="alice@example.test", recipient_hours=False):
    """An account whose owner keeps recipients' working hours, so the zone scan's query
    (followups_in_recipient_hours) answers and can be compared."""
    account_id, user_id = _store_account(store, email)
    if recipient_hours:
        with store.session() as s:
            s.get(User, user_id).window_mode = "recipient"
    return account_id, user_id


def _followup(store, account_id, user_id, due, needs_check=False) -> int:
    """One active follow-up; its first thread read done unless `needs_check`."""
    (fid,) = _followups(store, account_id, user_id, [due])
    with store.session() as s:
        s.get(FollowUp, fid).needs_check = needs_check
    return fid


def _scheduled(store, account_id, user_id, send_at):
    with store.session() as s:
        s.add(
            ScheduledSend(
                user_id=user_id, account_id=account_id, draft_key="d1", draft_ref="r1",
                draft_seen_at=T0, tag_address="a+later-2w@example.test", send_at=send_at,
                scheduled_at=T0 - timedelta(days=1), message_id="<rw-later.1@x>",
            )
        )  # fmt: skip


def test_an_idle_account_has_nothing_on_its_agenda(store):
    account_id, user_id = _account(store, recipient_hours=True)
    _followup(store, account_id, user_id, T0 + timedelta(days=3))  # waiting, not due
    _scheduled(store, account_id, user_id, T0 + timedelta(days=1))
    assert agenda(store, account_id) == Agenda(False, False, False, False, False)
    assert steps_find(store, account_id) == agenda(store, account_id)


@pytest.mark.parametrize(
    "case",
    ["flagged", "due", "overdue", "leased", "later_due", "other_account"],
)
def test_each_kind_of_work_is_on_the_agenda_exactly_when_the_step_would_find_it(store, case):
    account_id, user_id = _account(store, recipient_hours=True)
    other_id, other_user = _account(store, "bob@example.test", recipient_hours=True)
    if case == "flagged":
        _followup(store, account_id, user_id, T0 + timedelta(days=3), needs_check=True)
    elif case in ("due", "overdue", "leased"):
        late = {"due": timedelta(minutes=1), "overdue": GRACE + timedelta(minutes=1)}
        fid = _followup(store, account_id, user_id, T0 - late.get(case, timedelta(0)))
        if case == "leased":
            with store.session() as s:
                f = s.get(FollowUp, fid)
                f.lease_owner, f.lease_until = "another-watcher", T0 + LEASE
    elif case == "later_due":
        _scheduled(store, account_id, user_id, T0)
    else:  # work of another account is not this one's
        _followup(store, other_id, other_user, T0 - GRACE * 2, needs_check=True)
    expected = {
        "flagged": Agenda(True, False, False, False, True),
        "due": Agenda(False, False, True, False, True),
        "overdue": Agenda(False, True, True, False, True),
        "leased": Agenda(False, False, False, False, True),  # a zone scan still looks at it
        "later_due": Agenda(False, False, False, True, False),
        "other_account": Agenda(False, False, False, False, False),
    }[case]
    assert agenda(store, account_id) == expected
    assert steps_find(store, account_id) == expected
