"""Judging a message against a rule: step 1 the headers, step 2 the text, and both in one."""

from __future__ import annotations

from collections.abc import Iterable

from ..mailbox import MessageSummary
from .addresses import bulk_reason, exclusion_of, is_internal, looks_like_list, sent_by_replywatch
from .questions import find_question
from .spec import Decision, RuleSpec

# -- step 1: the headers -------------------------------------------------------------------------


def _list_words(values: Iterable[str], limit: int = 3) -> str:
    values = list(values)
    shown = ", ".join(values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def check_headers(
    spec: RuleSpec,
    msg: MessageSummary,
    own_addresses: frozenset[str],
    *,
    new_only: bool = True,
) -> Decision:
    """Judge a message by its headers. `new_only=False` (the dry-run) drops the bound that
    rules apply only to mail sent after they were created."""
    own = frozenset(a.lower() for a in own_addresses)
    if msg.is_draft:
        return Decision(False, "a draft, not sent")
    if not msg.sent_by_user(own):
        return Decision(False, "not sent by you")
    if not msg.message_id:
        return Decision(False, "it has no Message-ID, so replies could not be matched")
    ours = sent_by_replywatch(msg, own)
    if ours is not None:
        return Decision(False, f"{ours} Replywatch sent")
    # Date headers have whole seconds: a message sent in the rule's first second is new.
    if (
        new_only
        and spec.created_at is not None
        and (msg.date is None or msg.date < spec.created_at.replace(microsecond=0))
    ):
        return Decision(False, "sent before the rule was created (rules apply to new mail)")
    everyone = [*dict.fromkeys(a.lower() for a in (*msg.to, *msg.cc))]
    others = [a for a in everyone if a not in own]
    if not others:
        return Decision(False, "no recipient other than you")
    subject = (msg.subject or "").lower()
    for phrase in spec.exclude_subjects:
        if phrase and phrase.lower() in subject:
            return Decision(False, f"subject contains {phrase!r} (excluded)")
    counted = others
    if spec.external_only:
        bulk = bulk_reason(everyone)
        if bulk:
            return Decision(False, bulk)
        external = [a for a in others if not is_internal(a, own)]
        if not external:
            return Decision(False, "every recipient is internal (your own domain)")
        counted = [a for a in external if not looks_like_list(a)]
        if not counted:
            return Decision(
                False,
                f"only list or no-reply addresses outside your domain ({_list_words(external)})",
            )
    kept = [a for a in counted if exclusion_of(a, spec) is None]
    if not kept:
        why = "; ".join(f"{a} by {exclusion_of(a, spec)}" for a in counted[:3])
        return Decision(False, f"every recipient is excluded ({why})")
    plural = "s" if len(kept) > 1 else ""
    to = f"{'external ' if spec.external_only else ''}recipient{plural} {_list_words(kept)}"
    if spec.question_only:
        return Decision(False, to, needs_text=True)  # the reason so far; the text decides
    return Decision(True, to)


# -- step 2: the text ----------------------------------------------------------------------------


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def check_text(spec: RuleSpec, text: str) -> Decision:
    """Step 2 for a rule whose headers passed: questions only, or anything."""
    if not spec.question_only:
        return Decision(True, "matches")
    question = find_question(text)
    if question is None:
        if not (text or "").strip():
            return Decision(False, "no question: the text is empty (or the message is gone)")
        return Decision(False, "no question in your text (questions only)")
    return Decision(True, f"asks: {_short(question)!r}")


def judge(
    spec: RuleSpec,
    msg: MessageSummary,
    own_addresses: frozenset[str],
    read_text,
    *,
    new_only: bool = True,
) -> Decision:
    """Both steps; `read_text()` is called only when the text decides."""
    first = check_headers(spec, msg, own_addresses, new_only=new_only)
    return first if first.settled else with_text(spec, first, read_text())


def with_text(spec: RuleSpec, first: Decision, text: str) -> Decision:
    """Settle a header Decision that left it to the text, both reasons in one."""
    second = check_text(spec, text)
    return Decision(second.matches, f"{first.reason}; {second.reason}")
