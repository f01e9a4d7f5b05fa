"""Table-driven tests for watcher.recipient_zone: offsets seen in Date headers -> IANA zone.

DST facts used: Europe/Berlin +01:00 in winter, +02:00 in summer (2026-03-29 01:00Z);
America/New_York -05:00 / -04:00; Australia/Sydney +11:00 in January (southern summer) and
+10:00 in July; Australia/Brisbane +10:00 all year; Asia/Kolkata +05:30 all year;
America/Phoenix -07:00 all year (America/Denver: -06:00 in summer).
"""

from datetime import UTC, datetime

import pytest

from watcher.recipient_zone import _zone_countries, country_of_zone, holiday_country_of, infer_zone


def Z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


JAN, JUL = Z("2026-01-15 10:00"), Z("2026-07-15 10:00")


@pytest.mark.parametrize(
    ("observations", "zone"),
    [
        pytest.param([(JAN, 60), (JUL, 120)], "Europe/Berlin", id="berlin-across-dst"),
        pytest.param([(JAN, 60)], "Europe/Berlin", id="berlin-winter-only-preferred"),
        pytest.param(
            [(Z("2026-03-29 00:30"), 60), (Z("2026-03-29 01:30"), 120)],
            "Europe/Berlin",
            id="berlin-either-side-of-the-change-hour",
        ),
        pytest.param([(JAN, 0), (JUL, 60)], "Europe/London", id="london"),
        pytest.param([(JAN, -300), (JUL, -240)], "America/New_York", id="new-york"),
        pytest.param(
            [(Z("2026-03-08 06:30"), -300), (Z("2026-03-08 07:30"), -240)],
            "America/New_York",
            id="new-york-either-side-of-the-change-hour",
        ),
        pytest.param([(JAN, -420), (JUL, -420)], "America/Phoenix", id="arizona-no-dst"),
        pytest.param([(JAN, -420), (JUL, -360)], "America/Denver", id="denver"),
        pytest.param([(JAN, 660), (JUL, 600)], "Australia/Sydney", id="sydney-southern-dst"),
        pytest.param([(JAN, 600), (JUL, 600)], "Australia/Brisbane", id="brisbane-no-dst"),
        pytest.param([(JAN, 330), (JUL, 330)], "Asia/Kolkata", id="kolkata-half-hour"),
        pytest.param([(JUL, 345)], "Asia/Kathmandu", id="kathmandu-quarter-hour"),
        pytest.param([(JAN, 0)], "Europe/London", id="plain-utc-offset-reads-as-london"),
        pytest.param(
            [(JAN, 60), (Z("2026-02-02 09:00"), 60), (JUL, 120), (Z("2026-05-05 09:00"), -240)],
            "Europe/Berlin",
            id="noisy-one-mail-sent-while-travelling",
        ),
        pytest.param(
            [(JAN, 660), (JUL, 600), (Z("2026-08-01 00:00"), 600), (Z("2026-09-01 00:00"), 60)],
            "Australia/Sydney",
            id="noisy-majority-wins",
        ),
        pytest.param([(JAN, 60), (JAN, 60), (JUL, 120)], "Europe/Berlin", id="duplicates"),
        pytest.param([], None, id="no-observations"),
        pytest.param([(JAN, 13 * 60 + 37)], None, id="offset-no-zone-has"),
    ],
)
def test_infer_zone(observations, zone):
    assert infer_zone(observations) == zone


def test_order_of_observations_does_not_matter():
    obs = [(JUL, 120), (JAN, 60), (Z("2026-04-01 12:00"), 120)]
    assert infer_zone(obs) == infer_zone(list(reversed(obs))) == "Europe/Berlin"


@pytest.mark.parametrize(
    ("observations", "zone"),
    [
        # The latest twenty of a correspondent's mail: mostly from home on both sides of the
        # change, a few from a trip; the home zone explains the most and wins. Sydney leaves
        # summer time at 2026-04-04 16:00Z (03:00 AEDT on 5 April).
        pytest.param(
            [(JAN, -300), (Z("2026-03-01 15:00"), -300), (JUL, -240), (Z("2026-06-01 15:00"), 60)],
            "America/New_York",
            id="new-york-with-a-trip-to-europe",
        ),
        pytest.param(
            [(JAN, 330), (JUL, 330), (Z("2026-10-01 08:00"), 330), (Z("2026-04-01 08:00"), 240)],
            "Asia/Kolkata",
            id="kolkata-with-a-mail-from-dubai",
        ),
        pytest.param(
            [(Z("2026-04-04 15:30"), 660), (Z("2026-04-04 16:30"), 600), (JUL, 600)],
            "Australia/Sydney",
            id="sydney-either-side-of-the-april-change",
        ),
    ],
)
def test_infer_zone_from_a_mix_of_offsets(observations, zone):
    assert infer_zone(observations) == zone


@pytest.mark.parametrize(
    ("zone", "country"),
    [
        pytest.param("Europe/Berlin", "DE", id="berlin-zone1970-lists-five-zone-tab-one"),
        pytest.param("America/New_York", "US", id="new-york"),
        pytest.param("Asia/Kolkata", "IN", id="kolkata"),
        pytest.param("Australia/Sydney", "AU", id="sydney"),
        pytest.param("Europe/Zurich", "CH", id="zurich-shared-with-de-and-li"),
        pytest.param("Europe/Copenhagen", "DK", id="a-link-zone-tab-still-names"),
        pytest.param("Etc/UTC", None, id="etc-utc"),
        pytest.param("UTC", None, id="utc"),
        pytest.param(None, None, id="unknown-zone"),
        pytest.param("Mars/Olympus", None, id="not-a-zone"),
    ],
)
def test_country_of_zone(zone, country):
    assert country_of_zone(zone) == country
    assert holiday_country_of(zone) == country  # the holidays package knows each of these


def test_country_tables_come_from_the_tz_database():
    # Every country zone1970.tab names for Berlin is a real ISO code, DE among them: the
    # tables were found and read, not an empty fallback.
    since_1970, classic = _zone_countries()
    assert set(since_1970["Europe/Berlin"]) == {"DE", "DK", "NO", "SE", "SJ"}
    assert classic["Europe/Berlin"] == ("DE",)
