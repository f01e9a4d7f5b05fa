"""The mail corpus (tests/fixtures/mail): each .eml read the way a mailbox would hand it over.

Shared by tests/unit/test_classify_corpus.py and bench/confusion_matrix.py. A mailbox fetches
the summary header fields, the reported Message-IDs of reports, and the bounded start of the
body of every message (each corpus message lands in a tracked thread, and the engine reads the
body of every new message there: Mailbox.with_text). `summary_of` does exactly that, with the
same pure functions ImapMailbox uses.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

from watcher.classify import ClassifyContext
from watcher.headers import (
    body_text,
    may_be_report,
    reported_message_ids,
    summarize,
)
from watcher.mailbox import MessageSummary

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "mail"

# The fixed world of the corpus: Alice (alias a.smith@) wrote to bob@partner.example and others;
# BUMP_ID is a follow-up Replywatch sent in the Q3 thread.
ALICE = "alice@example.com"
ALIAS = "a.smith@example.com"
BUMP_ID = "<rw.7f3a9c2e11d04b5a.1@example.com>"
ORIGINAL_RECIPIENTS = frozenset(
    {"bob@partner.example", "dana@acme-corp.example", "j.schulz@kunde.example"}
)
# The Message-IDs Alice's threads are known by: her originals and the bump.
THREAD_IDS = frozenset(
    {
        "<CAH7pQx3vN2kL9e0Rt5mWbZ=q3rollout@mail.example.com>",
        "<20260302101502.4F1A2@mail.example.com>",
        "<a1b2c3d4-de-angebot@mail.example.com>",
        "<CAH7fr-partenariat-77@mail.example.com>",
        "<CAH7es-propuesta-19@mail.example.com>",
        "<CAH7nl-offerte-3@mail.example.com>",
        "<CAH7pt-proposta-8@mail.example.com>",
        "<CAH7ja-teian-5@mail.example.com>",
        "<CAH7intro-mark-2@mail.example.com>",
        "<CAH7lunch-44@mail.example.com>",
        BUMP_ID,
    }
)
CONTEXT = ClassifyContext(
    own_addresses=frozenset({ALICE, ALIAS}),
    own_message_ids=frozenset({BUMP_ID}),
    thread_message_ids=THREAD_IDS,
)


@dataclass(frozen=True)
class Expected:
    file: str
    kind: str  # what the message truly is (the confusion matrix's row)
    # The verdict accepted by design when it differs from `kind`: a few auto-replies carry no
    # mark but their body and are judged "reply" on purpose (lean to reply). Usually "".
    accepted: str
    rule: str
    return_date: str  # ISO date, "" when the message states none
    bounced: str  # for a bounce: the failed address the event must name
    diagnostic: str  # for a bounce: a fragment of the diagnostic the event must show
    note: str
    # Which misjudgement patterns of issue 18 the message exercises ("1".."6", "safe" for a
    # human reply that looks automated), space-separated; "" for the older corpus.
    patterns: str = ""

    @property
    def truth(self) -> str:
        """The matrix row, with delay warnings apart from other automatic mail."""
        return "delay" if self.rule == "dsn-delayed" else self.kind


def expected_rows() -> list[Expected]:
    """Every row of expected.csv and of the expected-*.csv files beside it (one per batch of
    additions, so that parallel work on the corpus never edits the same file)."""
    rows: list[Expected] = []
    for path in sorted(CORPUS.glob("expected*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            rows.extend(Expected(**row) for row in csv.DictReader(f))
    return rows


def header_block(raw: bytes) -> bytes:
    """The header section, as BODY.PEEK[HEADER.FIELDS (...)] would return (a superset)."""
    raw = raw.replace(b"\r\n", b"\n")
    end = raw.find(b"\n\n")
    return raw if end < 0 else raw[: end + 1]


def summary_of(path: Path, in_sent: bool = False) -> MessageSummary:
    """`in_sent`: found in the user's Sent (how the user's own messages are known)."""
    raw = path.read_bytes()
    summary = summarize(f"corpus/{path.name}", header_block(raw), in_sent=in_sent)
    if may_be_report(summary):
        summary = replace(summary, reported_ids=reported_message_ids(raw))
    return replace(summary, text=body_text(raw))
