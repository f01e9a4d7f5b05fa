"""Pure: an add-on event (the JSON Google POSTs) -> what a handler needs, or BadEvent.

Google's HTTP delivery is read defensively (reference/addon-http-runtime.md section 2): form
inputs with or without the Apps-Script `""` wrapper, numbers as ints, floats or strings
("1.7E12"). Every limit is explicit, so a huge or odd event is a 400, never a crash.

Gmail ids are opaque and kept exactly as Google sent them. The add-on's `gmail.messageId` has
several forms: `msg-f:<decimal>` for a received message (Google's "Build a Google Workspace
add-on using HTTP endpoints" example event), `msg-a:r<signed decimal>` for one the user sent,
with `thread-a:r<decimal>` as its thread (the captured event
googleworkspace/gws-genai-addon-sample sample_data_delete_before_prod/generate_reply_post.json).
Google's samples pass it unchanged to users.messages.get (that sample's
modules/utils/gmail_utils.js; the page's "Extract the information" code), and so do we: Gmail
answers for every form it issued, and its answer carries the REST `id` and `threadId` that are
stored. So no form is refused here; an id Gmail does not know comes back from Gmail as a 404 or
400 and becomes a card that says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watcher.errors import ValidationError

MAX_TOKEN = 8192  # characters of one token (ID tokens are ~1 KB)
MAX_TEXT = 5000  # characters of the bump text
MAX_PARAM = 200  # characters of one action parameter
MAX_FORM_FIELDS = 30
MAX_RECIPIENTS = 100  # addresses in one of a draft's recipient lists
MAX_ADDRESS = 320  # characters of one address (RFC 5321: 64 + 1 + 255)
MAX_GMAIL_ID = 200  # characters of gmail.messageId / threadId (seen: ~30)
# Printable ASCII without spaces: any form Gmail may use, nothing that could break a URL path
# (the id is percent-encoded into it anyway).
_GMAIL_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_GMAIL_ID}}}")
_ZONE = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")
_MIN_MS, _MAX_MS = 0, 253402300799000  # 1970 .. 9999-12-31


class BadEvent(ValidationError):
    """The event is not what Google sends: answered with 400 and changes nothing."""

    status_code = 400


EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"


class NoIdentityScope(BadEvent):
    """Under granular consent the user left userinfo.email unticked, so Google sent no
    userIdToken: answered with Google's requesting_google_scopes, not an error."""


@dataclass(frozen=True)
class AddonEvent:
    user_id_token: str
    message_id: str | None = None  # gmail.messageId as sent (msg-f:…, msg-a:r…, or other)
    thread_id: str | None = None  # gmail.threadId as sent (thread-f:…, thread-a:r…)
    gmail_token: str | None = None  # gmail.accessToken: X-Goog-Gmail-Access-Token
    user_oauth_token: str | None = None
    time_zone: str | None = None  # IANA id from commonEventObject.timeZone, when valid
    authorized_scopes: tuple[str, ...] | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, Any] = field(default_factory=dict)  # name -> raw Inputs object
    # The draft's Bcc in a compose event (gmail.bccRecipients, sent with draftAccess METADATA;
    # an empty list is left out, as proto3 JSON leaves out empty repeated fields).
    bcc_recipients: tuple[str, ...] = ()

    def param(self, name: str) -> str | None:
        return self.parameters.get(name)

    def text(self, name: str) -> str | None:
        """The first string value of a text input, dropdown or radio group, or None."""
        values = self.texts(name)
        return values[0] if values else None

    def texts(self, name: str) -> list[str]:
        inputs = self._inputs(name)
        if inputs is None:
            return []
        string_inputs = inputs.get("stringInputs")
        if string_inputs is None:
            raise BadEvent(f"form field {name!r} is not a text input")
        values = string_inputs.get("value", []) if isinstance(string_inputs, dict) else None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise BadEvent(f"form field {name!r} has no list of strings")
        return values

    def ms(self, name: str) -> tuple[int, bool] | None:
        """(UTC milliseconds, has_time) of a date/time picker, or None if not submitted."""
        inputs = self._inputs(name)
        if inputs is None:
            return None
        for key, has_time_default in (("dateTimeInput", True), ("dateInput", False)):
            value = inputs.get(key)
            if value is None:
                continue
            if not isinstance(value, dict):
                raise BadEvent(f"form field {name!r} is not a date")
            ms = _int(value.get("msSinceEpoch"), f"{name}.msSinceEpoch", _MIN_MS, _MAX_MS)
            has_time = value.get("hasTime", has_time_default)
            return ms, has_time is True or str(has_time).lower() == "true"
        raise BadEvent(f"form field {name!r} is not a date")

    def _inputs(self, name: str) -> dict | None:
        inputs = self.form.get(name)
        if inputs is None:
            return None
        if isinstance(inputs, dict) and set(inputs) == {""}:
            inputs = inputs[""]  # Apps-Script style wrapper
        if not isinstance(inputs, dict):
            raise BadEvent(f"form field {name!r} is malformed")
        return inputs


def parse_event(body: Any) -> AddonEvent:
    """Check the shape of a Google add-on event; never trusts it for identity (see verify)."""
    if not isinstance(body, dict):
        raise BadEvent("the request body is not a JSON object")
    common = _obj(body, "commonEventObject")
    auth = _obj(body, "authorizationEventObject")
    gmail = _obj(body, "gmail")
    user_token = _str(auth, "userIdToken", MAX_TOKEN)
    scopes = auth.get("authorizedScopes")
    if scopes is not None and (
        not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes)
    ):
        raise BadEvent("authorizedScopes is not a list of strings")
    if not user_token:
        if scopes is not None and EMAIL_SCOPE not in scopes:
            raise NoIdentityScope("the user did not grant userinfo.email")
        raise BadEvent("the event has no userIdToken: the add-on needs the userinfo.email scope")
    params = common.get("parameters") or {}
    if not isinstance(params, dict) or len(params) > MAX_FORM_FIELDS:
        raise BadEvent("parameters is not a small string map")
    for key, value in params.items():
        if not isinstance(value, str) or len(value) > MAX_PARAM or len(key) > MAX_PARAM:
            raise BadEvent(f"parameter {key!r} is not a short string")
    form = common.get("formInputs") or {}
    if not isinstance(form, dict) or len(form) > MAX_FORM_FIELDS:
        raise BadEvent("formInputs is not a small map")
    return AddonEvent(
        user_id_token=user_token,
        message_id=gmail_id(_str(gmail, "messageId", MAX_GMAIL_ID)),
        thread_id=gmail_id(_str(gmail, "threadId", MAX_GMAIL_ID)),
        gmail_token=_str(gmail, "accessToken", MAX_TOKEN),
        user_oauth_token=_str(auth, "userOAuthToken", MAX_TOKEN),
        time_zone=_zone(common.get("timeZone")),
        authorized_scopes=tuple(scopes) if scopes is not None else None,
        parameters=dict(params),
        form=dict(form),
        bcc_recipients=_addresses(gmail, "bccRecipients"),
    )


def _addresses(gmail: dict, name: str) -> tuple[str, ...]:
    value = gmail.get(name)
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or len(value) > MAX_RECIPIENTS
        or not all(isinstance(a, str) and 0 < len(a) <= MAX_ADDRESS for a in value)
    ):
        raise BadEvent(f"gmail.{name} is not a short list of addresses")
    return tuple(value)


def gmail_id(raw: str | None) -> str | None:
    """The id as Google sent it, whatever its form; only a control character, a space or a
    non-ASCII character (never in a Gmail id) makes it a BadEvent."""
    if raw is None:
        return None
    if not _GMAIL_ID.fullmatch(raw):
        raise BadEvent(f"{raw[:40]!r} is not a Gmail id")
    return raw


def picked_time(ms: int, has_time: bool, tz: str) -> datetime:
    """A picker value as aware UTC; a date without a time means 09:00 in the user's zone."""
    when = datetime.fromtimestamp(ms / 1000, UTC)
    if has_time:
        return when.replace(microsecond=0)
    local = datetime.combine(date.fromordinal(when.toordinal()), time(9, 0), ZoneInfo(tz))
    return local.astimezone(UTC)


def default_pick(now: datetime, tz: str, days: int = 7) -> datetime:
    """What a date picker shows first: `days` from now at 09:00 in the user's zone."""
    local = (now.astimezone(ZoneInfo(tz)) + timedelta(days=days)).date()
    return datetime.combine(local, time(9, 0), ZoneInfo(tz)).astimezone(UTC)


def _obj(body: dict, name: str) -> dict:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadEvent(f"{name} is not an object")
    return value


def _str(obj: dict, name: str, limit: int) -> str | None:
    value = obj.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadEvent(f"{name} is not a string of at most {limit} characters")
    return value


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadEvent(f"{name} is not a number")
    try:
        number = float(str(value)) if not isinstance(value, int) else value
    except ValueError:
        raise BadEvent(f"{name} is not a number") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise BadEvent(f"{name} is not a finite number")
    if not low <= number <= high:
        raise BadEvent(f"{name} is out of range")
    return int(number)


def _zone(value: Any) -> str | None:
    """An IANA zone id we can use, or None (absent, malformed or unknown: not an error)."""
    zone_id = value.get("id") if isinstance(value, dict) else None
    if not isinstance(zone_id, str) or not _ZONE.fullmatch(zone_id):
        return None
    try:
        ZoneInfo(zone_id)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return zone_id
