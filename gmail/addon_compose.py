"""The add-on's compose-time endpoints: "Follow up if no reply" beside a draft.

- POST /addon/compose: the descriptor's gmail.composeTrigger: the choice card
  (compose_card.choose); /addon/compose-choose shows it again from the card's "Change";
- POST /addon/compose-tag: the choice -> the user's plus-address tag in the draft's Bcc, by
  Google's draft-update response (compose_card.update_bcc);
- POST /addon/compose-untag: the tag out of Bcc again;
- POST /addon/compose-later: "Send later instead": the send-later tag (me+later-2w@…) in Bcc;
  the user closes the draft and the watcher sends it then (watcher/later).
They go through addon.endpoint (Google's signed token, the event's shape, the verified user)
and write nothing: the follow-up is set later by the plus-address trigger, from the Sent copy,
so a draft that is never sent leaves nothing behind. All need gmail.addons.current.action.compose
("All compose time add-ons must have the gmail.addons.current.action.compose scope even though
it might not edit the draft": reference google.apps.script.type.gmail, ComposeTrigger).
"""

from __future__ import annotations

from . import cards, compose_card, forms
from .addon import (
    COMPOSE_SCOPE,
    MESSAGE_SCOPE,
    AddonEvent,
    Identity,
    _base,
    _now,
    _store,
    _tz,
    _user,
    endpoint,
)


@endpoint("compose", trigger=True, scopes=(COMPOSE_SCOPE,))
def compose(event: AddonEvent, identity: Identity) -> dict:
    return cards.navigate(_choice(event, identity))


@endpoint("compose-choose", scopes=(COMPOSE_SCOPE,))
def compose_choose(event: AddonEvent, identity: Identity) -> dict:
    return cards.render(_choice(event, identity))


def _choice(event: AddonEvent, identity: Identity) -> dict:
    with _store().session() as s:
        user, account = _user(s, identity)
        if account is None:  # the watcher reads the Sent copy through the connected account
            return cards.connect(_base(), identity.email)
        return compose_card.choose(
            _base(),
            tz=_tz(event, user),
            now=_now(),
            default_delay=user.default_delay,
            email=account.email,
        )


# The two that replace the draft's Bcc also need the draft's current Bcc, which Gmail sends
# under draftAccess METADATA: asked with the metadata scope too, so a partial grant can never
# make them drop a Bcc the user typed.
DRAFT_SCOPES = (COMPOSE_SCOPE, MESSAGE_SCOPE)


@endpoint("compose-tag", scopes=DRAFT_SCOPES)
def compose_tag(event: AddonEvent, identity: Identity) -> dict:
    with _store().session() as s:
        user, account = _user(s, identity)
        if account is None:
            return cards.render(cards.connect(_base(), identity.email))
        tag = forms.read_compose_tag(event, _now(), _tz(event, user), account.email)
        bcc = [*forms.without_tags(event.bcc_recipients, account.email), tag.address]
    card = compose_card.added(_base(), tag, bcc)
    return compose_card.update_bcc(card, bcc, f"Added {tag.address} to Bcc")


@endpoint("compose-untag", scopes=DRAFT_SCOPES)
def compose_untag(event: AddonEvent, identity: Identity) -> dict:
    with _store().session() as s:
        _, account = _user(s, identity)
        if account is None:
            return cards.render(cards.connect(_base(), identity.email))
        bcc = forms.without_tags(event.bcc_recipients, account.email)
    return compose_card.update_bcc(compose_card.removed(), bcc, "Follow-up tag removed")


@endpoint("compose-later", scopes=DRAFT_SCOPES)
def compose_later(event: AddonEvent, identity: Identity) -> dict:
    """Send later: the draft itself waits (watcher.later), found by its tag in Bcc."""
    with _store().session() as s:
        user, account = _user(s, identity)
        if account is None:
            return cards.render(cards.connect(_base(), identity.email))
        if not account.trigger_folders:  # drafts are read only then: the tag would do nothing
            return cards.render(
                cards.notice(
                    "Send later needs drafts",
                    f"Replywatch reads the drafts of {account.email} only with Replywatch "
                    "labels on. Turn them on under Accounts on the settings page, then choose "
                    "Send later again. Nothing was added to Bcc.",
                )
            )
        choice = forms.read_later_tag(event, _now(), _tz(event, user), account.email)
        bcc = [*forms.without_tags(event.bcc_recipients, account.email), choice.address]
    card = compose_card.later_added(_base(), choice.address, choice.when, bcc)
    return compose_card.update_bcc(card, bcc, f"Added {choice.address} to Bcc: close the draft")
