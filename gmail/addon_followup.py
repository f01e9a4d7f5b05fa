"""One follow-up's card and its actions: POST /addon/show, /addon/cancel, /addon/snooze,
/addon/edit and /addon/save."""

from __future__ import annotations

from watcher import followups as ops
from watcher.errors import ValidationError
from watcher.models import FollowUpState

from . import cards, forms
from .addon import AddonEvent, Identity, _base, _now, _store, _tz, _user, endpoint
from .addon_views import _after_change, _render, _view


@endpoint("show")
def show(event: AddonEvent, identity: Identity) -> dict:
    with _store().session() as s:
        user, _ = _user(s, identity)
        followup = _store().get_followup(s, forms.read_id(event), user_id=user.id)
        card = cards.followup(_base(), _view(s, followup), _tz(event, user), _now())
    return cards.render(card, push=True)


@endpoint("cancel")
def cancel(event: AddonEvent, identity: Identity) -> dict:
    now = _now()
    with _store().session() as s:
        user, account = _user(s, identity)
        followup = _store().get_followup(s, forms.read_id(event), user_id=user.id)
        ops.cancel_followup(_store(), s, followup, now)
        card = _after_change(s, event, user, account, followup, now)
    return cards.render(card, notify="Follow-up cancelled")


@endpoint("snooze")
def snooze(event: AddonEvent, identity: Identity) -> dict:
    now = _now()
    with _store().session() as s:
        user, account = _user(s, identity)
        tz = _tz(event, user)
        followup = _store().get_followup(s, forms.read_id(event), user_id=user.id)
        until = forms.read_snooze(event, now, tz)
        ops.snooze_followup(_store(), s, followup, until, now, tz)
        card = _after_change(s, event, user, account, followup, now)
    return cards.render(card, notify=f"Snoozed until {ops.format_local(until, tz)}")


@endpoint("edit")
def edit(event: AddonEvent, identity: Identity) -> dict:
    with _store().session() as s:
        user, _ = _user(s, identity)
        followup = _store().get_followup(s, forms.read_id(event), user_id=user.id)
        if followup.state != FollowUpState.ACTIVE:
            raise ValidationError("only a scheduled follow-up can be edited")
        pending = next((st.text for st in followup.stages if st.state == "pending"), None)
        text = _render(pending or user.bump_template, user, followup)
        card = cards.edit(_base(), _view(s, followup), text)
    return cards.render(card, push=True)


@endpoint("save")
def save(event: AddonEvent, identity: Identity) -> dict:
    now = _now()
    with _store().session() as s:
        user, _ = _user(s, identity)
        followup = _store().get_followup(s, forms.read_id(event), user_id=user.id)
        text = forms.read_text(event, _render(user.bump_template, user, followup))
        ops.edit_followup(_store(), s, followup, mode=forms.read_mode(event), text=text, now=now)
        s.flush()
        card = cards.followup(_base(), _view(s, followup), _tz(event, user), now)
    response = cards.render(card, notify="Follow-up saved")
    response["renderActions"]["action"]["navigations"].insert(0, {"pop": True})
    return response
