"""The one retry policy: which faults are transient, how long to wait, when to give up.

Only TransientError is retried (mailboxes map socket, IMAP and SMTP faults to it); permanent
errors and SendUnconfirmed never are. Waits are exponential with jitter, capped by
Config.retry_wait_max; tests set it to 0 so they never sleep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from .errors import TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")


def retrying(attempts: int, wait_max: float) -> Retrying:
    return Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_exponential_jitter(
            multiplier=min(1.0, wait_max), max=wait_max, jitter=wait_max / 4
        ),
        before_sleep=before_sleep_log(log, logging.INFO),
        reraise=True,
    )


def call_with_retry(fn: Callable[[], T], attempts: int, wait_max: float) -> T:
    """Call fn, retrying transient faults; the last fault is re-raised as it was."""
    return retrying(attempts, wait_max)(fn)
