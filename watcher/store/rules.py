"""Rules: the user's automatic follow-up rules and what they created (their trigger items)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import NotFoundError
from ..models import Account, Rule, TriggerItem
from .base import StoreBase


class RuleQueries(StoreBase):
    def add_rule(
        self,
        s: Session,
        account: Account,
        fields,  # rules.RuleFields, already validated
        *,
        external_only: bool,
        question_only: bool,
        now: datetime,
    ) -> Rule:
        """A new, enabled rule on one of the user's accounts (it applies from `now` on)."""
        rule = Rule(
            user_id=account.user_id,
            account_id=account.id,
            name=fields.name,
            enabled=True,
            mode=fields.mode,
            delays=fields.delays,
            external_only=external_only,
            question_only=question_only,
            exclude_domains=fields.exclude_domains,
            exclude_addresses=fields.exclude_addresses,
            exclude_subjects=fields.exclude_subjects,
            created_at=now,
            updated_at=now,
        )
        s.add(rule)
        s.flush()
        return rule

    def enabled_rules(self, s: Session, account_id: int) -> list[Rule]:
        return list(
            s.scalars(
                select(Rule)
                .where(Rule.account_id == account_id, Rule.enabled.is_(True))
                .order_by(Rule.id)
            )
        )

    def get_rule(self, s: Session, rule_id: int, user_id: int | None = None) -> Rule:
        """One rule; with `user_id`, only that user's (the web face): NotFoundError otherwise."""
        query = select(Rule).where(Rule.id == rule_id)
        if user_id is not None:
            query = query.where(Rule.user_id == user_id)
        rule = s.scalar(query)
        if rule is None:
            raise NotFoundError(f"no rule {rule_id}")
        return rule

    def list_rules(
        self, s: Session, user_id: int | None = None, account_id: int | None = None
    ) -> list[Rule]:
        query = select(Rule).order_by(Rule.account_id, Rule.id)
        if user_id is not None:
            query = query.where(Rule.user_id == user_id)
        if account_id is not None:
            query = query.where(Rule.account_id == account_id)
        return list(s.scalars(query))

    def rule_followup_counts(self, s: Session, rule_ids: Iterable[int]) -> dict[int, int]:
        """How many follow-ups each rule created (a settled rule item names its one rule)."""
        keys = {str(i): i for i in rule_ids}
        if not keys:
            return {}
        rows = s.execute(
            select(TriggerItem.spec, func.count())
            .where(
                TriggerItem.kind == "rule",
                TriggerItem.state == "done",
                TriggerItem.followup_id.is_not(None),
                TriggerItem.spec.in_(list(keys)),
            )
            .group_by(TriggerItem.spec)
        )
        counts = dict.fromkeys(keys.values(), 0)
        counts.update({keys[spec]: n for spec, n in rows})
        return counts

    def rule_items(self, s: Session, account_id: int, limit: int = 200) -> list[TriggerItem]:
        """An account's newest rule trigger items (what rules were asked about, and the outcome)."""
        return list(
            s.scalars(
                select(TriggerItem)
                .where(TriggerItem.account_id == account_id, TriggerItem.kind == "rule")
                .order_by(TriggerItem.id.desc())
                .limit(limit)
            )
        )
