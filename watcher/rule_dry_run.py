"""A rule's dry-run (`python -m watcher rule dry-run` and the settings page's rules).

The dry-run reads the account's recent sent mail and says, per message, whether the rule would
have put a follow-up on it and why; it creates nothing and writes nothing. `dry_run()` is what
the settings page shows too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import rules
from .errors import ValidationError
from .mailbox import AccountSpec, Mailbox, MessageSummary, open_mailbox
from .models import Account, Rule
from .store import Store
from .triggers.by_rule import explicit_trigger

MAX_DRY_RUN_DAYS = 90
DRY_RUN_LIMIT = 200


def rule_account(s, rule: Rule) -> Account:
    return s.get(Account, rule.account_id)


@dataclass(frozen=True)
class DryRunRow:
    date: datetime | None
    to: str
    subject: str
    would: bool
    why: str


@dataclass(frozen=True)
class DryRun:
    rule: rules.RuleSpec
    email: str
    timezone: str
    since: datetime
    rows: list[DryRunRow]

    @property
    def matches(self) -> int:
        return sum(1 for r in self.rows if r.would)


def dry_run(
    store: Store,
    config,
    rule_id: int,
    *,
    days: int = 14,
    now: datetime,
    user_id: int | None = None,
    mailbox_factory: Callable[[AccountSpec, object], Mailbox] = open_mailbox,
) -> DryRun:
    """What the rule would have done with the account's mail sent in the last `days` days,
    judged as if the rule had existed then. Reads the mailbox and the database; writes nothing.
    `user_id` scopes the rule to its owner (the settings page)."""
    if not 1 <= days <= MAX_DRY_RUN_DAYS:
        raise ValidationError(f"look back between 1 and {MAX_DRY_RUN_DAYS} days")
    with store.session() as s:
        rule = store.get_rule(s, rule_id, user_id=user_id)
        spec = rules.RuleSpec.of(rule)
        account = rule_account(s, rule)
        account_spec = store.account_spec(account)
        account_id, own, tz = account.id, account.own_addresses, account.user.timezone
    since = now - timedelta(days=days)
    judged: list[tuple[MessageSummary, rules.Decision]] = []
    with mailbox_factory(account_spec, config) as mailbox:
        sent = mailbox.recent_sent(since, limit=DRY_RUN_LIMIT)
        for msg in sent:
            explicit = explicit_trigger(msg, own)
            if explicit is not None:
                judged.append((msg, rules.Decision(False, explicit)))
                continue
            decision = rules.judge(
                spec, msg, own, lambda msg=msg: mailbox.message_text(msg.ref), new_only=False
            )
            judged.append((msg, decision))
    rows = []
    with store.session() as s:  # read only: which threads a follow-up already watches
        for msg, decision in judged:
            would, why = decision.matches, decision.reason
            if would:
                linked = store.active_followups_linked(
                    s, account_id, msg.linked_ids, [msg.thread_ref] if msg.thread_ref else []
                )
                if linked:
                    would, why = (
                        False,
                        f"its thread already has an active follow-up (#{linked[0].id})",
                    )
            rows.append(
                DryRunRow(msg.date, ", ".join([*msg.to, *msg.cc]) or "-", msg.subject, would, why)
            )
    return DryRun(spec, account_spec.email, tz, since, rows)
