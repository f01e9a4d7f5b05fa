"""Table-driven tests for plus-address tags (me+2w@…): schedule.parse_plus_tag, PlusTag.first_at,
the address matching of watcher.followups.plus_tag, and the help email of watcher.compose.

Dates used below: 2026-11-25 is a Wednesday; Europe/Berlin is UTC+1 in winter.
"""

from datetime import UTC, datetime

import pytest

from watcher import followups
from watcher.compose import compose_trigger_help, trigger_help_message_id
from watcher.errors import ValidationError
from watcher.followups import plus_tag
from watcher.mailbox import MessageSummary
from watcher.schedule import (
    PLUS_HELP,
    PLUS_MAX_STAGES,
    Delay,
    SendingWindow,
    parse_plus_tag,
)


def Z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "tag, steps, mode, canonical",
    [
        ("2w", (Delay(2, "weeks"),), None, "2w"),
        ("3d", (Delay(3, "days"),), None, "3d"),
        ("5bd", (Delay(5, "business_days"),), None, "5bd"),
        ("12h", (Delay(12, "hours"),), None, "12h"),
        ("2W", (Delay(2, "weeks"),), None, "2w"),
        ("1w-remind", (Delay(1, "weeks"),), "remind", "1w-remind"),
        ("1w-REMIND", (Delay(1, "weeks"),), "remind", "1w-remind"),
        ("2w-send", (Delay(2, "weeks"),), "send", "2w-send"),
        ("3d-1w", (Delay(3, "days"), Delay(1, "weeks")), None, "3d-1w"),
        (
            "3d-1w-2w-remind",
            (Delay(3, "days"), Delay(1, "weeks"), Delay(2, "weeks")),
            "remind",
            "3d-1w-2w-remind",
        ),
        ("fri", ("fri",), None, "fri"),
        ("Friday", ("fri",), None, "fri"),
        ("mon-1w", ("mon", Delay(1, "weeks")), None, "mon-1w"),
        ("tomorrow", ("tomorrow",), None, "tomorrow"),
        ("tomorrow-remind", ("tomorrow",), "remind", "tomorrow-remind"),
        ("366d", (Delay(366, "days"),), None, "366d"),
        ("52w", (Delay(52, "weeks"),), None, "52w"),
        ("1d-1d-1d-1d-1d", (Delay(1, "days"),) * 5, None, "1d-1d-1d-1d-1d"),
    ],
)
def test_valid_tags(tag, steps, mode, canonical):
    parsed = parse_plus_tag(tag)
    assert parsed.steps == steps
    assert parsed.mode == mode
    assert str(parsed) == canonical


@pytest.mark.parametrize(
    "tag, says",
    [
        ("2x", "'2x' is not a delay or a day"),
        ("30y", "'30y' is not a delay or a day"),
        ("2m", "'2m' is not a delay or a day"),  # minutes or months? neither is offered
        ("0d", "0d is out of range"),
        ("367d", "367d is out of range"),
        ("53w", "53w is out of range"),
        ("9000h", "9000h is out of range"),
        ("12345d", "'12345d' is not a delay or a day"),
        ("", "empty tag"),
        ("remind", "has no schedule"),
        ("2w-", "has no schedule"),
        ("-2w", "has no schedule"),
        ("2w--1w", "has no schedule"),
        ("1d-1d-1d-1d-1d-1d", "asks for 6 bumps; at most 5"),
        ("1w-fri", "a day (fri) can only be the first bump"),
        ("fri-mon", "a day (mon) can only be the first bump"),
        ("bump", "marks a draft"),
        ("2w-remind-send", "'remind' is not a delay or a day"),
        ("news", "'news' is not a delay or a day"),
        ("2 w", "'2 w' is not a delay or a day"),
    ],
)
def test_malformed_tags_say_what_is_wrong(tag, says):
    with pytest.raises(ValidationError) as err:
        parse_plus_tag(tag)
    assert says in err.value.message


def test_errors_name_the_valid_forms():
    with pytest.raises(ValidationError) as err:
        parse_plus_tag("2x")
    assert PLUS_HELP in err.value.message
    for form in ("3d", "2w", "5bd", "12h", "tomorrow", "-remind", "-send", "3d-1w"):
        assert form in PLUS_HELP


def test_stage_bound_is_the_followup_bound():
    assert PLUS_MAX_STAGES == followups.MAX_STAGES


BERLIN_9_TO_5 = SendingWindow.parse("Europe/Berlin", "mon-fri", "09:00-17:00")


@pytest.mark.parametrize(
    "tag, now, expected",
    [
        # Wednesday 2026-11-25, 10:00 UTC (11:00 in Berlin)
        ("fri", "2026-11-25 10:00", "2026-11-27 08:00"),  # Friday 09:00 CET
        ("friday-remind", "2026-11-25 10:00", "2026-11-27 08:00"),
        ("wed", "2026-11-25 10:00", "2026-12-02 08:00"),  # today is Wednesday: next week's
        ("wed", "2026-11-25 06:00", "2026-12-02 08:00"),  # even before today's window opens
        ("mon", "2026-11-25 10:00", "2026-11-30 08:00"),
        ("sun", "2026-11-25 10:00", "2026-11-29 08:00"),  # a day the user picked is kept
        ("tomorrow", "2026-11-25 10:00", "2026-11-26 08:00"),
        # 23:30 UTC on Wednesday is already Thursday 00:30 in Berlin: tomorrow is Friday
        ("tomorrow", "2026-11-25 23:30", "2026-11-27 08:00"),
        ("thu", "2026-11-25 23:30", "2026-12-03 08:00"),
    ],
)
def test_day_words_are_the_start_of_the_window_in_the_users_zone(tag, now, expected):
    assert parse_plus_tag(tag).first_at(Z(now), BERLIN_9_TO_5) == Z(expected)


def test_day_words_across_a_dst_change():
    # 2026-03-29 Berlin goes to CEST (UTC+2): Monday 30 March 09:00 is 07:00 UTC.
    window = SendingWindow.parse("Europe/Berlin", "mon-fri", "09:00-17:00")
    assert parse_plus_tag("mon").first_at(Z("2026-03-27 12:00"), window) == Z("2026-03-30 07:00")


def test_a_delay_has_no_fixed_first_time():
    assert parse_plus_tag("2w").first_at(Z("2026-11-25 10:00"), BERLIN_9_TO_5) is None


OWN = frozenset({"alice@example.com", "a.smith@corp.example"})


@pytest.mark.parametrize(
    "address, tag",
    [
        ("alice+2w@example.com", "2w"),
        ("Alice+2W@Example.COM", "2w"),
        ("a.smith+1w-remind@corp.example", "1w-remind"),
        ("alice+2x@example.com", "2x"),  # malformed, but still an own plus-address
        ("alice+@example.com", ""),
        ("alice@example.com", None),  # the plain address
        ("bob+2w@example.com", None),
        ("alice+2w@other.example", None),
        ("+2w@example.com", None),
        ("not-an-address", None),
    ],
)
def test_plus_tag_of_own_addresses(address, tag):
    assert plus_tag(address, OWN) == tag


def test_own_plus_addresses_are_never_recipients(engine, clock):
    """create_followup (every face and trigger) leaves the user and their me+2w@… out."""
    store = engine.store
    msg = MessageSummary(
        ref="r",
        message_id="<m@x>",
        from_addr="alice@example.com",
        to=("bob@example.net", "alice+2w@example.com"),
        cc=("alice+3d@example.com", "carol@example.net", "alice@example.com"),
        date=clock.now(),
    )
    with store.session() as s:
        user = store.get_or_create_user(s, "alice@example.com")
        account = store.add_account(
            s,
            user,
            kind="imap",
            email="alice@example.com",
            settings={},
            secret="x",
            now=clock.now(),
        )
        followup = followups.create_followup(
            store,
            s,
            account=account,
            anchor=msg,
            stages=[followups.StageSpec(delay=parse_plus_tag("1w").steps[0])],
            now=clock.now(),
        )
        assert followup.to_addrs == ["bob@example.net"]
        assert followup.cc_addrs == ["carol@example.net"]


def test_help_email_is_plain_text_to_the_plain_address_with_a_stable_id():
    original = MessageSummary(
        ref="r", message_id="<orig@example.com>", subject="Quote", date=Z("2026-11-25 10:00")
    )
    mail = compose_trigger_help(
        account_email="alice@example.com",
        account_name="Alice",
        address="alice+2x@example.com",
        problem="'2x' is not a delay or a day",
        original=original,
        now=Z("2026-11-25 10:05"),
        forms=PLUS_HELP,
    )
    again = trigger_help_message_id(
        "<orig@example.com>", "ALICE+2x@example.com", "alice@example.com"
    )
    other = trigger_help_message_id(
        "<other@example.com>", "alice+2x@example.com", "alice@example.com"
    )
    assert mail.message_id == again != other
    assert not mail.message_id.startswith("<rw.")  # bumps own that prefix
    assert mail.recipients == ("alice@example.com",)
    text = mail.raw.decode()
    assert "To: alice@example.com\r\n" in text
    assert "Auto-Submitted: auto-generated" in text
    assert "Content-Type: text/plain" in text
    assert "alice+2x@example.com" in text and '"Quote"' in text
    assert "'2x' is not a delay or a day" in text
    for example in ("alice+3d@example.com", "alice+fri@example.com", "alice+2w-remind@example.com"):
        assert example in text
    assert "+2x" not in text.split("Put one of these")[1]  # the examples are all valid
    for line in text.split("Put one of these")[1].splitlines():
        if line.startswith("  alice+"):
            parse_plus_tag(line.split()[0].split("+")[1].split("@")[0])
