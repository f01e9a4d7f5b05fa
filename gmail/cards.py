"""Pure: follow-ups -> Card v1 JSON (google.apps.card.v1.Card) and the add-on response envelopes.

No I/O and no database: addon.py builds the small view objects below from rows and passes the
deployment's base URL (every button calls back to `{base}/addon/<name>`; every link points at the
settings page). User text is HTML-escaped: card text fields accept a little HTML.

Envelopes (reference/addon-http-runtime.md section 4): triggers return
`{"action": {"navigations": [...]}}`; widget actions return `{"renderActions": {"action": ...}}`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from watcher.followups import format_local

from . import forms
from .events import default_pick

PAGE_SIZE = 20
HISTORY_SHOWN = 8
STATE_LABELS = {
    "active": "Scheduled",
    "replied": "Stopped: they replied",
    "completed": "Done: every bump went out",
    "cancelled": "Cancelled",
    "failed": "Stopped",
}


@dataclass(frozen=True)
class FollowUpView:
    id: int
    subject: str
    recipient: str  # "Alice Smith" or an address
    state: str
    mode: str
    due_at: datetime | None
    stage: int  # the next stage to act on (1-based)
    stages: int
    stop_reason: str = ""
    texts: tuple[str | None, ...] = ()  # pending stage texts (None: the user's template)
    history: tuple[tuple[datetime, str, str], ...] = ()  # (at, kind, detail), oldest first


@dataclass(frozen=True)
class AccountView:
    email: str
    kind: str
    status: str
    reason: str = ""


@dataclass(frozen=True)
class MessageView:
    subject: str
    sender: str
    recipients: tuple[str, ...] = ()
    date: datetime | None = None


@dataclass(frozen=True)
class Page:
    items: Sequence[FollowUpView]
    total: int
    offset: int = 0
    attention: Sequence[AccountView] = field(default_factory=tuple)
    connected: bool = True


# -- URLs -------------------------------------------------------------------------------------


def endpoint(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/addon/{name}"


def settings_url(base: str) -> str:
    return f"{base.rstrip('/')}/settings/"


def connect_url(base: str) -> str:
    return f"{base.rstrip('/')}/settings/connect/google"


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


# -- sections and widgets ---------------------------------------------------------------------


def _connect_section(base: str, email: str = "") -> dict:
    who = f" ({html.escape(email)})" if email else ""
    return {
        "header": "Connect your Google account",
        "widgets": [
            _para(
                "To follow up while Gmail is closed, Replywatch needs lasting access to your "
                f"mailbox{who}. Connect it once on the settings page, then come back here."
            ),
            _buttons(_link_button("Connect Google account", connect_url(base), filled=True)),
        ],
    }


def _attention_section(base: str, account: AccountView) -> dict:
    fix = connect_url(base) if account.kind == "gmail" else settings_url(base)
    return {
        "header": "Needs your attention",
        "widgets": [
            {
                "decoratedText": {
                    "topLabel": html.escape(account.email),
                    "text": html.escape(_clip(account.reason or "this account needs attention")),
                    "wrapText": True,
                    "bottomLabel": "Follow-ups wait until it is fixed",
                    "button": _link_button("Fix", fix),
                }
            }
        ],
    }


def _message_section(message: MessageView) -> dict:
    to = ", ".join(message.recipients[:5]) + (" …" if len(message.recipients) > 5 else "")
    widgets = [
        {
            "decoratedText": {
                "topLabel": "Subject",
                "text": html.escape(_clip(message.subject or "(no subject)")),
                "wrapText": True,
            }
        },
        {
            "decoratedText": {
                "topLabel": "From",
                "text": html.escape(_clip(message.sender)),
                "bottomLabel": html.escape(_clip("To " + to if to else "No recipients", 100)),
                "wrapText": True,
            }
        },
    ]
    return {"widgets": widgets}


def _summary_section(item: FollowUpView, tz: str, header: str = "This follow-up") -> dict:
    state = STATE_LABELS.get(item.state, item.state)
    if item.stop_reason and item.state != "active":
        state += f" ({item.stop_reason})"
    action = "remind you" if item.mode == "remind" else "send a bump"
    widgets = [
        _fact("State", html.escape(_clip(state))),
        _fact("To", html.escape(_clip(item.recipient or "-"))),
    ]
    if item.state == "active":
        widgets.append(
            _fact(
                "Next",
                html.escape(format_local(item.due_at, tz)),
                f"Will {action} ({_bump_of(item)}) unless someone replies",
            )
        )
    return {"header": header, "widgets": widgets}


def _history_section(item: FollowUpView, tz: str) -> dict:
    events = list(item.history)[-HISTORY_SHOWN:][::-1]  # newest first
    widgets = [
        _fact(format_local(at, tz), html.escape(_clip(detail or kind, 200)), kind)
        for at, kind, detail in events
    ] or [_para("No history yet.")]
    return {
        "header": "History",
        "collapsible": len(widgets) > 3,
        "uncollapsibleWidgetsCount": min(3, len(widgets)),
        "widgets": widgets,
    }


def _list_item(base: str, item: FollowUpView, tz: str, offset: int) -> list[dict]:
    view = f"home:{offset}"
    return [
        {
            "decoratedText": {
                "topLabel": html.escape(_clip("To " + (item.recipient or "-"), 80)),
                "text": f"<b>{html.escape(_clip(item.subject or '(no subject)', 80))}</b>",
                "bottomLabel": html.escape(
                    f"{format_local(item.due_at, tz)} · {_bump_of(item)} · "
                    + ("remind" if item.mode == "remind" else "send")
                ),
                "wrapText": True,
                "onClick": _action(base, "show", id=item.id),
            }
        },
        _buttons(
            _button("Snooze 1 day", base, "snooze", id=item.id, until="1d", view=view),
            _button("Snooze 1 week", base, "snooze", id=item.id, until="1w", view=view),
            _button("Cancel", base, "cancel", id=item.id, view=view),
        ),
    ]


def _pager(base: str, page: Page) -> dict | None:
    buttons = []
    if page.offset > 0:
        before = max(0, page.offset - PAGE_SIZE)
        buttons.append(_button("Previous", base, "page", offset=before))
    if page.offset + len(page.items) < page.total:
        buttons.append(_button("Next", base, "page", offset=page.offset + PAGE_SIZE))
    return _buttons(*buttons) if buttons else None


def _bump_of(item: FollowUpView) -> str:
    return f"bump {min(item.stage, item.stages)} of {item.stages}"


def _fact(label: str, text: str, bottom: str = "") -> dict:
    widget = {"decoratedText": {"topLabel": html.escape(label), "text": text, "wrapText": True}}
    if bottom:
        widget["decoratedText"]["bottomLabel"] = html.escape(bottom)
    return widget


def _para(text: str) -> dict:
    return {"textParagraph": {"text": text}}


def _item(text: str, value: str, selected: bool) -> dict:
    return {"text": text, "value": value, "selected": selected}


def _selection(name: str, label: str, kind: str, items: list[dict]) -> dict:
    return {"selectionInput": {"name": name, "label": label, "type": kind, "items": items}}


def _picker(name: str, label: str, value: datetime, tz: str) -> dict:
    offset = value.astimezone(ZoneInfo(tz)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return {
        "dateTimePicker": {
            "name": name,
            "label": label,
            "type": "DATE_AND_TIME",
            "valueMsEpoch": str(int(value.timestamp() * 1000)),
            "timezoneOffsetDate": minutes,
        }
    }


def _action(base: str, name: str, **params) -> dict:
    return {
        "action": {
            "function": endpoint(base, name),
            "parameters": [{"key": k, "value": str(v)} for k, v in params.items()],
        }
    }


def _button(text: str, base: str, name: str, *, filled: bool = False, **params) -> dict:
    button = {"text": text, "onClick": _action(base, name, **params)}
    if filled:
        button["type"] = "FILLED"
    return button


def _link_button(text: str, url: str, *, filled: bool = False) -> dict:
    button = {"text": text, "onClick": {"openLink": {"url": url, "onClose": "RELOAD"}}}
    if filled:
        button["type"] = "FILLED"
    return button


def _buttons(*buttons: dict) -> dict:
    return {"buttonList": {"buttons": list(buttons)}}


def _clip(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
