"""The home card's endpoints: POST /addon/homepage (the trigger) and /addon/page (paging)."""

from __future__ import annotations

from . import cards, forms
from .addon import AddonEvent, Identity, _base, _store, _tz, _user, endpoint
from .addon_views import _page


@endpoint("homepage", trigger=True)
def homepage(event: AddonEvent, identity: Identity) -> dict:
    with _store().session() as s:
        user, account = _user(s, identity)
        card = cards.homepage(_base(), _page(s, user, account, 0), _tz(event, user))
    return cards.navigate(card)


@endpoint("page")
def page(event: AddonEvent, identity: Identity) -> dict:
    with _store().session() as s:
        user, account = _user(s, identity)
        shown = _page(s, user, account, forms.read_offset(event))
        card = cards.homepage(_base(), shown, _tz(event, user))
    return cards.render(card)
