"""Imported by every Python process that scripts/test-dates.sh starts (it is on PYTHONPATH there
only): a work-around for Debian 12's libfaketime 0.9.10, not for anything in Replywatch.

test-dates.sh leaves the monotonic clock real (FAKETIME_DONT_FAKE_MONOTONIC): with a faked one,
CPython's timed lock waits (sem_clockwait, which libfaketime 0.9.10 does not wrap) wait for the
whole fake offset, months. With a real one, libfaketime's clock_nanosleep wrapper still shifts an
absolute CLOCK_MONOTONIC deadline by the fake offset and fails with EINVAL, and CPython 3.11's
time.sleep is exactly that call. A select() with a relative timeout sleeps the same, unwrapped.
"""

import os
import select
import time

if os.environ.get("FAKETIME"):

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            select.select([], [], [], left)

    time.sleep = _sleep
