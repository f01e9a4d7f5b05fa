"""Table-driven: when a correspondent's own mail is worth reading for their zone."""

from datetime import UTC, datetime, timedelta

import pytest

from watcher.models import RecipientZone
from watcher.zone_scan import SCAN_EVERY, needs_scan

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
SEEN = [["2026-11-20T15:00:00+00:00", -300]]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param(None, True, id="never-heard-of"),
        pytest.param(RecipientZone(observations=[]), True, id="known-address-never-scanned"),
        pytest.param(RecipientZone(observations=SEEN), False, id="zone-learnt-already"),
        pytest.param(
            RecipientZone(observations=[], override_zone="Asia/Tokyo"), False, id="set-by-user"
        ),
        pytest.param(
            RecipientZone(observations=[], scanned_at=NOW - timedelta(days=1)),
            False,
            id="scanned-yesterday",
        ),
        pytest.param(
            RecipientZone(observations=[], scanned_at=NOW - SCAN_EVERY + timedelta(seconds=1)),
            False,
            id="scanned-just-under-a-month-ago",
        ),
        pytest.param(
            RecipientZone(observations=[], scanned_at=NOW - SCAN_EVERY), True, id="a-month-ago"
        ),
    ],
)
def test_needs_scan(row, expected):
    assert needs_scan(row, NOW) is expected
