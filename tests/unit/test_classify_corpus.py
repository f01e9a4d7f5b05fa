"""The classifier over the whole mail corpus (tests/fixtures/mail): one row per .eml file.

Each message is read the way the engine judges it (summary headers, reported Message-IDs of
reports, the start of the body: Mailbox.with_text), classified with a fixed context, and
compared with expected.csv: the kind, the rule (a prefix), for an out-of-office the return date
it states, and for a bounce the failed address and the diagnostic the event will show.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.support.corpus import CONTEXT, CORPUS, expected_rows, summary_of
from watcher.classify import KINDS, classify, is_absence_notice
from watcher.ooo import return_date

ROWS = expected_rows()


def test_corpus_is_complete_and_every_file_has_a_row():
    files = sorted(p.name for p in CORPUS.glob("*.eml"))
    assert sorted(r.file for r in ROWS) == files
    assert len(files) >= 120
    kinds = Counter(r.kind for r in ROWS)
    assert set(kinds) == set(KINDS)
    assert all(kinds[k] >= 5 for k in KINDS), kinds
    # Leaning to "reply" is allowed; the other way round never is.
    assert all(r.accepted in ("", "reply") for r in ROWS)
    assert not [r.file for r in ROWS if r.kind == "reply" and r.accepted]


def test_issue_18_additions_cover_every_pattern_and_the_safe_side():
    added = [r for r in ROWS if r.patterns]
    assert len(added) >= 60
    safe = [r for r in added if "safe" in r.patterns.split()]
    assert len(safe) >= 25 and all(r.kind == "reply" for r in safe)
    for pattern in "123456":
        tagged = [r for r in added if pattern in r.patterns.split()]
        assert len([r for r in tagged if r.kind != "reply"]) >= 4, pattern


@pytest.mark.parametrize("row", ROWS, ids=[r.file.removesuffix(".eml") for r in ROWS])
def test_corpus_message(row):
    summary = summary_of(CORPUS / row.file, in_sent=row.kind == "own")
    verdict = classify(summary, CONTEXT)
    assert verdict.kind == (row.accepted or row.kind), verdict.describe()
    assert verdict.rule.startswith(row.rule), verdict.describe()
    assert verdict.detail
    if row.kind == "bounce":
        assert row.bounced and row.bounced in verdict.detail, verdict.detail
        assert row.diagnostic in verdict.detail, verdict.detail
    if verdict.kind == "auto_reply":
        found = return_date(summary.text, summary.date, summary.subject)
        got = found.day.isoformat() if found else ""
        if is_absence_notice(verdict):
            assert got == row.return_date, f"{found} from {summary.text[:300]!r}"
        else:
            assert row.return_date == ""


OWN = [r for r in ROWS if r.kind == "own"]


@pytest.mark.parametrize("row", OWN, ids=[r.file.removesuffix(".eml") for r in OWN])
def test_the_users_message_outside_sent_is_never_her_own(row):
    """The same headers arriving from outside (a forged From: or a copy with no Sent copy)
    prove nothing: never "own", so they can neither restart the clock nor be skipped."""
    verdict = classify(summary_of(CORPUS / row.file, in_sent=False), CONTEXT)
    assert verdict.kind != "own" or verdict.rule == "own-bump", verdict.describe()
