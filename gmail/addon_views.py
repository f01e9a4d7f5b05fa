"""What the add-on's endpoints show, read from rows: the view objects for cards.*, the
home page of follow-ups, the default bump text, and the open message (the only mail I/O)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from watcher.compose import first_name_of, render_text
from watcher.errors import ValidationError
from watcher.models import Account, AccountStatus, FollowUp, FollowUpState, User

from . import cards
from .addon import AddonEvent, _base, _config, _store, _tz
from .current_message import read_open_message
from .events import BadEvent


def _read_message(event: AddonEvent):
    if not (event.message_id and event.gmail_token and event.user_oauth_token):
        raise BadEvent("the event has no open message (gmail.messageId and its tokens)")
    return read_open_message(
        _config().google_gmail_endpoint, event.message_id, event.user_oauth_token, event.gmail_token
    )


def _after_change(s, event, user, account, followup: FollowUp, now: datetime) -> dict:
    """The card to show after cancel/snooze: the list page it came from, or the follow-up."""
    view = event.param("view") or "followup"
    s.flush()
    if view.startswith("home:"):
        offset = view[5:]
        offset = int(offset) if offset.isascii() and offset.isdigit() and len(offset) < 8 else 0
        return cards.homepage(_base(), _page(s, user, account, offset), _tz(event, user))
    return cards.followup(_base(), _view(s, followup), _tz(event, user), now)


def _page(s: Session, user: User, account: Account | None, offset: int) -> cards.Page:
    store = _store()
    items, total = store.followups_page(s, user.id, [FollowUpState.ACTIVE], offset, cards.PAGE_SIZE)
    if not items and offset and total:  # past the end (items went away): the last page
        offset = (total - 1) // cards.PAGE_SIZE * cards.PAGE_SIZE
        items, total = store.followups_page(
            s, user.id, [FollowUpState.ACTIVE], offset, cards.PAGE_SIZE
        )
    attention = [
        v for v in (_attention(a) for a in store.list_accounts(s, user.id)) if v is not None
    ]
    return cards.Page(
        items=[_view(s, f, history=False) for f in items],
        total=total,
        offset=offset,
        attention=attention,
        connected=account is not None,
    )


def _view(s: Session, f: FollowUp, history: bool = True) -> cards.FollowUpView:
    events = _store().events_for(s, f.id) if history else []
    return cards.FollowUpView(
        id=f.id,
        subject=f.subject,
        recipient=_recipient(f),
        state=f.state,
        mode=f.mode,
        due_at=f.due_at,
        stage=f.current_stage,
        stages=len(f.stages),
        stop_reason=f.stop_reason or "",
        texts=tuple(st.text for st in f.stages if st.state == "pending"),
        history=tuple((e.at, e.kind, e.detail) for e in events),
    )


def _recipient(f: FollowUp) -> str:
    addrs = [*f.to_addrs, *f.cc_addrs]
    if not addrs:
        return ""
    first = f.recipient_name or addrs[0]
    return first + (f" +{len(addrs) - 1}" if len(addrs) > 1 else "")


def _attention(account: Account) -> cards.AccountView | None:
    if account.status != AccountStatus.NEEDS_ATTENTION:
        return None
    return cards.AccountView(account.email, account.kind, account.status, account.status_reason)


def _message_view(m) -> cards.MessageView:
    sender = f"{m.from_name} <{m.from_addr}>" if m.from_name else m.from_addr
    return cards.MessageView(m.subject, sender, (*m.to, *m.cc), m.date)


def _default_text(user: User, account: Account, anchor) -> str:
    recipients = [a for a in (*anchor.to, *anchor.cc) if a not in account.own_addresses]
    first = recipients[0] if recipients else ""
    name = anchor.names.get(first, "")
    try:
        return render_text(
            user.bump_template,
            first_name=first_name_of(name, first),
            subject=anchor.subject,
            recipient_name=name,
            sender_name=account.display_name or user.display_name,
        )
    except ValidationError:  # a broken template: show it as it is; the settings page fixes it
        return user.bump_template


def _render(template: str, user: User, f: FollowUp) -> str:
    first = f.to_addrs[0] if f.to_addrs else ""
    try:
        return render_text(
            template,
            first_name=first_name_of(f.recipient_name, first),
            subject=f.subject,
            recipient_name=f.recipient_name,
            sender_name=f.account.display_name or user.display_name,
        )
    except ValidationError:
        return template
