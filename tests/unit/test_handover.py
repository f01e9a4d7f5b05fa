"""The pure part of settling a broken-off hand-over: which evidence applies, and the decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watcher.evidence import evidence_for, receipt_address
from watcher.handover import Outcome, decide

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
GRACE = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("found", "authoritative", "evidence", "handed_over", "now", "outcome", "until"),
    [
        (True, False, None, T0, T0, Outcome.SENT, None),  # a copy wins, whatever else
        (True, True, "sent", T0, T0, Outcome.SENT, None),
        (False, True, "sent", T0, T0, Outcome.RETRY, None),  # Gmail API: Sent decides
        (False, False, None, T0, T0 + GRACE * 9, Outcome.UNCONFIRMED, None),  # no evidence
        (False, False, "none", T0, T0, Outcome.UNCONFIRMED, None),
        (False, False, "receipt", T0, T0 + timedelta(minutes=1), Outcome.WAIT, T0 + GRACE),
        (False, False, "sent", T0, T0 + GRACE - timedelta(seconds=1), Outcome.WAIT, T0 + GRACE),
        (False, False, "receipt", T0, T0 + GRACE, Outcome.RESEND, None),
        (False, False, "sent", T0, T0 + GRACE * 2, Outcome.RESEND, None),
        # A stage handed over before this version (no time kept): the grace starts now.
        (False, False, "receipt", None, T0, Outcome.WAIT, T0 + GRACE),
    ],
)
def test_decide(found, authoritative, evidence, handed_over, now, outcome, until):
    decision = decide(
        found=found,
        authoritative=authoritative,
        evidence=evidence,
        handed_over_at=handed_over,
        now=now,
        grace=GRACE,
    )
    assert (decision.outcome, decision.until) == (outcome, until)


@pytest.mark.parametrize(
    ("settings", "evidence"),
    [
        ({"smtp_host": "smtp.fastmail.com"}, "receipt"),
        ({"smtp_host": "SMTP.Gmail.com"}, "sent"),
        ({"smtp_host": "smtp.office365.com"}, "receipt"),
        ({"smtp_host": "smtp.mail.me.com"}, "receipt"),
        ({"smtp_host": "mail.example.org"}, "none"),  # unknown: ask, as before
        ({"smtp_host": "smtp.fastmail.com", "send_evidence": "none"}, "none"),  # said wins
        ({"smtp_host": "mail.example.org", "send_evidence": "receipt"}, "receipt"),
        ({"send_evidence": "bogus"}, "none"),
        (None, "none"),
    ],
)
def test_evidence_for(settings, evidence):
    assert evidence_for(settings) == evidence


def test_receipt_address_is_the_users_own_plus_address():
    assert receipt_address("Alice@Example.org") == "alice+rw-receipt@example.org"
    assert receipt_address("alice+work@example.org") == "alice+rw-receipt@example.org"
