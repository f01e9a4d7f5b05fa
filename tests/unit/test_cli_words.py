"""The CLI's words for history lines and stages (watcher.cli.words): one word for one thing."""

from __future__ import annotations

import pytest

from watcher.cli.words import event_words, stage_word
from watcher.models import FollowUp, FollowUpState, StageState


@pytest.mark.parametrize(
    ("kind", "detail", "shown"),
    [
        pytest.param(
            "stopped",
            "stopped: reply from bob@x.test, message <r@x.test>",
            ("replied", "reply from bob@x.test, message <r@x.test>"),
            id="reply",
        ),
        pytest.param(
            "stopped",
            "stopped: you wrote in the thread yourself",
            ("cancelled", "you wrote in the thread yourself"),
            id="own-message",
        ),
        pytest.param(
            "failed",
            "stopped as failed: bounce: mailbox unavailable",
            ("failed", "bounce: mailbox unavailable"),
            id="bounce",
        ),
        pytest.param(
            "cancelled", "cancelled by you", ("cancelled", "cancelled by you"), id="untouched"
        ),
        pytest.param("sent", "sent stage 1 as <a@b>", ("sent", "sent stage 1 as <a@b>"), id="sent"),
    ],
)
def test_event_words(kind, detail, shown):
    assert event_words(kind, detail) == shown


@pytest.mark.parametrize(
    ("state", "stage", "shown"),
    [
        (FollowUpState.ACTIVE, StageState.PENDING, "pending"),
        (FollowUpState.REPLIED, StageState.PENDING, "not sent"),
        (FollowUpState.CANCELLED, StageState.PENDING, "not sent"),
        (FollowUpState.FAILED, StageState.PENDING, "not sent"),
        (FollowUpState.REPLIED, StageState.SENT, "sent"),
        (FollowUpState.COMPLETED, StageState.UNCONFIRMED, "unconfirmed"),
    ],
)
def test_stage_word(state, stage, shown):
    assert stage_word(FollowUp(state=state), stage) == shown
