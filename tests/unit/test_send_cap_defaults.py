"""watcher.send_caps: provider defaults, the user's day, what a typed cap means."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from watcher import send_caps
from watcher.errors import ValidationError
from watcher.models import Account


@pytest.mark.parametrize(
    ("kind", "email", "smtp_host", "provider", "cap"),
    [
        ("gmail", "me@gmail.com", None, send_caps.GOOGLE, 200),
        ("gmail", "me@company.example", None, send_caps.GOOGLE, 200),  # Workspace
        ("imap", "me@gmail.com", "smtp.gmail.com", send_caps.GOOGLE, 200),  # app password
        ("imap", "me@company.example", "smtp.office365.com", send_caps.MICROSOFT_365, 400),
        ("imap", "me@outlook.com", "smtp.office365.com", send_caps.OUTLOOK_COM, 100),
        ("imap", "me@hotmail.co.uk", "smtp-mail.outlook.com", send_caps.OUTLOOK_COM, 100),
        ("imap", "me@live.com", "smtp-mail.outlook.com", send_caps.OUTLOOK_COM, 100),
        ("imap", "me@fastmail.com", "smtp.fastmail.com", send_caps.OTHER, 100),
        ("imap", "me@icloud.com", "smtp.mail.me.com", send_caps.OTHER, 100),
        ("imap", "me@example.org", "mail.example.org", send_caps.OTHER, 100),
    ],
)
def test_the_default_cap_follows_the_provider(kind, email, smtp_host, provider, cap):
    settings = {"smtp_host": smtp_host} if smtp_host else {}
    account = Account(kind=kind, email=email, settings=settings, daily_send_cap=None)
    assert send_caps.provider_of(account) == provider
    assert send_caps.cap_of(account) == cap
    account.daily_send_cap = 7
    assert send_caps.cap_of(account) == 7  # the user's override wins


@pytest.mark.parametrize(
    ("now", "zone", "start", "end"),
    [
        # Los Angeles, 00:30Z on the 25th is still the 24th there.
        ("2026-11-25T00:30:00Z", "America/Los_Angeles", "2026-11-24T08:00Z", "2026-11-25T08:00Z"),
        # Berlin, 23:30Z on the 24th is already the 25th there.
        ("2026-11-24T23:30:00Z", "Europe/Berlin", "2026-11-24T23:00Z", "2026-11-25T23:00Z"),
        # The day the clocks go back in Berlin has 25 hours.
        ("2026-10-25T12:00:00Z", "Europe/Berlin", "2026-10-24T22:00Z", "2026-10-25T23:00Z"),
        # And the day they go forward, 23.
        ("2026-03-29T12:00:00Z", "Europe/Berlin", "2026-03-28T23:00Z", "2026-03-29T22:00Z"),
        ("2026-11-24T12:00:00Z", "UTC", "2026-11-24T00:00Z", "2026-11-25T00:00Z"),
    ],
)
def test_a_day_runs_from_midnight_to_midnight_in_the_user_s_zone(now, zone, start, end):
    def at(text):
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)

    assert send_caps.day_bounds(at(now), zone) == (at(start), at(end))


@pytest.mark.parametrize(
    ("raw", "value"), [("250", 250), (" 1 ", 1), ("default", None), ("", None)]
)
def test_a_typed_cap_is_a_number_or_the_default(raw, value):
    assert send_caps.parse_cap(raw) == value


@pytest.mark.parametrize("raw", ["0", "-1", "1.5", "lots", "100001", "1e3"])
def test_a_nonsense_cap_is_refused_with_the_valid_forms(raw):
    with pytest.raises(ValidationError, match="whole number from 1 to 100,000, or 'default'"):
        send_caps.parse_cap(raw)
