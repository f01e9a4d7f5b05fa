"""Table-driven tests for watcher.schedule.

Every expected instant is written out in UTC by hand. DST facts used below:
- Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z); 2026-10-25 03:00 CEST -> 02:00 CET
  (01:00Z), so 02:00-02:59 happens twice.
- America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT -> 01:00 EST
  (06:00Z), so 01:00-01:59 happens twice.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from watcher.errors import ValidationError
from watcher.schedule import (
    ALWAYS,
    DELAY_FORMS,
    Delay,
    SendingWindow,
    add_delay,
    due_time,
    holiday_union,
    jitter,
    jittered,
    next_in_both,
    next_in_window,
    parse_delay,
    parse_when,
    spread_overdue,
    working_hours,
)

BER = "Europe/Berlin"
NY = "America/New_York"
WEEKDAYS = frozenset({0, 1, 2, 3, 4})
ALL_DAYS = frozenset(range(7))


def Z(text: str) -> datetime:
    """A UTC instant from "2026-06-01 10:00" (seconds optional)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def row(*values, id):
    return pytest.param(*values, id=id)


# --------------------------------------------------------------------------------------------
# parse_delay and Delay


@pytest.mark.parametrize(
    ("text", "amount", "unit", "canonical"),
    [
        row("3d", 3, "days", "3d", id="3d"),
        row("1w", 1, "weeks", "1w", id="1w"),
        row("2w", 2, "weeks", "2w", id="2w"),
        row("12h", 12, "hours", "12h", id="12h"),
        row("30m", 30, "minutes", "30m", id="30m"),
        row("90m", 90, "minutes", "90m", id="90m"),
        row("5bd", 5, "business_days", "5bd", id="5bd"),
        row("3 days", 3, "days", "3d", id="3-days"),
        row("1 day", 1, "days", "1d", id="1-day"),
        row("1 week", 1, "weeks", "1w", id="1-week"),
        row("2 weeks", 2, "weeks", "2w", id="2-weeks"),
        row("2 hours", 2, "hours", "2h", id="2-hours"),
        row("45 minutes", 45, "minutes", "45m", id="45-minutes"),
        row("10 min", 10, "minutes", "10m", id="10-min"),
        row("5 business days", 5, "business_days", "5bd", id="5-business-days"),
        row("5 business-days", 5, "business_days", "5bd", id="5-business-hyphen-days"),
        row("2 working days", 2, "business_days", "2bd", id="2-working-days"),
        row("3D", 3, "days", "3d", id="upper-case"),
        row("  2 W  ", 2, "weeks", "2w", id="padded-upper"),
        row("5 BD", 5, "business_days", "5bd", id="5-BD"),
        row("3   Days", 3, "days", "3d", id="many-spaces"),
        row("3\tdays", 3, "days", "3d", id="tab"),
        row("007d", 7, "days", "7d", id="leading-zeros"),
        row("3660d", 3660, "days", "3660d", id="ten-years-of-days"),
    ],
)
def test_parse_delay(text, amount, unit, canonical):
    delay = parse_delay(text)
    assert delay == Delay(amount, unit)
    assert str(delay) == canonical


@pytest.mark.parametrize(
    "text",
    [
        row("", id="empty"),
        row("   ", id="blank"),
        row("3x", id="unknown-unit"),
        row("3", id="no-unit"),
        row("d", id="no-amount"),
        row("0d", id="zero"),
        row("-3d", id="negative"),
        row("1.5d", id="fraction"),
        row("3 dayz", id="typo"),
        row("three days", id="words"),
        row("3d4h", id="compound"),
        row("1 month", id="month-is-ambiguous"),
        row("1y", id="year"),
        row("99999d", id="absurdly-long"),
        row("2026-12-01", id="a-date"),
    ],
)
def test_parse_delay_rejects(text):
    with pytest.raises(ValidationError, match="delay"):
        parse_delay(text)


def test_parse_delay_message_says_what_to_type():
    with pytest.raises(ValidationError) as err:
        parse_delay("3x")
    # A delay field takes no date, so its message offers none: the same words as the hint.
    assert str(err.value) == f"'3x' is not a delay: use {DELAY_FORMS}"
    assert "a date" not in DELAY_FORMS


def test_parse_when_message_offers_delays_and_a_future_example_date():
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    with pytest.raises(ValidationError) as err:
        parse_when("soon", now, "Europe/Berlin")
    assert str(err.value) == (
        f"'soon' is not a delay or a date: use {DELAY_FORMS}; or a date like 2026-12-01 "
        "14:30 (2026-12-01 alone means 09:00), in your time zone (Europe/Berlin)"
    )
    # The example moves with "now": never a date in the past.
    with pytest.raises(ValidationError, match="2027-03-08"):
        parse_when("2027-02-30", datetime(2027, 3, 1, 12, 0, tzinfo=UTC), "Europe/Berlin")


@pytest.mark.parametrize(
    ("amount", "unit"),
    [
        row(0, "days", id="zero"),
        row(-1, "hours", id="negative"),
        row(3, "months", id="bad-unit"),
        row(600, "weeks", id="too-long"),
    ],
)
def test_delay_rejects_bad_values(amount, unit):
    with pytest.raises(ValidationError):
        Delay(amount, unit)


# --------------------------------------------------------------------------------------------
# add_delay


@pytest.mark.parametrize(
    ("start", "delay", "tz", "country", "expected"),
    [
        # plain arithmetic
        row(Z("2026-06-01 12:00"), "3d", "UTC", None, Z("2026-06-04 12:00"), id="3d-utc"),
        row(Z("2026-06-01 12:00"), "30m", "UTC", None, Z("2026-06-01 12:30"), id="30m"),
        row(Z("2026-06-01 12:00"), "12h", "UTC", None, Z("2026-06-02 00:00"), id="12h"),
        row(Z("2026-06-01 12:00"), "2w", BER, None, Z("2026-06-15 12:00"), id="2w-summer"),
        row(Z("2026-12-30 10:00"), "3d", BER, None, Z("2027-01-02 10:00"), id="3d-new-year"),
        # Berlin spring forward: days/weeks keep the wall clock, so an hour less elapses
        row(Z("2026-03-28 09:00"), "1d", BER, None, Z("2026-03-29 08:00"), id="ber-spring-1d"),
        row(Z("2026-03-23 09:00"), "1w", BER, None, Z("2026-03-30 08:00"), id="ber-spring-1w"),
        row(Z("2026-03-29 08:00"), "1d", BER, None, Z("2026-03-30 08:00"), id="ber-from-dst-day"),
        row(Z("2026-03-28 01:30"), "1d", BER, None, Z("2026-03-29 01:00"), id="ber-into-gap"),
        # ...while hours and minutes are elapsed time
        row(Z("2026-03-28 22:00"), "12h", BER, None, Z("2026-03-29 10:00"), id="ber-spring-12h"),
        row(Z("2026-03-29 00:30"), "90m", BER, None, Z("2026-03-29 02:00"), id="ber-spring-90m"),
        # Berlin fall back: an hour more elapses
        row(Z("2026-10-24 08:00"), "1d", BER, None, Z("2026-10-25 09:00"), id="ber-fall-1d"),
        row(Z("2026-10-19 08:00"), "1w", BER, None, Z("2026-10-26 09:00"), id="ber-fall-1w"),
        row(Z("2026-10-24 00:30"), "1d", BER, None, Z("2026-10-25 00:30"), id="ber-into-repeat"),
        row(Z("2026-10-25 01:30"), "1d", BER, None, Z("2026-10-26 01:30"), id="ber-from-repeat"),
        row(Z("2026-10-24 22:00"), "12h", BER, None, Z("2026-10-25 10:00"), id="ber-fall-12h"),
        # Berlin, backwards across a change: winter start, summer end and the other way
        row(Z("2026-10-01 08:00"), "4w", BER, None, Z("2026-10-29 09:00"), id="ber-4w-to-winter"),
        row(Z("2026-03-15 09:00"), "3w", BER, None, Z("2026-04-05 08:00"), id="ber-3w-to-summer"),
        # New York spring forward
        row(Z("2026-03-07 15:00"), "1d", NY, None, Z("2026-03-08 14:00"), id="ny-spring-1d"),
        row(Z("2026-03-02 14:00"), "1w", NY, None, Z("2026-03-09 13:00"), id="ny-spring-1w"),
        row(Z("2026-03-07 07:15"), "1d", NY, None, Z("2026-03-08 07:00"), id="ny-into-gap"),
        row(Z("2026-03-07 15:00"), "24h", NY, None, Z("2026-03-08 15:00"), id="ny-spring-24h"),
        # New York fall back
        row(Z("2026-10-31 14:00"), "1d", NY, None, Z("2026-11-01 15:00"), id="ny-fall-1d"),
        row(Z("2026-10-26 13:00"), "1w", NY, None, Z("2026-11-02 14:00"), id="ny-fall-1w"),
        row(Z("2026-10-19 13:00"), "2w", NY, None, Z("2026-11-02 14:00"), id="ny-fall-2w"),
        row(Z("2026-10-31 05:30"), "1d", NY, None, Z("2026-11-01 05:30"), id="ny-into-repeat"),
        row(Z("2026-11-01 06:30"), "1d", NY, None, Z("2026-11-02 06:30"), id="ny-from-repeat"),
        # leap day
        row(Z("2028-02-28 10:00"), "1d", "UTC", None, Z("2028-02-29 10:00"), id="leap-1d"),
        row(Z("2028-02-28 09:00"), "1d", BER, None, Z("2028-02-29 09:00"), id="leap-1d-ber"),
        row(Z("2028-02-29 09:00"), "1d", BER, None, Z("2028-03-01 09:00"), id="leap-day-1d"),
        row(Z("2028-02-25 09:00"), "1w", BER, None, Z("2028-03-03 09:00"), id="leap-1w-across"),
        row(Z("2027-02-28 09:00"), "1d", BER, None, Z("2027-03-01 09:00"), id="no-leap-1d"),
        row(Z("2028-02-28 09:00"), "1bd", BER, None, Z("2028-02-29 09:00"), id="leap-1bd"),
        # business days across a weekend
        row(Z("2026-06-05 10:00"), "1bd", "UTC", None, Z("2026-06-08 10:00"), id="fri-1bd"),
        row(Z("2026-06-05 10:00"), "5bd", "UTC", None, Z("2026-06-12 10:00"), id="fri-5bd"),
        row(Z("2026-06-04 10:00"), "2bd", "UTC", None, Z("2026-06-08 10:00"), id="thu-2bd"),
        row(Z("2026-06-01 10:00"), "4bd", "UTC", None, Z("2026-06-05 10:00"), id="mon-4bd"),
        row(Z("2026-06-06 10:00"), "1bd", "UTC", None, Z("2026-06-08 10:00"), id="sat-1bd"),
        row(Z("2026-06-07 10:00"), "1bd", "UTC", None, Z("2026-06-08 10:00"), id="sun-1bd"),
        row(Z("2026-06-01 10:00"), "10bd", "UTC", None, Z("2026-06-15 10:00"), id="mon-10bd"),
        # business days across holidays
        row(Z("2026-12-24 09:00"), "1bd", BER, "DE", Z("2026-12-28 09:00"), id="de-christmas"),
        row(Z("2026-12-24 09:00"), "1bd", BER, None, Z("2026-12-25 09:00"), id="no-country"),
        row(Z("2026-12-23 09:00"), "2bd", BER, "DE", Z("2026-12-28 09:00"), id="de-christmas-2bd"),
        row(Z("2026-12-31 09:00"), "1bd", BER, "DE", Z("2027-01-04 09:00"), id="de-new-year"),
        row(Z("2026-12-31 09:00"), "1bd", BER, "de", Z("2027-01-04 09:00"), id="lower-case"),
        row(Z("2026-11-25 15:00"), "1bd", NY, "US", Z("2026-11-27 15:00"), id="us-thanksgiving"),
        row(Z("2026-11-25 15:00"), "1bd", NY, None, Z("2026-11-26 15:00"), id="us-no-country"),
        row(Z("2026-11-20 15:00"), "5bd", NY, "US", Z("2026-11-30 15:00"), id="us-5bd-week"),
        # business days keep the wall clock across DST
        row(Z("2026-10-23 07:00"), "1bd", BER, None, Z("2026-10-26 08:00"), id="bd-ber-fall"),
        row(Z("2026-03-06 14:00"), "1bd", NY, "US", Z("2026-03-09 13:00"), id="bd-ny-spring"),
    ],
)
def test_add_delay(start, delay, tz, country, expected):
    got = add_delay(start, parse_delay(delay), tz, country)
    assert got == expected
    assert got.utcoffset() == timedelta(0)


def test_add_delay_accepts_any_aware_input():
    berlin_noon = datetime.fromisoformat("2026-06-01T12:00:00+02:00")
    assert add_delay(berlin_noon, Delay(1, "days"), BER) == Z("2026-06-02 10:00")


@pytest.mark.parametrize(
    ("start", "tz", "country", "error"),
    [
        row(datetime(2026, 6, 1, 12), "UTC", None, ValueError, id="naive"),
        row(Z("2026-06-01 12:00"), "Mars/Olympus", None, ValidationError, id="unknown-zone"),
        row(Z("2026-06-01 12:00"), "UTC", "XX", ValidationError, id="unknown-country"),
        row(Z("2026-06-01 12:00"), "UTC", "US-ZZ", ValidationError, id="unknown-region"),
    ],
)
def test_add_delay_rejects(start, tz, country, error):
    with pytest.raises(error):
        add_delay(start, Delay(1, "business_days"), tz, country)


# --------------------------------------------------------------------------------------------
# SendingWindow


@pytest.mark.parametrize(
    ("days", "want_days", "described"),
    [
        row("mon-fri", WEEKDAYS, "Mon-Fri", id="mon-fri"),
        row("mon,wed,fri", {0, 2, 4}, "Mon,Wed,Fri", id="list"),
        row("sat-sun", {5, 6}, "Sat-Sun", id="weekend"),
        row("all", ALL_DAYS, "Mon-Sun", id="all"),
        row("mon-sun", ALL_DAYS, "Mon-Sun", id="mon-sun"),
        row("MON - FRI", WEEKDAYS, "Mon-Fri", id="spaces-upper"),
        row("monday-friday", WEEKDAYS, "Mon-Fri", id="full-names"),
        row("fri-mon", {4, 5, 6, 0}, "Mon,Fri-Sun", id="wraps-weekend"),
        row("tue", {1}, "Tue", id="one-day"),
        row("mon-tue,thu-fri", {0, 1, 3, 4}, "Mon-Tue,Thu-Fri", id="two-runs"),
        row("sun,sat", {5, 6}, "Sat-Sun", id="any-order"),
    ],
)
def test_window_parse_days(days, want_days, described):
    window = SendingWindow.parse(BER, days, "9-17")
    assert window.days == frozenset(want_days)
    assert window.describe() == f"{described} 09:00-17:00 {BER}"


@pytest.mark.parametrize(
    ("hours", "start", "end", "described"),
    [
        row("09:00-17:00", time(9), time(17), "09:00-17:00", id="default"),
        row("9-17", time(9), time(17), "09:00-17:00", id="short"),
        row(" 9 - 17 ", time(9), time(17), "09:00-17:00", id="spaces"),
        row("08:30-18:00", time(8, 30), time(18), "08:30-18:00", id="half-hour"),
        row("00:00-24:00", time(0), time.max, "00:00-24:00", id="whole-day"),
        row("0-24", time(0), time.max, "00:00-24:00", id="whole-day-short"),
        row("22:00-24:00", time(22), time.max, "22:00-24:00", id="to-midnight"),
        row("00:00-00:01", time(0), time(0, 1), "00:00-00:01", id="one-minute"),
    ],
)
def test_window_parse_hours(hours, start, end, described):
    window = SendingWindow.parse(BER, "mon-fri", hours)
    assert window == SendingWindow(BER, WEEKDAYS, start, end)
    assert window.describe() == f"Mon-Fri {described} {BER}"


def test_window_defaults():
    assert SendingWindow(BER) == SendingWindow.parse(BER)
    assert SendingWindow(NY).describe() == "Mon-Fri 09:00-17:00 America/New_York"
    assert ALWAYS().describe() == "Mon-Sun 00:00-24:00 UTC"
    assert ALWAYS(BER).tz == BER


@pytest.mark.parametrize(
    ("tz", "days", "hours"),
    [
        row("Mars/Olympus", "mon-fri", "9-17", id="unknown-zone"),
        row("", "mon-fri", "9-17", id="empty-zone"),
        row(BER, "", "9-17", id="no-days"),
        row(BER, "funday", "9-17", id="bad-day"),
        row(BER, "mon-", "9-17", id="open-range"),
        row(BER, "mon,,fri", "9-17", id="empty-item"),
        row(BER, "mon-fri", "", id="no-hours"),
        row(BER, "mon-fri", "17-9", id="backwards"),
        row(BER, "mon-fri", "9-9", id="empty-range"),
        row(BER, "mon-fri", "25-26", id="hour-25"),
        row(BER, "mon-fri", "9:60-17", id="minute-60"),
        row(BER, "mon-fri", "24:00-24:00", id="starts-at-24"),
        row(BER, "mon-fri", "09:00-24:30", id="past-24"),
        row(BER, "mon-fri", "nine to five", id="words"),
        row(BER, "mon-fri", "9", id="one-number"),
    ],
)
def test_window_parse_rejects(tz, days, hours):
    with pytest.raises(ValidationError):
        SendingWindow.parse(tz, days, hours)


@pytest.mark.parametrize(
    "kwargs",
    [
        row({"days": frozenset()}, id="no-days"),
        row({"days": frozenset({7})}, id="day-7"),
        row({"start": time(17), "end": time(9)}, id="backwards"),
    ],
)
def test_window_constructor_rejects(kwargs):
    with pytest.raises(ValidationError):
        SendingWindow(BER, **kwargs)


BERW = SendingWindow(BER)


@pytest.mark.parametrize(
    ("window", "t", "inside"),
    [
        row(BERW, Z("2026-06-01 07:00"), True, id="exactly-at-start"),
        row(BERW, Z("2026-06-01 06:59:59"), False, id="just-before-start"),
        row(BERW, Z("2026-06-01 14:59:59"), True, id="just-before-end"),
        row(BERW, Z("2026-06-01 15:00"), False, id="exactly-at-end"),
        row(BERW, Z("2026-06-06 10:00"), False, id="saturday"),
        row(BERW, Z("2026-12-01 08:00"), True, id="winter-09-local"),
        row(BERW, Z("2026-12-01 07:30"), False, id="winter-0830-local"),
        row(ALWAYS(), Z("2026-06-06 23:59:59.999999"), True, id="always-last-microsecond"),
        row(ALWAYS(BER), Z("2026-03-29 01:00"), True, id="always-dst"),
    ],
)
def test_window_contains(window, t, inside):
    assert window.contains(t) is inside


def test_window_contains_rejects_naive():
    with pytest.raises(ValueError, match="aware"):
        BERW.contains(datetime(2026, 6, 1, 10))


# --------------------------------------------------------------------------------------------
# next_in_window


def W(tz, days, hours):
    return SendingWindow.parse(tz, days, hours)


BER_0230 = W(BER, "all", "02:30-17:00")  # opens inside the spring gap and the repeated hour
BER_0200 = W(BER, "all", "02:00-17:00")
BER_GAP_ONLY = W(BER, "all", "02:00-02:45")  # swallowed whole by the spring gap
BER_ALL = W(BER, "all", "9-17")
NY_0200 = W(NY, "all", "02:00-06:00")
NY_0215 = W(NY, "all", "02:15-06:00")
NY_0130 = W(NY, "all", "01:30-05:00")  # opens inside the repeated hour
NY_ALL = W(NY, "all", "9-17")
NYW = SendingWindow(NY)


@pytest.mark.parametrize(
    ("window", "t", "expected"),
    [
        # edges of a Mon-Fri 09:00-17:00 Berlin window (CEST = UTC+2)
        row(BERW, Z("2026-06-01 07:00"), Z("2026-06-01 07:00"), id="at-start"),
        row(BERW, Z("2026-06-01 10:00"), Z("2026-06-01 10:00"), id="inside"),
        row(BERW, Z("2026-06-01 06:59"), Z("2026-06-01 07:00"), id="early-morning"),
        row(BERW, Z("2026-06-01 15:00"), Z("2026-06-02 07:00"), id="at-end"),
        row(BERW, Z("2026-06-05 16:00"), Z("2026-06-08 07:00"), id="friday-evening"),
        row(BERW, Z("2026-06-06 10:00"), Z("2026-06-08 07:00"), id="saturday"),
        row(BERW, Z("2026-06-07 21:59"), Z("2026-06-08 07:00"), id="sunday-night"),
        row(BERW, Z("2026-05-31 22:30"), Z("2026-06-01 07:00"), id="monday-0030-local"),
        # whole-day and every-day windows
        row(ALWAYS(), Z("2026-06-06 03:00"), Z("2026-06-06 03:00"), id="always"),
        row(ALWAYS(BER), Z("2026-03-29 01:00"), Z("2026-03-29 01:00"), id="always-dst"),
        row(BER_ALL, Z("2026-06-06 16:00"), Z("2026-06-07 07:00"), id="all-days"),
        row(W(BER, "mon-fri", "0-24"), Z("2026-06-06 10:00"), Z("2026-06-07 22:00"), id="whole-wk"),
        row(W(BER, "sat-sun", "10-14"), Z("2026-06-01 10:00"), Z("2026-06-06 08:00"), id="wkend"),
        row(W(BER, "wed", "9-17"), Z("2026-06-03 15:00"), Z("2026-06-10 07:00"), id="next-week"),
        # Berlin spring forward: a window that opens inside the gap opens at its end, 03:00 CEST
        row(BER_0230, Z("2026-03-29 00:30"), Z("2026-03-29 01:00"), id="ber-gap"),
        row(BER_0230, Z("2026-03-28 20:00"), Z("2026-03-29 01:00"), id="ber-gap-eve"),
        row(BER_0230, Z("2026-03-29 01:00"), Z("2026-03-29 01:00"), id="ber-gap-end"),
        row(BER_GAP_ONLY, Z("2026-03-29 00:30"), Z("2026-03-30 00:00"), id="ber-swallowed"),
        row(BERW, Z("2026-03-27 16:30"), Z("2026-03-30 07:00"), id="ber-weekend-spring"),
        # Berlin fall back: 02:00-02:59 comes twice (first CEST = 00:xxZ, then CET = 01:xxZ)
        row(BER_0200, Z("2026-10-24 22:00"), Z("2026-10-25 00:00"), id="ber-open-first"),
        row(BER_0230, Z("2026-10-25 00:15"), Z("2026-10-25 00:30"), id="ber-repeat-1st"),
        row(BER_0230, Z("2026-10-25 00:45"), Z("2026-10-25 00:45"), id="ber-in-1st"),
        row(BER_0230, Z("2026-10-25 01:15"), Z("2026-10-25 01:30"), id="ber-repeat-2nd"),
        row(BER_0230, Z("2026-10-25 01:45"), Z("2026-10-25 01:45"), id="ber-in-2nd"),
        row(BERW, Z("2026-10-23 15:30"), Z("2026-10-26 08:00"), id="ber-weekend-fall"),
        # New York spring forward (02:00 EST -> 03:00 EDT)
        row(NY_0200, Z("2026-03-08 06:30"), Z("2026-03-08 07:00"), id="ny-gap"),
        row(NY_0215, Z("2026-03-07 12:00"), Z("2026-03-08 07:00"), id="ny-gap-eve"),
        row(NYW, Z("2026-03-06 22:00"), Z("2026-03-09 13:00"), id="ny-fri-spring"),
        # New York fall back: 01:00-01:59 twice (EDT = 05:xxZ, then EST = 06:xxZ)
        row(NY_ALL, Z("2026-11-01 05:30"), Z("2026-11-01 14:00"), id="ny-repeat-1st"),
        row(NY_ALL, Z("2026-11-01 06:30"), Z("2026-11-01 14:00"), id="ny-repeat-2nd"),
        row(NY_0130, Z("2026-11-01 05:15"), Z("2026-11-01 05:30"), id="ny-open-1st"),
        row(NY_0130, Z("2026-11-01 05:45"), Z("2026-11-01 05:45"), id="ny-in-1st"),
        row(NY_0130, Z("2026-11-01 06:15"), Z("2026-11-01 06:30"), id="ny-open-2nd"),
        row(NYW, Z("2026-10-30 21:00"), Z("2026-11-02 14:00"), id="ny-fri-fall"),
        # leap day
        row(W("UTC", "mon-fri", "9-17"), Z("2028-02-28 17:00"), Z("2028-02-29 09:00"), id="leap"),
    ],
)
def test_next_in_window(window, t, expected):
    got = next_in_window(t, window)
    assert got == expected
    assert got.utcoffset() == timedelta(0)
    assert window.contains(got)


def test_next_in_window_rejects_naive():
    with pytest.raises(ValueError, match="aware"):
        next_in_window(datetime(2026, 6, 1, 10), BERW)


# --------------------------------------------------------------------------------------------
# due_time


@pytest.mark.parametrize(
    ("base", "delay", "window", "country", "expected"),
    [
        row(Z("2026-06-05 14:00"), "3d", BERW, None, Z("2026-06-08 14:00"), id="lands-inside"),
        row(Z("2026-06-04 16:00"), "1d", BERW, None, Z("2026-06-08 07:00"), id="fri-evening"),
        row(Z("2026-06-01 14:30"), "1h", BERW, None, Z("2026-06-02 07:00"), id="after-hours"),
        row(Z("2026-06-03 07:00"), "3d", BERW, None, Z("2026-06-08 07:00"), id="lands-saturday"),
        row(Z("2026-12-23 09:00"), "1bd", BERW, "DE", Z("2026-12-24 09:00"), id="de-eve-open"),
        row(Z("2026-12-24 09:00"), "1bd", BERW, "DE", Z("2026-12-28 09:00"), id="de-christmas"),
        row(Z("2026-03-27 15:00"), "1w", BERW, None, Z("2026-04-03 14:00"), id="ber-1w-spring"),
        row(Z("2026-06-01 12:00"), "2w", ALWAYS(), None, Z("2026-06-15 12:00"), id="always"),
    ],
)
def test_due_time(base, delay, window, country, expected):
    assert due_time(base, parse_delay(delay), window, country) == expected


# --------------------------------------------------------------------------------------------
# parse_when

NOW = Z("2026-06-01 10:00")  # Monday, 12:00 in Berlin


@pytest.mark.parametrize(
    ("text", "now", "tz", "expected"),
    [
        row("2026-12-01", NOW, BER, Z("2026-12-01 08:00"), id="date-means-0900"),
        row("2026-06-15", NOW, BER, Z("2026-06-15 07:00"), id="date-summer"),
        row("2026-12-01", NOW, NY, Z("2026-12-01 14:00"), id="date-ny"),
        row("2026-12-01 14:30", NOW, BER, Z("2026-12-01 13:30"), id="date-time"),
        row("2026-12-01T14:30", NOW, BER, Z("2026-12-01 13:30"), id="date-T-time"),
        row("2026-12-01 9:05", NOW, BER, Z("2026-12-01 08:05"), id="one-digit-hour"),
        row("2026-06-15 14:30:15", NOW, BER, Z("2026-06-15 12:30:15"), id="seconds"),
        row(" 2026-12-01 14:30 ", NOW, BER, Z("2026-12-01 13:30"), id="padded"),
        row("2026-12-01T14:30:00+01:00", NOW, NY, Z("2026-12-01 13:30"), id="offset"),
        row("2026-12-01T14:30:00-05:00", NOW, BER, Z("2026-12-01 19:30"), id="neg-offset"),
        row("2026-12-01T14:30:00Z", NOW, BER, Z("2026-12-01 14:30"), id="zulu"),
        row("2026-06-01 12:01", NOW, BER, Z("2026-06-01 10:01"), id="a-minute-ahead"),
        row("3d", NOW, BER, Z("2026-06-04 10:00"), id="3d"),
        row("1w", NOW, BER, Z("2026-06-08 10:00"), id="1w"),
        row("2 hours", NOW, BER, Z("2026-06-01 12:00"), id="2-hours"),
        row("5bd", Z("2026-06-05 10:00"), BER, Z("2026-06-12 10:00"), id="5bd"),
        row("1d", Z("2026-03-28 09:00"), BER, Z("2026-03-29 08:00"), id="1d-ber-spring"),
        row("1d", Z("2026-10-31 14:00"), NY, Z("2026-11-01 15:00"), id="1d-ny-fall"),
        row("2026-03-29 02:30", NOW.replace(year=2025), BER, Z("2026-03-29 01:00"), id="in-gap"),
        row("2026-10-25 02:30", NOW.replace(year=2025), BER, Z("2026-10-25 00:30"), id="repeat"),
        row("2026-03-08 02:30", NOW.replace(year=2025), NY, Z("2026-03-08 07:00"), id="ny-gap"),
        row("2026-11-01 01:30", NOW.replace(year=2025), NY, Z("2026-11-01 05:30"), id="ny-repeat"),
        row("2028-02-29", NOW, BER, Z("2028-02-29 08:00"), id="leap-day"),
        row("2028-02-29 18:00", NOW, NY, Z("2028-02-29 23:00"), id="leap-day-ny"),
    ],
)
def test_parse_when(text, now, tz, expected):
    got = parse_when(text, now, tz)
    assert got == expected
    assert got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "tz", "message"),
    [
        row("2027-02-29", BER, "not a real date", id="not-leap-year"),
        row("2026-02-30", BER, "not a real date", id="feb-30"),
        row("2026-13-01", BER, "not a real date", id="month-13"),
        row("2026-04-31 10:00", BER, "not a real date", id="april-31"),
        row("2026-02-30T10:00:00+01:00", BER, "not a real date", id="feb-30-offset"),
        row("2026-12-01 25:00", BER, "not a real time", id="hour-25"),
        row("2026-12-01 14:60", BER, "not a real time", id="minute-60"),
        row("2026-12-01 14", BER, "not a date we can read", id="hour-only"),
        row("2026-12-01 2pm", BER, "not a date we can read", id="am-pm"),
        row("next tuesday", BER, "not a delay", id="words"),
        row("tomorrow", BER, "not a delay", id="tomorrow"),
        row("", BER, "not a delay", id="empty"),
        row("2026/12/01", BER, "not a delay", id="slashes"),
        row("01.12.2026", BER, "not a delay", id="german-order"),
        row("0d", BER, "not a usable delay", id="zero-delay"),
        row("2026-05-01", BER, "not in the future", id="past-date"),
        row("2026-06-01 12:00", BER, "not in the future", id="exactly-now-local"),
        row("2026-06-01T10:00:00Z", BER, "not in the future", id="exactly-now-utc"),
        row("2026-06-01 11:59", BER, "not in the future", id="a-minute-ago"),
        row("2026-06-01", BER, "not in the future", id="today-0900-passed"),
        row("2026-12-01", "Mars/Olympus", "not a time zone", id="unknown-zone"),
    ],
)
def test_parse_when_rejects(text, tz, message):
    with pytest.raises(ValidationError, match=message):
        parse_when(text, NOW, tz)


def test_parse_when_past_message_shows_local_time():
    with pytest.raises(ValidationError) as err:
        parse_when("2026-05-01", NOW, BER)
    assert str(err.value) == (
        "'2026-05-01' (2026-05-01 09:00 CEST) is not in the future: pick a later time"
    )


def test_parse_when_rejects_naive_now():
    with pytest.raises(ValueError, match="aware"):
        parse_when("3d", datetime(2026, 6, 1, 10), BER)


# --------------------------------------------------------------------------------------------
# spread_overdue

MIN = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("count", "now", "window", "spacing", "expected"),
    [
        row(0, NOW, BERW, 10 * MIN, [], id="none"),
        row(1, NOW, BERW, 10 * MIN, [Z("2026-06-01 10:00")], id="one"),
        row(
            3,
            NOW,
            BERW,
            10 * MIN,
            [Z("2026-06-01 10:00"), Z("2026-06-01 10:10"), Z("2026-06-01 10:20")],
            id="inside-window",
        ),
        row(
            3,
            Z("2026-06-06 10:00"),
            BERW,
            15 * MIN,
            [Z("2026-06-08 07:00"), Z("2026-06-08 07:15"), Z("2026-06-08 07:30")],
            id="weekend-waits-for-monday",
        ),
        row(
            4,
            Z("2026-06-01 14:40"),
            BERW,
            10 * MIN,
            [
                Z("2026-06-01 14:40"),
                Z("2026-06-01 14:50"),
                Z("2026-06-02 07:00"),
                Z("2026-06-02 07:10"),
            ],
            id="wraps-to-next-day",
        ),
        row(
            3,
            Z("2026-06-05 14:50"),
            BERW,
            10 * MIN,
            [Z("2026-06-05 14:50"), Z("2026-06-08 07:00"), Z("2026-06-08 07:10")],
            id="wraps-friday-to-monday",
        ),
        row(
            3,
            Z("2026-06-01 14:55"),
            BERW,
            3 * MIN,
            [Z("2026-06-01 14:55"), Z("2026-06-01 14:58"), Z("2026-06-02 07:00")],
            id="last-slot-before-end",
        ),
        row(
            3,
            Z("2026-03-28 15:50"),
            W(BER, "all", "9-17"),
            5 * MIN,
            [Z("2026-03-28 15:50"), Z("2026-03-28 15:55"), Z("2026-03-29 07:00")],
            id="wraps-into-dst-day",
        ),
        row(
            3,
            NOW,
            BERW,
            timedelta(0),
            [Z("2026-06-01 10:00"), Z("2026-06-01 10:00"), Z("2026-06-01 10:00")],
            id="zero-spacing",
        ),
        row(
            3,
            Z("2026-06-06 23:30"),
            ALWAYS(),
            20 * MIN,
            [Z("2026-06-06 23:30"), Z("2026-06-06 23:50"), Z("2026-06-07 00:10")],
            id="always-crosses-midnight",
        ),
        row(
            3,
            Z("2026-06-01 14:00"),
            W(BER, "mon-fri", "16-17"),
            25 * MIN,
            [Z("2026-06-01 14:00"), Z("2026-06-01 14:25"), Z("2026-06-01 14:50")],
            id="one-hour-window",
        ),
        row(
            5,
            Z("2026-06-01 14:00"),
            W(BER, "mon-fri", "16-17"),
            25 * MIN,
            [
                Z("2026-06-01 14:00"),
                Z("2026-06-01 14:25"),
                Z("2026-06-01 14:50"),
                Z("2026-06-02 14:00"),
                Z("2026-06-02 14:25"),
            ],
            id="one-hour-window-two-days",
        ),
    ],
)
def test_spread_overdue(count, now, window, spacing, expected):
    got = spread_overdue(count, now, window, spacing)
    assert got == expected
    assert got == sorted(got)
    assert all(window.contains(t) for t in got)


@pytest.mark.parametrize(
    ("count", "spacing"),
    [row(-1, MIN, id="negative-count"), row(3, -MIN, id="negative-spacing")],
)
def test_spread_overdue_rejects(count, spacing):
    with pytest.raises(ValueError):
        spread_overdue(count, NOW, BERW, spacing)


HOLIDAY_WINDOW_CASES = [
    # (local time in Berlin, expected next opening in UTC)
    ("2026-12-24 18:00", "2026-12-28T08:00:00+00:00"),  # Christmas Day and Boxing Day skipped
    ("2026-12-31 17:30", "2027-01-04T08:00:00+00:00"),  # New Year's Day (Fri) skipped
    ("2026-12-23 10:00", "2026-12-23T09:00:00+00:00"),  # an ordinary working day: unchanged
]


@pytest.mark.parametrize(("local", "expected"), HOLIDAY_WINDOW_CASES)
def test_window_skips_public_holidays(local, expected):
    window = SendingWindow.parse("Europe/Berlin", "mon-fri", "09:00-17:00", holiday_country="DE")
    t = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("Europe/Berlin"))
    assert next_in_window(t.astimezone(UTC), window).isoformat() == expected
    assert "not on DE holidays" in window.describe()


def test_window_with_unknown_holiday_calendar_is_refused():
    with pytest.raises(ValidationError, match="holiday calendar"):
        SendingWindow.parse("UTC", holiday_country="XX")


# --------------------------------------------------------------------------------------------
# The recipient's working hours (intersection of two windows), and jitter


@pytest.mark.parametrize(
    ("start", "mine", "theirs", "expected"),
    [
        # Berlin 09-17 (CET, 08-16Z) and New York 09-17 (EST, 14-22Z) meet 14:00-16:00Z.
        row(
            "2026-11-23 07:00",
            SendingWindow(BER),
            working_hours(NY),
            "2026-11-23 14:00",
            id="berlin-meets-new-york-at-its-nine",
        ),
        row(
            "2026-11-23 15:30",
            SendingWindow(BER),
            working_hours(NY),
            "2026-11-23 15:30",
            id="already-inside-both",
        ),
        row(
            "2026-11-23 16:30",
            SendingWindow(BER),
            working_hours(NY),
            "2026-11-24 14:00",
            id="berlin-closed-new-york-open-next-day",
        ),
        row(
            "2026-11-27 16:30",
            SendingWindow(BER),
            working_hours(NY),
            "2026-11-30 14:00",
            id="friday-late-goes-to-monday",
        ),
        # A user window that runs to midnight in Berlin (19-23Z) against Los Angeles 09-17
        # (PST, 17:00Z to 01:00Z the next UTC day): the LA day straddles midnight UTC/Berlin.
        row(
            "2026-11-23 00:00",
            SendingWindow(BER, start=time(20, 0), end=time.max),
            working_hours("America/Los_Angeles"),
            "2026-11-23 19:00",
            id="evening-window-meets-a-day-across-midnight",
        ),
        # Tokyo's Monday 09:00 is Sunday 24:00Z; a user window open every day takes it.
        row(
            "2026-11-27 09:00",
            ALWAYS(BER),
            working_hours("Asia/Tokyo"),
            "2026-11-30 00:00",
            id="tokyo-monday-is-berlin-sunday-night",
        ),
        # Summer: New York is on EDT (13-21Z), Berlin on CEST (07-15Z): 13:00-15:00Z.
        row(
            "2026-07-06 06:00",
            SendingWindow(BER),
            working_hours(NY),
            "2026-07-06 13:00",
            id="both-on-summer-time",
        ),
        # 2026-03-09: New York already on EDT (13-21Z), Berlin still on CET (08-16Z).
        row(
            "2026-03-09 06:00",
            SendingWindow(BER),
            working_hours(NY),
            "2026-03-09 13:00",
            id="between-the-two-dst-changes",
        ),
        # The recipient's public holiday: 2026-12-25 (Fri) in Germany, then the weekend.
        row(
            "2026-12-24 17:00",
            ALWAYS(NY),
            working_hours(BER, "DE"),
            "2026-12-28 08:00",
            id="recipient-holiday-skipped",
        ),
    ],
)
def test_next_in_both(start, mine, theirs, expected):
    assert next_in_both(Z(start), mine, theirs) == Z(expected)
    assert next_in_both(Z(start), theirs, mine) == Z(expected)  # symmetric


@pytest.mark.parametrize(
    ("mine", "theirs"),
    [
        # Sydney 09-17 (AEDT, 22-06Z) and Berlin 09-17 (CET, 08-16Z) never overlap.
        row(SendingWindow("Australia/Sydney"), working_hours(BER), id="sydney-and-berlin"),
        # Weekends only against weekdays only, in the same zone.
        row(
            SendingWindow(BER, days=frozenset({5, 6})),
            working_hours(BER),
            id="weekend-user-weekday-recipient",
        ),
    ],
)
def test_windows_that_never_meet(mine, theirs):
    assert next_in_both(Z("2026-11-23 00:00"), mine, theirs) is None


@pytest.mark.parametrize("seed", ["abc:1", "abc:2", "f00d:1", ""])
def test_jitter_is_stable_and_bounded(seed):
    first = jitter(seed, 20)
    assert first == jitter(seed, 20)  # a retry computes the same offset
    assert timedelta(0) <= first <= timedelta(minutes=20)
    assert first.microseconds == 0
    assert jitter(seed, 0) == timedelta(0)


def test_jitter_differs_per_seed():
    offsets = {jitter(f"token:{n}", 20) for n in range(20)}
    assert len(offsets) > 10  # spread out, not one fixed offset


@pytest.mark.parametrize(
    ("at", "offset", "expected"),
    [
        row("2026-11-23 09:00", 600, "2026-11-23 09:10", id="fits"),
        # 15:55Z is 16:55 Berlin: 10 min would cross 17:00, so it halves until it fits.
        row("2026-11-23 15:55", 600, "2026-11-23 15:57:30", id="halved-to-stay-inside"),
        row("2026-11-23 15:59:59", 600, "2026-11-23 15:59:59", id="no-room-left"),
        row("2026-11-23 09:00", 0, "2026-11-23 09:00", id="no-jitter"),
    ],
)
def test_jittered_stays_inside_the_window(at, offset, expected):
    moved = jittered(Z(at), timedelta(seconds=offset), SendingWindow(BER))
    assert moved == Z(expected)
    assert SendingWindow(BER).contains(moved)


# --------------------------------------------------------------------------------------------
# Holidays of two countries (the user's and the recipient's) at once


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        row(("DE", "US"), "DE,US", id="both"),
        row(("DE", None), "DE", id="recipient-unknown"),
        row((None, "in"), "IN", id="user-has-none"),
        row(("DE", "de"), "DE", id="same-country-once"),
        row((None, None), None, id="neither"),
        row(("", " "), None, id="blank"),
    ],
)
def test_holiday_union(codes, expected):
    assert holiday_union(*codes) == expected


@pytest.mark.parametrize(
    ("start", "delay", "tz", "country", "expected"),
    [
        # Due on Thanksgiving (US) for a German user: skipped when the recipient is American.
        row(Z("2026-11-25 14:00"), "1bd", BER, "DE,US", Z("2026-11-27 14:00"), id="de-us"),
        # Due on Ascension Day (DE) for an American user writing to Germany.
        row(Z("2026-05-13 14:00"), "1bd", NY, "US,DE", Z("2026-05-15 14:00"), id="us-de"),
        # Republic Day (IN, Mon 2026-01-26) after a weekend: Tuesday.
        row(Z("2026-01-23 10:00"), "1bd", BER, "DE,IN", Z("2026-01-27 10:00"), id="de-in"),
        # Christmas in both, then the weekend: Monday.
        row(Z("2026-12-24 10:00"), "1bd", BER, "DE,US", Z("2026-12-28 10:00"), id="shared"),
        # A region in the list works as alone: Patriots' Day (Mon 2026-04-20) in Massachusetts.
        row(Z("2026-04-17 14:00"), "1bd", NY, "DE,US-MA", Z("2026-04-21 14:00"), id="region"),
    ],
)
def test_add_delay_skips_the_holidays_of_every_country_given(start, delay, tz, country, expected):
    assert add_delay(start, parse_delay(delay), tz, country) == expected


def test_an_unknown_country_among_several_is_refused():
    with pytest.raises(ValidationError, match="'XX' is not a holiday calendar"):
        add_delay(Z("2026-06-01 12:00"), Delay(1, "business_days"), BER, "DE,XX")


@pytest.mark.parametrize(
    ("start", "mine", "theirs", "expected"),
    [
        # Kolkata 09-17 (03:30-11:30Z) lies within one UTC day; a Honolulu user's evening
        # window 18:00-24:00 (04:00-10:00Z) is Sunday evening there and Monday in Kolkata.
        row(
            "2026-11-23 00:00",
            SendingWindow(
                "Pacific/Honolulu", days=frozenset(range(7)), start=time(18), end=time.max
            ),
            working_hours("Asia/Kolkata"),
            "2026-11-23 04:00",
            id="honolulu-evening-is-kolkata-morning",
        ),
        # Sydney 09-17 (AEDT, 22:00Z-06:00Z) straddles midnight UTC; Berlin's every-day window
        # 00:00-08:00 (23:00Z-07:00Z) straddles it too, but not Berlin's midnight for Sydney.
        row(
            "2026-11-23 12:00",
            SendingWindow(BER, days=frozenset(range(7)), start=time(0), end=time(8)),
            working_hours("Australia/Sydney"),
            "2026-11-23 23:00",
            id="sydney-day-across-utc-midnight",
        ),
    ],
)
def test_next_in_both_across_midnight(start, mine, theirs, expected):
    assert next_in_both(Z(start), mine, theirs) == Z(expected)
    assert next_in_both(Z(start), theirs, mine) == Z(expected)
