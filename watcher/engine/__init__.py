"""The watcher: one pass over every account, and the loop that repeats it.

Lifecycle of one follow-up::

    created ──(needs_check)──> thread read once ──> ACTIVE, waiting for due_at
       │                                               │
       │  new mail in the thread (changes / re-read)   │ due_at reached (claimed with a lease)
       ▼                                               ▼
    classify ── reply ──────────────> REPLIED     re-read thread (a reply that just came wins)
       │  ├──── bounce ─────────────> FAILED      find_sent(deterministic Message-ID)?
       │  ├──── own (manual) ───────> clock of      ├─ found: record SENT (a crash came after)
       │  │                           the stage     └─ not found: mark SENDING, hand to SMTP,
       │  │                           restarts          record SENT + next stage, same commit
       │  ├──── out-of-office ──────> next bump held
       │  │                           to the return date
       │  └──── auto-reply / list ──> Event only   last stage done ──> COMPLETED
       ▼
    Event for every decision (what, when, why)

Own means found in the user's Sent (folder or SENT label), never a From: line: inbound mail
can claim any sender. A message From: the user that is only in the inbox waits for the thread
read before the bump (her Sent copy may still be on its way) and is then judged as someone
else's message (see JudgingSteps._judge).

Exactly once: a stage found in SENDING after a crash (or a line that dropped before the server's
answer) is settled by evidence (watcher.handover): its copy in Sent or its receipt copy means
sent; where evidence can exist, none within the grace means the server dropped it, and it is
sent again with the same Message-ID; where none can exist the stage becomes UNCONFIRMED rather
than risk a second bump. The daily send cap (watcher.send_caps) is checked, and the send
counted, in the same commit that marks a stage SENDING: past the cap the stage stays PENDING and
waits for the next day; a stage that goes back to PENDING is not counted. Metrics
(watcher.metrics) are counted where things happen and decide nothing. The clock is injected, so
tests never sleep.

Where each part lives (the Engine class in core.py is put together from the rooms):

    core.py       the pass loop, wake-ups, leases on accounts and due follow-ups
    upkeep.py     the IMAP IDLE holder, Gmail watch renewal, trigger folders, zone scans
    judging.py    a thread's new messages -> classify -> state change + Event
    pacing.py     overdue spread, bumps per minute, the daily send cap
    sending.py    one due stage sent exactly once
    recovery.py   a hand-over that broke off, settled by evidence (unconfirmed stages)
    stages.py     the records the others share: a stage done, a history line, a failure
    shared.py     PassReport, AccountView, LeaseLost, the order messages are judged in
"""

from .core import Engine
from .judging import CLOCK_SKEW
from .recovery import UNCONFIRMED_RECHECK
from .shared import AccountView, LeaseLost, PassReport, utcnow
from .upkeep import IDLE_LOCK_KEY, WATCH_RENEW_BEFORE, WATCH_RETRY

__all__ = [
    "CLOCK_SKEW",
    "IDLE_LOCK_KEY",
    "UNCONFIRMED_RECHECK",
    "WATCH_RENEW_BEFORE",
    "WATCH_RETRY",
    "AccountView",
    "Engine",
    "LeaseLost",
    "PassReport",
    "utcnow",
]
