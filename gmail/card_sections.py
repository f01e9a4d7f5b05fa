"""Card sections shared by several cards: connect, needs attention, the open message, a
follow-up's summary and history, a home list item, the pager."""

from __future__ import annotations

import html

from watcher.followups import format_local

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
    _action,
    _button,
    _buttons,
    _clip,
    _fact,
    _link_button,
    _para,
    connect_url,
    settings_url,
)


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
