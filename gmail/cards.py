"""Pure: follow-ups -> Card v1 JSON (google.apps.card.v1.Card) and the add-on response envelopes.

No I/O and no database: addon.py builds the small view objects (card_views.py) from rows and
passes the deployment's base URL (every button calls back to `{base}/addon/<name>`; every link
points at the settings page). User text is HTML-escaped: card text fields accept a little HTML.

Envelopes (reference/addon-http-runtime.md section 4): triggers return
`{"action": {"navigations": [...]}}`; widget actions return `{"renderActions": {"action": ...}}`.

This module holds the envelopes and the whole cards; card_views.py the view objects,
card_sections.py the sections several cards share, card_widgets.py the URLs and widgets,
compose_card.py the compose-time card. Callers import everything from here.
"""

from __future__ import annotations

import html
from datetime import datetime

from . import forms
from .card_sections import (
    _attention_section,
    _connect_section,
    _history_section,
    _list_item,
    _message_section,
    _pager,
    _summary_section,
)
from .card_views import (
    HISTORY_SHOWN,
    PAGE_SIZE,
    STATE_LABELS,
    AccountView,
    FollowUpView,
    MessageView,
    Page,
)
from .card_widgets import (
    _button,
    _buttons,
    _clip,
    _item,
    _para,
    _picker,
    _selection,
    connect_url,
    endpoint,
    settings_url,
)
from .events import default_pick

__all__ = [
    "HISTORY_SHOWN",
    "PAGE_SIZE",
    "STATE_LABELS",
    "AccountView",
    "FollowUpView",
    "MessageView",
    "Page",
    "compose",
    "connect",
    "connect_url",
    "edit",
    "endpoint",
    "followup",
    "homepage",
    "navigate",
    "not_sent_by_you",
    "notice",
    "render",
    "settings_url",
]


# -- envelopes --------------------------------------------------------------------------------


def navigate(card: dict) -> dict:
    """A trigger's answer (homepage, message open)."""
    return {"action": {"navigations": [{"pushCard": card}]}}


def render(card: dict | None = None, *, notify: str | None = None, push: bool = False) -> dict:
    """A widget action's answer: replace (or push) the card and/or show a notification."""
    action: dict = {}
    if card is not None:
        action["navigations"] = [{"pushCard" if push else "updateCard": card}]
    if notify:
        action["notification"] = {"text": notify}
    return {"renderActions": {"action": action}}


# -- cards ------------------------------------------------------------------------------------


def homepage(base: str, page: Page, tz: str) -> dict:
    """The user's scheduled follow-ups, accounts needing attention first."""
    sections = []
    if not page.connected:
        sections.append(_connect_section(base))
    for account in page.attention:
        sections.append(_attention_section(base, account))
    widgets: list[dict] = []
    for item in page.items:
        widgets.extend(_list_item(base, item, tz, page.offset))
    if not page.items:
        widgets.append(
            _para(
                "No follow-ups are scheduled. Open a message you sent and choose "
                "<b>Follow up if no reply</b>."
            )
        )
    pager = _pager(base, page)
    if pager:
        widgets.append(pager)
    shown = f"{page.offset + 1}-{page.offset + len(page.items)} of {page.total}"
    sections.append(
        {"header": f"Scheduled follow-ups ({shown if page.items else 0})", "widgets": widgets}
    )
    return {
        "name": "home",
        "header": {"title": "Replywatch", "subtitle": "Follow up if nobody replies"},
        "sections": sections,
    }


def compose(
    base: str,
    message: MessageView,
    *,
    tz: str,
    now: datetime,
    default_text: str,
    default_delay: str,
    previous: FollowUpView | None = None,
    warning: AccountView | None = None,
) -> dict:
    """The message-open card for a thread with no active follow-up: the form."""
    sections = [_message_section(message)]
    if warning is not None:
        sections.append(_attention_section(base, warning))
    if previous is not None:
        sections.append(_summary_section(previous, tz, header="Earlier follow-up"))
    presets = dict(forms.PRESETS)
    chosen = default_delay if default_delay in presets else "1w"
    when_items = [_item(label, value, value == chosen) for value, label in forms.PRESETS]
    when_items.append(_item("On a date (below)", forms.ON_DATE, False))
    pick = _picker(forms.AT, "Date and time", default_pick(now, tz), tz)
    then = [
        _selection(
            name,
            f"Bump {n + 2}",
            "DROPDOWN",
            [_item(label, value, not value) for value, label in forms.THEN_CHOICES],
        )
        for n, name in enumerate(forms.THEN)
    ]
    sections.append(
        {
            "header": "Follow up if no reply",
            "widgets": [
                _selection(forms.WHEN, "First bump", "RADIO_BUTTON", when_items),
                pick,
                *then,
                _selection(
                    forms.MODE,
                    "What happens",
                    "RADIO_BUTTON",
                    [_item(label, v, v == "send") for v, label in forms.MODES],
                ),
                {
                    "textInput": {
                        "name": forms.TEXT,
                        "label": "Follow-up text",
                        "type": "MULTIPLE_LINE",
                        "value": default_text,
                        "hintText": "Sent in the thread if nobody replies (not in remind mode)",
                    }
                },
                _buttons(_button("Follow up if no reply", base, "create", filled=True)),
            ],
        }
    )
    return {
        "name": "compose",
        "header": {"title": "Follow up if no reply", "subtitle": _clip(message.subject, 60)},
        "sections": sections,
    }


def followup(base: str, item: FollowUpView, tz: str, now: datetime) -> dict:
    """An existing follow-up: state, next time, history; cancel, snooze, edit when active."""
    sections = [_summary_section(item, tz)]
    if item.state == "active":
        sections.append(
            {
                "header": "Change",
                "widgets": [
                    _buttons(
                        _button("Snooze 1 day", base, "snooze", id=item.id, until="1d"),
                        _button("Snooze 1 week", base, "snooze", id=item.id, until="1w"),
                    ),
                    _picker(forms.SNOOZE_AT, "Snooze until", default_pick(now, tz, 3), tz),
                    _buttons(
                        _button("Snooze until this date", base, "snooze", id=item.id, until="date")
                    ),
                    _buttons(
                        _button("Edit", base, "edit", id=item.id),
                        _button("Cancel follow-up", base, "cancel", id=item.id, view="followup"),
                    ),
                ],
            }
        )
    sections.append(_history_section(item, tz))
    return {
        "name": f"followup-{item.id}",
        "header": {
            "title": STATE_LABELS.get(item.state, item.state),
            "subtitle": _clip(item.subject or "(no subject)", 60),
        },
        "sections": sections,
    }


def edit(base: str, item: FollowUpView, text: str) -> dict:
    """Change what happens (send or remind) and the text of the bumps still to come."""
    return {
        "name": f"edit-{item.id}",
        "header": {"title": "Edit follow-up", "subtitle": _clip(item.subject, 60)},
        "sections": [
            {
                "widgets": [
                    _selection(
                        forms.MODE,
                        "What happens",
                        "RADIO_BUTTON",
                        [_item(label, v, v == item.mode) for v, label in forms.MODES],
                    ),
                    {
                        "textInput": {
                            "name": forms.TEXT,
                            "label": "Text of the bumps still to come",
                            "type": "MULTIPLE_LINE",
                            "value": text,
                        }
                    },
                    _buttons(_button("Save", base, "save", filled=True, id=item.id)),
                ]
            }
        ],
    }


def connect(base: str, email: str) -> dict:
    """The authorization prompt: offline access is granted once, on the settings page."""
    return {
        "name": "connect",
        "header": {"title": "Connect Replywatch", "subtitle": _clip(email, 60)},
        "sections": [_connect_section(base, email)],
    }


def notice(title: str, text: str) -> dict:
    return {
        "name": "notice",
        "header": {"title": _clip(title, 60)},
        "sections": [{"widgets": [_para(html.escape(text))]}],
    }


def not_sent_by_you(message: MessageView, account_email: str) -> dict:
    text = (
        f"The open message is from {html.escape(message.sender)}. Replywatch follows up on "
        f"messages you sent from {html.escape(account_email)}: open your own message in the "
        "thread."
    )
    return {
        "name": "not-yours",
        "header": {"title": "Nothing to follow up", "subtitle": _clip(message.subject, 60)},
        "sections": [_message_section(message), {"widgets": [_para(text)]}],
    }
