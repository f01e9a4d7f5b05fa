"""Card v1 building blocks: the add-on's URLs, and widgets (text, selections, date pickers,
buttons that call back to `{base}/addon/<name>`). Callers HTML-escape user text."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

# -- URLs -------------------------------------------------------------------------------------


def endpoint(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/addon/{name}"


def settings_url(base: str) -> str:
    return f"{base.rstrip('/')}/settings/"


def connect_url(base: str) -> str:
    return f"{base.rstrip('/')}/settings/connect/google"


# -- widgets ----------------------------------------------------------------------------------


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
