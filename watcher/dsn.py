"""What a delivery report says about each recipient: failed, delayed, or delivered.

Pure: reads `MessageSummary.text` (headers.body_text puts the message/delivery-status fields
first, one block per recipient) and, where there are no RFC 3464 fields, the wording of
non-standard bounces (qmail, Yahoo, old Gmail, Exim, Exchange, Domino).

RFC 3464 says little about where real reports put things, so the parser does not rely on it:
the fields are read from any part and in any order (Action before Final-Recipient happens, as
do fields pasted into a text/plain part); a recipient's record ends at a blank line or when a
field repeats; a Final-Recipient without a local part ("rfc822; @domain") is named by its
Original-Recipient, by an X-Failed-Recipients address of that domain, or as "@domain"; and a
failed Action with no address at all still counts as a failure, never as "delivered".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from watcher import wording
from watcher.mailbox import MessageSummary

_FIELD = re.compile(
    r"^\s*(final-recipient|original-recipient|x-actual-recipient|action|status|diagnostic-code)"
    r"\s*:\s*(.*?)\s*$",
    re.IGNORECASE,
)
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_DOMAIN_ONLY = re.compile(r"@([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)")
_ADDR = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
# Failure wording of non-standard bounces naming the address. Group "line": the address stands
# on its own line and the reason follows on the next (qmail, Exim, Gmail's old text DSN).
_FAILED_ADDRESS = re.compile(
    rf"(?:^<(?P<q>{_ADDR})>:\s*$"  # qmail: "<bob@x>:" alone on a line
    rf"|^<(?P<p>{_ADDR})>:\s+\S"  # Postfix: "<bob@x>: host ... said: 550 ..."
    r"|(?:could not be delivered to(?: one or more of)?(?: its)? recipients?[^\n]*"
    r"|the following address(?:\(es\)|es)? failed:"
    r"|delivery to the following recipients? failed permanently:"
    r"|(?:following|these) recipients?(?: or groups)?:|siguientes destinatarios:"
    r"|folgenden? empfänger:|destinataires suivants\s*:|volgende ontvangers?:"
    rf"|seguintes destinatários:|destinatari seguenti:)\s*\n\s*\n?\s*<?(?P<line>{_ADDR})"
    r"|your message (?:to )?(?:wasn't|was not|couldn't be|could not be) delivered to "
    rf"(?P<x>{_ADDR})"
    rf"|your message to (?P<m>{_ADDR}) couldn't be delivered"
    rf"|user \S+ \((?P<d>{_ADDR})\) not listed)",
    re.IGNORECASE | re.MULTILINE,
)
_DIAGNOSTIC = re.compile(
    r"(?:^|\s)(?P<d>(?:[45]\d\d[ -])?[45]\.\d{1,3}\.\d{1,3}\b[^\n]{0,160}"
    r"|[45]\d\d [^\n]{0,160}|Sorry,? [^\n]{0,160}|Remote host said: [^\n]{0,160})",
    re.MULTILINE,
)


@dataclass(frozen=True)
class DeliveryReport:
    """What the text of a delivery report says about each recipient."""

    failed: tuple[str, ...] = ()  # addresses (or "@domain") whose delivery failed for good
    delayed: tuple[str, ...] = ()  # addresses still being tried
    diagnostic: str = ""  # the first failure's Diagnostic-Code / SMTP answer / explanation
    has_fields: bool = False  # RFC 3464 per-recipient fields were found
    unnamed_failure: bool = False  # a failed Action/Status whose recipient no field names

    @property
    def any_failure(self) -> bool:
        return bool(self.failed) or self.unnamed_failure


def _records(text: str) -> list[dict[str, str]]:
    """Per-recipient field records: a record ends at a blank line or a repeated field."""
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        match = _FIELD.match(line)
        if match is None:
            if not line.strip() and current:
                records.append(current)
                current = {}
            continue
        name, value = match.group(1).lower(), match.group(2)
        if name in current:
            records.append(current)
            current = {}
        current[name] = value
    if current:
        records.append(current)
    return [r for r in records if r.keys() & {"final-recipient", "original-recipient", "action"}]


def _recipient(record: dict[str, str], named: list[str]) -> str:
    for field in ("final-recipient", "x-actual-recipient", "original-recipient"):
        value = record.get(field, "").split(";", 1)[-1]
        found = ADDRESS.search(value)
        if found:
            return found.group(0).lower()
    value = record.get("final-recipient", "") or record.get("original-recipient", "")
    domain = _DOMAIN_ONLY.search(value.split(";", 1)[-1])
    if domain:  # "rfc822; @domain": no local part
        same = [a for a in named if a.endswith("@" + domain.group(1).lower())]
        return same[0] if same else "@" + domain.group(1).lower()
    return ""


def _action(record: dict[str, str]) -> str:
    action = (record.get("action", "").split() or [""])[0].lower()
    if action:
        return action
    status = record.get("status", "").strip()
    return {"5": "failed", "4": "delayed", "2": "delivered"}.get(status[:1], "")


def delivery_report(message: MessageSummary) -> DeliveryReport:
    """Read the failed and delayed recipients and the diagnostic from a report's text."""
    text = (message.text or "").replace("\r\n", "\n")
    header = message.headers.get("x-failed-recipients") or message.headers.get(
        "X-Failed-Recipients", ""
    )
    named = [a.lower() for a in ADDRESS.findall(header)]
    failed: list[str] = []
    delayed: list[str] = []
    diagnostic = ""
    unnamed = False
    records = _records(text)
    for record in records:
        action, who = _action(record), _recipient(record, named)
        if action == "failed":
            if who:
                failed.append(who)
            else:
                unnamed = True
            if not diagnostic:
                code = record.get("diagnostic-code", "").split(";", 1)[-1].strip()
                status = record.get("status", "")
                diagnostic = code or (f"status {status}" if status else "")
        elif action == "delayed" and who:
            delayed.append(who)
    if not records:
        qmail, reason_next = "", ""
        for match in _FAILED_ADDRESS.finditer(text):
            address = next(g for g in match.groups() if g)
            failed.append(address.strip(".,;").lower())
            following = text[match.end() :].strip().split("\n", 1)[0].strip()
            if match.group("q") and not qmail:  # qmail: the reason is the next line
                qmail = following
            elif match.group("line") and not reason_next:
                reason_next = following
        if not failed and not named:
            failed.extend(_address_after_failure(text))
        failed.extend(named)
        found = _DIAGNOSTIC.search(text)
        diagnostic = qmail or (found.group("d").strip() if found else reason_next)
    if unnamed and named:  # a failed record without an address: the header names it
        failed.extend(named)
        unnamed = False
    diagnostic = " ".join(diagnostic.split())[:200]
    return DeliveryReport(
        tuple(dict.fromkeys(failed)),
        tuple(dict.fromkeys(delayed)),
        diagnostic,
        bool(records),
        unnamed,
    )


def _address_after_failure(text: str) -> list[str]:
    """The first address after a failure phrase, in any language ("Votre message n'a pas pu
    être remis à x@y", "以下のアドレスへ...配信できませんでした。 x@y")."""
    flat = wording.flat(text)
    phrase = wording.FAILURE_TEXT.search(flat)
    if phrase is None:
        return []
    start = max(0, phrase.start() - 120)
    found = ADDRESS.search(flat, phrase.end()) or ADDRESS.search(flat[start : phrase.start()])
    return [found.group(0).lower()] if found else []


def failure_detail(report: DeliveryReport, why: str) -> str:
    parts = []
    if report.failed:
        parts.append(f"undeliverable to {', '.join(report.failed)}")
    elif report.unnamed_failure:
        parts.append("undeliverable (the report names no address)")
    if report.diagnostic:
        parts.append(report.diagnostic)
    parts.append(why)
    return ": ".join(parts[:-1]) + f" ({parts[-1]})" if len(parts) > 1 else parts[0]
