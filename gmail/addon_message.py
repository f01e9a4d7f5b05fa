"""The open message's endpoints: POST /addon/on-message (the trigger: the follow-up of this
thread, or the form) and /addon/create (the form's "Follow up if no reply")."""

from __future__ import annotations

from watcher import followups as ops
from watcher.errors import ValidationError
from watcher.models import FollowUpState

from . import cards, forms
from .addon import (
    MESSAGE_SCOPE,
    AddonEvent,
    Identity,
    _base,
    _config,
    _now,
    _store,
    _tz,
    _user,
    endpoint,
)
from .addon_views import _attention, _default_text, _message_view, _read_message, _view


@endpoint("on-message", trigger=True, scopes=(MESSAGE_SCOPE,))
def on_message(event: AddonEvent, identity: Identity) -> dict:
    if event.message_id is None:
        card = cards.notice("Open a message", "Open a message you sent to follow up on it.")
        return cards.navigate(card)
    with _store().session() as s:
        user, account = _user(s, identity)
        if account is None:
            return cards.navigate(cards.connect(_base(), identity.email))
    anchor = _read_message(event)
    now = _now()
    with _store().session() as s:
        user, account = _user(s, identity)
        if account is None:  # disconnected meanwhile
            return cards.navigate(cards.connect(_base(), identity.email))
        tz = _tz(event, user)
        found = _store().followups_in_thread(s, account.id, anchor.thread_ref, anchor.message_id)
        active = next((f for f in found if f.state == FollowUpState.ACTIVE), None)
        if active is not None:
            card = cards.followup(_base(), _view(s, active), tz, now)
        elif anchor.from_addr and anchor.from_addr not in account.own_addresses:
            card = cards.not_sent_by_you(_message_view(anchor), account.email)
        else:
            card = cards.compose(
                _base(),
                _message_view(anchor),
                tz=tz,
                now=now,
                default_text=_default_text(user, account, anchor),
                default_delay=user.default_delay,
                previous=_view(s, found[0]) if found else None,
                warning=_attention(account),
            )
    return cards.navigate(card)


@endpoint("create", scopes=(MESSAGE_SCOPE,))
def create(event: AddonEvent, identity: Identity) -> dict:
    with _store().session() as s:
        user, account = _user(s, identity)
        if account is None:
            return cards.render(cards.connect(_base(), identity.email))
        account_id = account.id
    anchor = _read_message(event)
    now = _now()
    with _store().session() as s:
        user, account = _user(s, identity)
        if account is None or account.id != account_id:
            raise ValidationError("your Google account was disconnected meanwhile")
        tz = _tz(event, user)
        wanted = forms.read_followup(event, now, tz, _default_text(user, account, anchor))
        followup = ops.create_followup(
            _store(),
            s,
            account=account,
            anchor=anchor,
            stages=wanted.stages,
            mode=wanted.mode,
            now=now,
            jitter_minutes=_config().send_jitter_minutes,
        )
        s.flush()
        card = cards.followup(_base(), _view(s, followup), tz, now)
        what = "remind you" if wanted.mode == "remind" else "send a bump"
        note = f"Follow-up set: will {what} {ops.format_local(followup.due_at, tz)} if no reply"
    return cards.render(card, notify=note)
