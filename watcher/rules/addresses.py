"""Who a recipient is: internal or external, a list or a person, excluded or not; bulk sends
and mail Replywatch itself sent."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..mailbox import MessageSummary
from .spec import MAX_RECIPIENTS, RuleSpec

# Local parts (before any +tag) of list servers and of mail nobody reads.
LIST_LOCAL_PARTS = frozenset(
    {
        "list",
        "lists",
        "announce",
        "announcements",
        "newsletter",
        "digest",
        "noreply",
        "no-reply",
        "no_reply",
        "donotreply",
        "do-not-reply",
        "do_not_reply",
        "notifications",
        "notification",
        "notify",
        "mailer-daemon",
        "postmaster",
        "bounce",
        "bounces",
        "majordomo",
        "listserv",
        "mailman",
        "sympa",
    }
)
LIST_SUFFIXES = ("-request", "-owner", "-bounces", "-announce")
LIST_DOMAINS = ("googlegroups.com", "groups.io", "freelists.org")
LIST_DOMAIN_PREFIXES = ("lists.", "list.")
# Domains shared by strangers: "my domain" means only my own addresses there.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "fastmail.com",
        "zoho.com",
        "yandex.ru",
        "mail.ru",
    }
)

# A Replywatch bump: compose.bump_message_id's "<rw.TOKEN.STAGE@domain>".
_BUMP_ID = re.compile(r"<rw\.[A-Za-z0-9_-]+\.\d+@([a-z0-9.-]+)>")
# The help notice about a malformed plus-address (compose.trigger_help_message_id).
_HELP_ID = re.compile(r"<rw-help\.[0-9a-f]+@([a-z0-9.-]+)>")
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")
_LOCAL = re.compile(r"[^@\s<>(),;:\"\[\]\\]+")


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def _local_of(address: str) -> str:
    return address.rpartition("@")[0].lower().split("+", 1)[0]


def own_domains(own_addresses: Iterable[str]) -> frozenset[str]:
    """The domains that count as the user's own (public mail providers excluded)."""
    return frozenset(
        d for d in (domain_of(a) for a in own_addresses) if d and d not in PUBLIC_MAIL_DOMAINS
    )


def _in_domain(domain: str, parent: str) -> bool:
    return domain == parent or domain.endswith("." + parent)


def is_internal(address: str, own_addresses: frozenset[str]) -> bool:
    address = address.lower()
    if address in own_addresses:
        return True
    domain = domain_of(address)
    return any(_in_domain(domain, d) for d in own_domains(own_addresses))


def looks_like_list(address: str) -> bool:
    """A mailing list, a list server's address, or an address nobody reads (no-reply)."""
    local, domain = _local_of(address), domain_of(address)
    if local in LIST_LOCAL_PARTS or local.endswith(LIST_SUFFIXES):
        return True
    if local.startswith(("noreply", "no-reply", "donotreply", "do-not-reply")):
        return True
    return domain.startswith(LIST_DOMAIN_PREFIXES) or any(
        _in_domain(domain, d) for d in LIST_DOMAINS
    )


def exclusion_of(address: str, spec: RuleSpec) -> str | None:
    """Why `address` is excluded by the rule ("address x", "domain y"), or None."""
    address = address.lower()
    if address in spec.exclude_addresses:
        return f"address {address}"
    domain = domain_of(address)
    for excluded in spec.exclude_domains:
        if _in_domain(domain, excluded):
            return f"domain {excluded}"
    return None


def bulk_reason(recipients: Iterable[str]) -> str | None:
    """Why a message to these addresses (To and Cc) is a bulk send, or None: the limit rules
    and triggers share, so nothing automatic follows up a mass mailing."""
    count = len({a.strip().lower() for a in recipients if a and a.strip()})
    if count > MAX_RECIPIENTS:
        return f"bulk: {count} recipients (more than {MAX_RECIPIENTS})"
    return None


def sent_by_replywatch(msg: MessageSummary, own_addresses: frozenset[str]) -> str | None:
    """What Replywatch itself sent for this account: "a follow-up" (compose.bump_message_id),
    "a help notice" (compose.trigger_help_message_id), or None for the user's own mail."""
    mid = msg.message_id or ""
    domains = {domain_of(a) for a in own_addresses}
    for pattern, what in ((_BUMP_ID, "a follow-up"), (_HELP_ID, "a help notice")):
        match = pattern.fullmatch(mid)
        if match and match.group(1) in domains:
            return what
    return None
