"""Pure: the compose-time card ("Follow up if no reply" while writing) and its draft update.

Gmail shows this card beside a draft (the descriptor's gmail.composeTrigger). Choosing a delay
puts the user's plus-address tag in the draft's Bcc (you+2w@…, you+1w-remind@…); when the
message is sent, its Sent copy carries that Bcc and the plus-address trigger (watcher/triggers/
plus.py) sets the follow-up. Nothing is stored here: the draft is the state.

The draft is changed by Gmail itself, from the response's host-app action. Its shape is Google's
`RenderActions.hostAppAction.gmailAction.updateDraftActionMarkup.updateBccRecipients
.bccRecipients[{email}]` ("Package apps.extensions.markup" reference: UpdateDraftActionMarkup,
"If set, replaces the existing Bcc recipients of the draft"; the render action and host app
action JSON schemas of "Build a Google Workspace add-on using HTTP endpoints"). Since it
replaces, the response always lists the Bcc the draft already had (gmail.bccRecipients, which
the descriptor's draftAccess METADATA makes Gmail send) plus the tag.
"""

from __future__ import annotations

import html
from datetime import datetime

from . import forms
from .card_widgets import _button, _buttons, _item, _para, _picker, _selection
from .events import default_pick

WHAT = {"3d": "in 3 days", "1w": "in 1 week", "2w": "in 2 weeks"}


def choose(base: str, *, tz: str, now: datetime, default_delay: str, email: str) -> dict:
    """The compose trigger's card: when, and send or remind; one button puts the tag in Bcc."""
    chosen = default_delay if default_delay in WHAT else "1w"
    when_items = [_item(label, value, value == chosen) for value, label in forms.PRESETS]
    when_items.append(_item("On a date (below)", forms.ON_DATE, False))
    example = html.escape(forms.tag_address(email, chosen))
    return {
        "name": "compose-followup",
        "header": {"title": "Follow up if no reply", "subtitle": "When you send this message"},
        "sections": [
            {
                "widgets": [
                    _selection(forms.WHEN, "Follow up", "RADIO_BUTTON", when_items),
                    _picker(forms.AT, "Date", default_pick(now, tz), tz),
                    _selection(
                        forms.MODE,
                        "What happens",
                        "RADIO_BUTTON",
                        [_item(label, v, v == "send") for v, label in forms.MODES],
                    ),
                    _para(
                        f"Replywatch adds your address with a tag, like <b>{example}</b>, to "
                        "Bcc. When you send, that copy sets the follow-up; nobody else sees it."
                    ),
                    _buttons(_button("Add to Bcc", base, "compose-tag", filled=True)),
                    _para(
                        "Or send the message itself later: Replywatch puts your send-later "
                        "address in Bcc; you close the draft (do not press Send) and it goes "
                        "out then, unless they write to you first."
                    ),
                    _buttons(_button("Send later instead", base, "compose-later")),
                ]
            }
        ],
    }


def added(base: str, tag: forms.BccTag, bcc: list[str]) -> dict:
    """What the user sees after choosing: the tag in Bcc, the whole Bcc now (Gmail replaces it
    with what we send, so the user can see nothing else went), and how to take the tag out."""
    first = tag.tag.steps[0]
    when = WHAT.get(str(first), f"in {first}")
    what = "remind you" if tag.remind else "send a follow-up"
    address = html.escape(tag.address)
    return {
        "name": "compose-tagged",
        "header": {"title": "Follow-up added", "subtitle": tag.address},
        "sections": [
            {
                "widgets": [
                    _para(
                        f"<b>{address}</b> is now in Bcc. If nobody replies, Replywatch will "
                        f"{what} {html.escape(when)} after you send."
                    ),
                    _para(f"Bcc is now: {html.escape(', '.join(bcc))}"),
                    _para(
                        "To go without a follow-up, delete that address from Bcc before you "
                        "send, or press <b>Remove</b>. Choosing again replaces it."
                    ),
                    _buttons(
                        _button("Remove", base, "compose-untag"),
                        _button("Change", base, "compose-choose"),
                    ),
                ]
            }
        ],
    }


def removed() -> dict:
    return {
        "name": "compose-untagged",
        "header": {"title": "No follow-up"},
        "sections": [
            {
                "widgets": [
                    _para(
                        "The follow-up tag is out of Bcc: this message gets no follow-up. "
                        "Open Replywatch again from the compose window to add one."
                    )
                ]
            }
        ],
    }


def update_bcc(card: dict, bcc: list[str], notify: str) -> dict:
    """A widget action's answer that replaces the draft's Bcc with `bcc` and shows `card`."""
    return {
        "renderActions": {
            "action": {"navigations": [{"updateCard": card}], "notification": {"text": notify}},
            "hostAppAction": {
                "gmailAction": {
                    "updateDraftActionMarkup": {
                        "updateBccRecipients": {"bccRecipients": [{"email": a} for a in bcc]}
                    }
                }
            },
        }
    }


def later_added(base: str, address: str, when: str, bcc: list[str]) -> dict:
    """After "Send later instead": the tag is in Bcc; the user must close, not send. Google's
    compose event carries neither the draft's id nor its text (draftAccess METADATA gives the
    recipients only), so the add-on cannot schedule the draft itself: the watcher finds it in
    Drafts by this address."""
    return {
        "name": "compose-later",
        "header": {"title": "Send later", "subtitle": address},
        "sections": [
            {
                "widgets": [
                    _para(
                        f"<b>{html.escape(address)}</b> is now in Bcc. <b>Close this draft; do "
                        "not press Send.</b> Replywatch sends it "
                        f"{html.escape(when)}, from your account, unless someone it is "
                        "addressed to writes to you first (then it stays in your drafts)."
                    ),
                    _para(f"Bcc is now: {html.escape(', '.join(bcc))}"),
                    _buttons(
                        _button("Remove", base, "compose-untag"),
                        _button("Change", base, "compose-choose"),
                    ),
                ]
            }
        ],
    }
