"""The send-later trigger: a draft carrying the user's me+later-…@… becomes a ScheduledSend.

Only drafts count (IMAP \\Drafts with the \\Draft flag and no delivery trace; Gmail's DRAFT
label), never a message that came in. Each saved version is its own trigger item
("later:<ref>"); versions of one draft share its Gmail draft id (Gmail gives each saved version
a new message, and maybe a new Message-ID) or else its Message-ID (IMAP clients keep it), so a
newer version updates the schedule (the newest text goes out) instead of adding a second send.
An unreadable tag gets the same short help e-mail as a bad plus-address tag, once.
"""

from __future__ import annotations

from .. import schedule
from ..errors import ValidationError
from ..followups import format_local, plus_tag, user_window
from ..mailbox import MessageSummary
from ..models import Account, new_token
from ..recipient_zone import holiday_country_of
from ..store import later as store_later
from ..triggers import RESUMERS, Candidate, Job, TriggerContext, register
from ..triggers import plus as plus_trigger
from ..triggers.acting import Item, account_event, load, pending_row, settle
from . import message
from .model import DONE, SCHEDULED, SENDING, SENT, ScheduledSend
from .tags import describe_forms, is_later_tag, parse_later_tag

KIND = "later"
SPEC_LIMIT = 200


def later_address(msg: MessageSummary, own_addresses) -> str | None:
    for address in (*msg.bcc, *msg.cc, *msg.to):
        if is_later_tag(plus_tag(address, own_addresses)) and len(address) <= SPEC_LIMIT:
            return address.strip().lower()
    return None


def recognise(ctx: TriggerContext, msg: MessageSummary) -> Candidate | None:
    if not msg.is_draft:
        return None
    address = later_address(msg, ctx.own_addresses)
    if address is None:
        return None
    return Candidate(KIND, f"later:{msg.ref}", spec=address)


def draft_key(msg: MessageSummary) -> str:
    """Where the mailbox has no draft id: the versions of one draft share its Message-ID."""
    return msg.message_id or f"ref:{msg.ref}"


def process(job: Job) -> None:
    item = load(job)
    if item is None:
        return
    try:
        tag = parse_later_tag(plus_tag(item.spec, job.account.own_addresses) or "")
    except ValidationError as e:
        plus_trigger.answer_malformed(job, item, e.message, forms=describe_forms())
        return
    raw = job.retry(lambda: job.mailbox.read_draft(item.message.ref))
    if raw is None:
        _ignore(job, item, "it was gone (sent or deleted) before it was read")
        return
    recipients = message.recipients_of(raw, item.spec)
    key = job.retry(lambda: job.mailbox.draft_key(item.message.ref)) or draft_key(item.message)
    schedule_it(job, item, tag, recipients, key)


def schedule_it(job: Job, item: Item, tag, recipients: list[str], key: str) -> None:
    msg, now = item.message, job.clock()
    with job.store.session() as s:
        row = pending_row(s, job)
        if row is None:
            return
        user = s.get(Account, job.account.id).user
        what = f"your draft {msg.subject!r} ({item.spec})"
        if not recipients:
            account_event(s, job, "later_ignored", f"{what} has no recipient: nothing will be sent")
            settle(s, job, row, "ignored", "send later: no recipient")
            return
        try:
            send_at = in_their_hours(job, s, user, recipients, tag.send_at(now, user_window(user)))
        except ValidationError as e:
            account_event(s, job, "later_ignored", f"{what}: {e.message}; nothing will be sent")
            settle(s, job, row, "ignored", f"send later: {e.message}")
            return
        existing = store_later.by_draft_key(s, job.account.id, key)
        if existing is not None and existing.state in (SENDING, SENT, DONE):
            detail = f"{what} was already sent as scheduled; this version is not sent"
            account_event(s, job, "later_ignored", detail, msg.message_id)
            settle(s, job, row, "ignored", "send later: already sent")
            return
        fields = dict(
            draft_ref=msg.ref,
            draft_seen_at=now,
            subject=msg.subject,
            recipients=recipients,
            waited_for_edit=False,
            updated_at=now,
            note="",
        )
        timing = dict(
            tag_address=item.spec,
            send_at=send_at,
            unless_reply=tag.unless_reply,
            then_tag=str(tag.then) if tag.then else None,
        )
        if existing is None:
            sched = ScheduledSend(
                user_id=job.account.user_id,
                account_id=job.account.id,
                draft_key=key,
                scheduled_at=now,
                state=SCHEDULED,
                message_id="",
                created_at=now,
                **fields,
                **timing,
            )
            sched.token = new_token()
            sched.message_id = message.later_message_id(sched.token, job.account.email)
            s.add(sched)
            kind, detail = "later_scheduled", f"{what} will be sent {_when(sched, user)}"
        else:
            sched = existing
            retimed = existing.tag_address != item.spec or existing.state != SCHEDULED
            for name, value in fields.items():
                setattr(sched, name, value)
            if retimed:  # a new tag, or scheduled again after it was cancelled or held
                for name, value in timing.items():
                    setattr(sched, name, value)
                sched.scheduled_at, sched.state = now, SCHEDULED
            kind = "later_updated"
            detail = f"{what}: a newer version will be sent {_when(sched, user)}"
        s.flush()
        account_event(s, job, kind, detail + _conditions(sched), msg.message_id)
        settle(s, job, row, "done", f"send later {sched.id}")


def in_their_hours(job: Job, s, user, recipients: list[str], at):
    """With the user's window mode "recipient": also inside the first recipient's working
    hours (their zone as learnt, else the user's), as bumps do; kept as is if the two never
    meet within two weeks."""
    if user.window_mode != "recipient" or not recipients:
        return at
    row = job.store.recipient_zone(s, user.id, recipients[0])
    zone = row.zone if row is not None and row.zone else user.timezone
    theirs = schedule.working_hours(zone, holiday_country_of(zone))
    return schedule.next_in_both(at, user_window(user), theirs) or at


def _when(sched: ScheduledSend, user) -> str:
    return format_local(sched.send_at, user.timezone)


def _conditions(sched: ScheduledSend) -> str:
    parts = []
    if sched.unless_reply:
        parts.append("unless a recipient writes to you first")
    if sched.then_tag:
        parts.append(f"then a follow-up ({sched.then_tag}) if nobody replies")
    return f" ({'; '.join(parts)})" if parts else ""


def _ignore(job: Job, item: Item, why: str) -> None:
    with job.store.session() as s:
        row = pending_row(s, job)
        if row is None:
            return
        detail = f"your draft {item.message.subject!r} ({item.spec}): {why}"
        account_event(s, job, "later_ignored", detail, item.message.message_id)
        settle(s, job, row, "ignored", f"send later: {why}")


register(KIND, recognise, process)
RESUMERS[KIND] = (plus_trigger.ANSWERING, plus_trigger.resume_answering)
