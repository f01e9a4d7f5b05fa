"""Rules: follow-ups put on new sent mail automatically. Pure: no I/O, no database.

A rule ("every external message that asks a question: remind me after 3 days") is judged in two
steps, cheapest first, so a body is read only for mail that could match:

1. `check_headers()` looks at the MessageSummary alone: sent by the user (not a draft, not a
   Replywatch bump), dated at or after the rule was created (new mail only, never
   retroactively), someone other than the user in To/Cc, the external/list/bulk test, the
   exclusions. Its Decision either settles the matter or says the text must decide.
2. `check_text()` (rules with question_only): does the user's own text ask something?

Every Decision carries its reason in words, for the trigger item and the dry-run table.

External, list and bulk (external_only):
- internal means the user's own domains (of the account's address and aliases) and their
  subdomains; on a public mail provider's domain (gmail.com, outlook.com, ...) only the user's
  own addresses are internal, since other users of that domain are not colleagues;
- a list or automated address is one whose local part (before any +tag) is a list or no-reply
  name (list, announce, noreply, notifications, mailer-daemon, ...), ends in -request, -owner,
  -bounces or -announce, or whose domain is a list host (lists.*, googlegroups.com, groups.io);
  role addresses a person answers (info@, support@, sales@) are not lists;
- a message with more than MAX_RECIPIENTS addresses in To and Cc is a bulk send.
A message passes when at least one external recipient is not list-like and not excluded.

Exclusions (any rule): a recipient is excluded by an address or by a domain (the domain itself
or a subdomain). The message is excluded when every recipient that would count is excluded, so
a mail to a client with an excluded colleague in Cc still gets its follow-up; a subject that
contains an excluded phrase (any case) excludes the message outright.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from . import schedule
from .errors import ValidationError
from .mailbox import MessageSummary

MAX_RECIPIENTS = 10  # To + Cc beyond this is a bulk send, not a conversation
MAX_STAGES = 5  # as watcher.followups.MAX_STAGES
MAX_EXCLUSIONS = 100  # per list: a rule is not a spam filter
MODES = ("send", "remind")

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


# -- addresses ----------------------------------------------------------------------------------


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

# Where the user's own words end: an attribution line ("On ... wrote:", also wrapped over a few
# lines; de "Am ... schrieb ...:", fr "Le ... a écrit :"), Outlook's quoted header block, a
# forwarded message, a signature ("-- ").
_CUTS = (
    re.compile(r"^[ \t]*On\b[^\n]{0,300}(?:\n[^\n]{0,300}){0,2}?\bwrote:[ \t]*$", re.M | re.I),
    re.compile(
        r"^[ \t]*Am\b[^\n]{0,300}(?:\n[^\n]{0,300}){0,2}?\bschrieb\b[^\n]{0,200}:[ \t]*$", re.M
    ),
    re.compile(r"^[ \t]*Le\b[^\n]{0,300}(?:\n[^\n]{0,300}){0,2}?\ba écrit[ \t]*:[ \t]*$", re.M),
    re.compile(r"^[ \t]*-{2,}[ \t]*Original Message[ \t]*-{2,}", re.M | re.I),
    re.compile(r"^[ \t]*-{2,}[ \t]*Forwarded message[ \t]*-{2,}", re.M | re.I),
    re.compile(r"^[ \t]*Begin forwarded message:", re.M | re.I),
    re.compile(r"^[ \t]*_{10,}[ \t]*$", re.M),  # Outlook's rule above "From: ... Sent: ..."
    re.compile(r"^From:[^\n]*\n(?:[^\n]*\n)?Sent:", re.M),
    re.compile(r"^-- ?$", re.M),  # the signature separator (RFC 3676 "-- ")
)
_URL = re.compile(r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.|\bmailto:)\S+", re.I)
# A sentence and the punctuation that ends it; linear (no nested repeats: texts are untrusted).
_SENTENCE = re.compile(r"[^.!?\n]+([.!?]*)")
_CLOSERS = frozenset("\"')]\u00bb\u201d\u2019")
_OPENERS = "([\"'\u00ab\u201c"
# Asking without a question mark. Whole words, any case.
REQUEST_PHRASES = (
    "let me know",
    "let us know",
    "could you",
    "would you",
    "can you",
    "will you",
    "please confirm",
    "please advise",
    "please let me",
    "please send",
    "please reply",
    "please get back",
    "get back to me",
    "any thoughts",
    "your thoughts",
    "what do you think",
    "are you available",
    "are you free",
    "would it be possible",
    "is it possible",
    "do you have",
    "if you could",
    "i wonder if",
    "i was wondering",
    "looking forward to hearing",
    "look forward to hearing",
    "looking forward to your reply",
    "awaiting your reply",
)
_REQUEST = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in REQUEST_PHRASES) + r")\b", re.I)


def own_words(text: str) -> str:
    """The part of a message the user wrote: quoted lines, the quoted message after an
    attribution line, a forwarded message and the signature removed."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    end = len(text)
    for cut in _CUTS:
        match = cut.search(text)
        if match is not None:
            end = min(end, match.start())
    lines = [line for line in text[:end].split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def _first_question_mark(words: str) -> tuple[int, str] | None:
    """(where, sentence) of the first sentence ending in "?" right after a word: not a "?"
    inside a word, nor a lone "?" after a colon or a number list."""
    for match in _SENTENCE.finditer(words):
        ending = match.group(1)
        if "?" not in ending:
            continue
        after = words[match.end() : match.end() + 1]
        if after and not (after.isspace() or after in _CLOSERS):
            continue  # "file?id" or similar: not the end of a sentence
        body = match.group()[: len(match.group()) - len(ending)].rstrip()
        if body and body[-1].isalnum() and any(c.isalpha() for c in body):
            return match.start(), body.strip().lstrip(_OPENERS) + "?"
    return None


def find_question(text: str) -> str | None:
    """The first sentence of the user's own words that asks something, or None."""
    words = _URL.sub(" ", own_words(text))
    found = []
    asked = _first_question_mark(words)
    if asked is not None:
        found.append(asked)
    request = _REQUEST.search(words)
    if request is not None:
        start = max(words.rfind(c, 0, request.start()) for c in ".!?\n") + 1
        stops = [i for i in (words.find(c, request.end()) for c in ".!?\n") if i != -1]
        end = min(stops) + 1 if stops else len(words)
        found.append((start, words[start:end].strip()))
    if not found:
        return None
    return " ".join(min(found)[1].split())


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


# -- validation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleFields:
    """A rule's user-given fields, checked and in canonical form."""

    name: str
    mode: str
    delays: list[str]
    exclude_domains: list[str]
    exclude_addresses: list[str]
    exclude_subjects: list[str]


def _split(values: Iterable[str] | str | None) -> list[str]:
    """Accept a list, or one text with commas/newlines (a form field)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out = []
    for value in values:
        out.extend(p.strip() for p in re.split(r"[,\n;]", value or ""))
    return [p for p in out if p]


def clean_domain(value: str) -> str:
    domain = value.strip().lower().lstrip("@").lstrip("*").lstrip(".")
    if not _DOMAIN.fullmatch(domain):
        raise ValidationError(f"{value!r} is not a domain: write it like example.com")
    return domain


def clean_address(value: str) -> str:
    address = value.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or not _DOMAIN.fullmatch(domain):
        raise ValidationError(f"{value!r} is not an e-mail address")
    return address


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def validate_fields(
    *,
    name: str,
    mode: str,
    delays: Iterable[str] | str,
    exclude_domains: Iterable[str] | str | None = (),
    exclude_addresses: Iterable[str] | str | None = (),
    exclude_subjects: Iterable[str] | str | None = (),
) -> RuleFields:
    """Check what a user typed for a rule; ValidationError says what is wrong and how to fix it."""
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("a rule needs a name, e.g. 'Cold outreach'")
    if len(name) > 200:
        raise ValidationError("a rule's name is at most 200 characters")
    mode = (mode or "").strip().lower()
    if mode not in MODES:
        raise ValidationError(f"unknown mode {mode!r}: use send or remind")
    steps = _split(delays)
    if not steps:
        raise ValidationError("a rule needs at least one delay, e.g. 3d")
    if len(steps) > MAX_STAGES:
        raise ValidationError(f"at most {MAX_STAGES} bumps per rule")
    canonical = [str(schedule.parse_delay(d)) for d in steps]
    domains = _unique([clean_domain(d) for d in _split(exclude_domains)])
    addresses = _unique([clean_address(a) for a in _split(exclude_addresses)])
    subjects = _unique([" ".join(s.split()) for s in _split(exclude_subjects)])
    for label, values in (("domains", domains), ("addresses", addresses), ("subjects", subjects)):
        if len(values) > MAX_EXCLUSIONS:
            raise ValidationError(f"at most {MAX_EXCLUSIONS} excluded {label}")
    if any(len(s) > 200 for s in subjects):
        raise ValidationError("an excluded subject phrase is at most 200 characters")
    return RuleFields(name, mode, canonical, domains, addresses, subjects)


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
