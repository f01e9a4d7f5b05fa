"""The one retry policy: transient faults retried, everything else raised at once."""

from __future__ import annotations

import pytest

from watcher.errors import AuthFailed, MailboxUnavailable, SendUnconfirmed, ValidationError
from watcher.retry import call_with_retry


def flaky(failures: list[Exception], result="ok"):
    calls = []

    def fn():
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result

    return fn, calls


def test_transient_faults_are_retried_until_success():
    fn, calls = flaky([MailboxUnavailable("down"), MailboxUnavailable("down")])
    assert call_with_retry(fn, attempts=3, wait_max=0) == "ok"
    assert len(calls) == 3


def test_gives_up_after_the_attempts_and_raises_the_last_fault():
    fn, calls = flaky(
        [MailboxUnavailable("one"), MailboxUnavailable("two"), MailboxUnavailable("3")]
    )
    with pytest.raises(MailboxUnavailable, match="two"):
        call_with_retry(fn, attempts=2, wait_max=0)
    assert len(calls) == 2


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(AuthFailed("wrong password"), id="permanent"),
        pytest.param(ValidationError("bad"), id="validation"),
        pytest.param(SendUnconfirmed("maybe sent"), id="unconfirmed-never-retried"),
        pytest.param(KeyError("bug"), id="bug"),
    ],
)
def test_other_errors_are_not_retried(error):
    fn, calls = flaky([error])
    with pytest.raises(type(error)):
        call_with_retry(fn, attempts=5, wait_max=0)
    assert len(calls) == 1
