"""The rule trigger: follow-ups on new sent mail that matches one of the account's rules.

Registered last, so an explicit trigger (plus-address, folder, draft) owns a message first.
The recogniser judges headers only (watcher.rules.check_headers, in the cursor's transaction)
and names every rule that may want the message, in the rules' order. The processor re-checks
them (a rule may have been edited or disabled meanwhile), reads the text only when a
questions-only rule decides, and lets the first rule that matches create the follow-up, with
its origin, in the transaction that settles the item. A message that no rule wants after all
is settled as ignored with the reasons; no Event is written for it (the item keeps the reason).
"""

from __future__ import annotations

import logging

from .. import followups as fu_ops
from .. import schedule
from ..errors import ConflictError, ReplywatchError, ValidationError
from ..followups import plus_tag
from ..mailbox import MessageSummary
from ..models import Rule
from ..rules import Decision, RuleSpec, check_headers, with_text
from . import Candidate, Job, TriggerContext, acting, register

log = logging.getLogger(__name__)

KIND = "rule"


def explicit_trigger(msg: MessageSummary, own_addresses) -> str | None:
    """Whatever the registration order, an explicit trigger's message is never a rule's: one
    in a trigger folder, or one with the user's plus-address (me+2w@...) on it."""
    if msg.folder:
        return f"the folder {msg.folder} sets its follow-up"
    for address in (*msg.to, *msg.cc, *msg.bcc):
        if plus_tag(address, own_addresses) is not None:
            return f"the address {address} sets its follow-up"
    return None


def recognise(ctx: TriggerContext, msg: MessageSummary) -> Candidate | None:
    if not ctx.rules or explicit_trigger(msg, ctx.own_addresses) is not None:
        return None
    wanted = []
    for rule in ctx.rules:
        decision = check_headers(RuleSpec.of(rule), msg, ctx.own_addresses)
        if decision.matches or decision.needs_text:
            wanted.append(str(rule.id))
    if not wanted:
        return None
    return Candidate(kind=KIND, key=msg.message_id, spec=",".join(wanted))


def rule_ids(spec: str) -> list[int]:
    return [int(part) for part in spec.split(",") if part.strip().isdigit()]


def _ignore(job: Job, outcome: str) -> None:
    with job.store.session() as s:
        row = acting.pending_row(s, job)
        if row is not None:
            acting.settle(s, job, row, "ignored", outcome)


def process(job: Job) -> None:
    item = acting.load(job)
    if item is None:
        return
    msg = item.message
    own = job.account.own_addresses
    with job.store.session() as s:
        rows = [s.get(Rule, i) for i in rule_ids(item.spec)]
        specs = [
            RuleSpec.of(r)
            for r in rows
            if r is not None and r.enabled and r.account_id == job.account.id
        ]
        linked = job.store.active_followups_linked(
            s, job.account.id, msg.linked_ids, [msg.thread_ref] if msg.thread_ref else []
        )
        linked_ids = [f.id for f in linked]
    if linked_ids:
        _ignore(job, f"its thread already has an active follow-up (#{linked_ids[0]})")
        return
    if not specs:
        _ignore(job, f"rule #{item.spec} was disabled or removed before the message was acted on")
        return

    winner: tuple[RuleSpec, Decision] | None = None
    reasons: list[str] = []
    text: str | None = None
    for spec in specs:
        decision = check_headers(spec, msg, own)
        if decision.needs_text:
            if text is None:
                try:
                    text = job.retry(lambda: job.mailbox.message_text(msg.ref))
                except ReplywatchError as e:  # stays pending: tried again next pass
                    log.warning(
                        "account %s: reading a sent message failed: %s", job.account.id, e.message
                    )
                    return
            decision = with_text(spec, decision, text or "")
        if decision.matches:
            winner = (spec, decision)
            break
        reasons.append(f"{spec.describe()}: {decision.reason}")
    if winner is None:
        _ignore(job, "; ".join(reasons))
        return

    spec, decision = winner
    with job.store.session() as s:
        row = acting.pending_row(s, job)
        if row is None:
            return
        try:
            stages = [
                fu_ops.StageSpec(delay=schedule.parse_delay(d), text=spec.text) for d in spec.delays
            ]
            followup = acting.create(
                s, job, msg, stages, origin=spec.describe(), mode=spec.mode, recipients_judged=True
            )
        except (ValidationError, ConflictError) as e:
            why = f"{spec.describe()} matched {msg.subject!r}, but no follow-up was set"
            acting.account_event(s, job, "trigger_ignored", f"{why}: {e.message}", msg.message_id)
            acting.settle(s, job, row, "ignored", f"{spec.describe()} matched, but {e.message}")
            return
        acting.followup_event(
            s, job, followup, "rule_matched", f"{spec.describe()} matched: {decision.reason}"
        )
        row.spec = str(spec.id)  # the one rule that acted: what rule_followup_counts counts
        acting.settle(
            s,
            job,
            row,
            "done",
            f"follow-up #{followup.id} by {spec.describe()}: {decision.reason}",
            followup.id,
        )


register(KIND, recognise, process)
