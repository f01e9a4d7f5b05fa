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

One module per job; dependencies point down the list, and callers import from here:

    spec.py        RuleSpec, Decision, the limits; describe_conditions
    addresses.py   internal/external, list-like, excluded, bulk, sent by Replywatch
    questions.py   the user's own words and the first question or request in them
    matching.py    check_headers (step 1), check_text (step 2), judge, with_text
    fields.py      validate_fields: what a user typed, checked and canonical
"""

from .addresses import (
    LIST_DOMAIN_PREFIXES,
    LIST_DOMAINS,
    LIST_LOCAL_PARTS,
    LIST_SUFFIXES,
    PUBLIC_MAIL_DOMAINS,
    bulk_reason,
    domain_of,
    exclusion_of,
    is_internal,
    looks_like_list,
    own_domains,
    sent_by_replywatch,
)
from .fields import RuleFields, clean_address, clean_domain, validate_fields
from .matching import check_headers, check_text, judge, with_text
from .questions import REQUEST_PHRASES, find_question, own_words
from .spec import (
    MAX_EXCLUSIONS,
    MAX_RECIPIENTS,
    MAX_STAGES,
    MODES,
    Decision,
    RuleSpec,
    describe_conditions,
)

__all__ = [
    "LIST_DOMAINS",
    "LIST_DOMAIN_PREFIXES",
    "LIST_LOCAL_PARTS",
    "LIST_SUFFIXES",
    "MAX_EXCLUSIONS",
    "MAX_RECIPIENTS",
    "MAX_STAGES",
    "MODES",
    "PUBLIC_MAIL_DOMAINS",
    "REQUEST_PHRASES",
    "Decision",
    "RuleFields",
    "RuleSpec",
    "bulk_reason",
    "check_headers",
    "check_text",
    "clean_address",
    "clean_domain",
    "describe_conditions",
    "domain_of",
    "exclusion_of",
    "find_question",
    "is_internal",
    "judge",
    "looks_like_list",
    "own_domains",
    "own_words",
    "sent_by_replywatch",
    "validate_fields",
    "with_text",
]
