"""Results: does following up work, and which way of setting it up works best?

Definitions (the settings page and `python -m watcher stats` show them too):

- A follow-up has *ended* when it was stopped by a reply (REPLIED) or ran out of stages with
  nobody replying (COMPLETED). Only ended follow-ups make up the shares.
- Its *reply time* is `replied_at` (the reply's own Date). Follow-ups that ended before that
  column existed fall back to their first "stopped" Event, and as a last resort to
  `updated_at`, which the stop itself touched.
- A *bump* is a stage that went out: sent, reminded (remind-only counts: "bump or reminder")
  or unconfirmed (handed to the server; never resent). A REPLIED follow-up falls in bucket
  "before any bump" if no such stage was done at or before its reply time, "after bump 1" if
  one was, "after bump 2" if two were, "after bump 3 or later" beyond that. COMPLETED ones are
  "never": every stage went out and nobody replied.
- CANCELLED and FAILED (bounces) are counted and shown but are not part of the shares; ACTIVE
  ones are "still waiting".
- *Time to reply* is reply time minus `anchor_at` (when the user sent the message), over
  REPLIED follow-ups; its median is shown overall and split into "before any bump" and
  "after a bump".

Scopes: everything for one user, each of that user's accounts, and each way a follow-up was
made (`origin`: "" is by hand, else the word before the first space: plus-address, rule,
folder, draft). Every query is scoped to one user id.

Cost: three queries, whatever the number of Events: the user's accounts; follow-up counts
grouped by account, origin and state; one row per REPLIED follow-up, its reply time and bump
count found by correlated subqueries on indexed columns (events.followup_id, stages'
(followup_id, position)). Medians need the replies' times, so those rows come to Python; the
rest is counted by the database. Measured on SQLite with 10,000
follow-ups (20,000 stages, 30,000 events): about 0.06 s for a whole report
(tests/unit/test_stats.py::test_ten_thousand_followups_stay_fast guards it).

One module per job; callers import from here:

    results.py   pure: the definitions above as code; Results, Report, build_report
    queries.py   the three queries and user_report, the only entry point to I/O
    text.py      the CLI's tables and sentences; run_cli (`python -m watcher stats`)
"""

from .queries import fetch_replies, fetch_state_counts, user_report
from .results import (
    DONE_STAGES,
    EMPTY_MESSAGE,
    ENDED_BUCKETS,
    LABELS,
    ORIGIN_LABELS,
    OTHER_COUNTS,
    REPLY_BUCKETS,
    ReplyRow,
    Report,
    Results,
    StateCount,
    build_report,
    humanize,
    median,
    origin_kind,
    reply_bucket,
)
from .text import describe, percent, run_cli, table

__all__ = [
    "DONE_STAGES",
    "EMPTY_MESSAGE",
    "ENDED_BUCKETS",
    "LABELS",
    "ORIGIN_LABELS",
    "OTHER_COUNTS",
    "REPLY_BUCKETS",
    "ReplyRow",
    "Report",
    "Results",
    "StateCount",
    "build_report",
    "describe",
    "fetch_replies",
    "fetch_state_counts",
    "humanize",
    "median",
    "origin_kind",
    "percent",
    "reply_bucket",
    "run_cli",
    "table",
    "user_report",
]
