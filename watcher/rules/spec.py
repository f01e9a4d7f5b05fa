"""A rule as plain values (RuleSpec), the Decision it makes on a message, and its limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MAX_RECIPIENTS = 10  # To + Cc beyond this is a bulk send, not a conversation
MAX_STAGES = 5  # as watcher.followups.MAX_STAGES
MAX_EXCLUSIONS = 100  # per list: a rule is not a spam filter
MODES = ("send", "remind")


@dataclass(frozen=True)
class RuleSpec:
    """A rule's fields as plain values: what judging needs, free of any database session."""

    id: int
    name: str
    mode: str = "remind"
    delays: tuple[str, ...] = ("3d",)
    external_only: bool = True
    question_only: bool = False
    exclude_domains: tuple[str, ...] = ()
    exclude_addresses: tuple[str, ...] = ()
    exclude_subjects: tuple[str, ...] = ()
    created_at: datetime | None = None  # None: no "new mail only" bound (a draft rule's dry-run)
    text: str | None = None  # the bumps' template; None: the user's default text

    @classmethod
    def of(cls, rule) -> RuleSpec:
        """From a models.Rule (or anything with the same attributes)."""
        return cls(
            id=rule.id,
            name=rule.name,
            mode=rule.mode,
            delays=tuple(rule.delays or ()),
            external_only=bool(rule.external_only),
            question_only=bool(rule.question_only),
            exclude_domains=tuple(rule.exclude_domains or ()),
            exclude_addresses=tuple(rule.exclude_addresses or ()),
            exclude_subjects=tuple(rule.exclude_subjects or ()),
            created_at=rule.created_at,
            text=getattr(rule, "text", None),
        )

    def describe(self) -> str:  # as models.Rule.describe: the follow-up's origin
        return f"rule {self.name!r} (#{self.id})"


@dataclass(frozen=True)
class Decision:
    """Whether a rule wants a message, and why, in words."""

    matches: bool
    reason: str
    # Every header test passed and the text decides (question_only); `reason` says who to.
    needs_text: bool = False

    @property
    def settled(self) -> bool:
        return not self.needs_text


def describe_conditions(spec: RuleSpec) -> str:
    """One line: what the rule looks for ("external, questions only; not domain x.com")."""
    parts = ["external recipients" if spec.external_only else "any recipient"]
    if spec.question_only:
        parts.append("questions only")
    excluded = [
        *(f"domain {d}" for d in spec.exclude_domains),
        *(f"address {a}" for a in spec.exclude_addresses),
        *(f"subject {s!r}" for s in spec.exclude_subjects),
    ]
    text = ", ".join(parts)
    if excluded:
        text += "; not " + ", ".join(excluded)
    return text
