"""The one retry policy: which faults are transient, how long to wait, when to give up.

Only TransientError is retried (mailboxes map socket, IMAP and SMTP faults to it); permanent
errors and SendUnconfirmed never are. Waits are exponential with jitter, capped by
Config.retry_wait_max; tests set it to 0 so they never sleep.

A fault may carry `retry_after` (seconds the server asked us to wait: HTTP Retry-After, Gmail's
"Retry after <time>"). The wait is then at least that long; when the server asks for longer
than retry_wait_max, we stop retrying within this pass and leave it to the account's backoff
rather than come back early.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)

from .errors import TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")


def retry_after(state: RetryCallState) -> float | None:
    """The wait the last fault asked for, in seconds, if it named one."""
    exc = state.outcome.exception() if state.outcome is not None else None
    value = getattr(exc, "retry_after", None)
    return None if value is None else max(0.0, float(value))


def retrying(attempts: int, wait_max: float) -> Retrying:
    backoff = wait_exponential_jitter(
        multiplier=min(1.0, wait_max), max=wait_max, jitter=wait_max / 4
    )

    def wait(state: RetryCallState) -> float:
        asked = retry_after(state)
        return backoff(state) if asked is None else max(backoff(state), asked)

    def asks_too_long(state: RetryCallState) -> bool:
        asked = retry_after(state)
        return asked is not None and asked > wait_max

    return Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_any(stop_after_attempt(max(1, attempts)), asks_too_long),
        wait=wait,
        before_sleep=before_sleep_log(log, logging.INFO),
        reraise=True,
    )


def call_with_retry(fn: Callable[[], T], attempts: int, wait_max: float) -> T:
    """Call fn, retrying transient faults; the last fault is re-raised as it was."""
    return retrying(attempts, wait_max)(fn)
