"""Blueprint "addon": the Gmail add-on's HTTP endpoints (Google Workspace add-on, HTTP runtime).

Every endpoint is a POST from Google and goes through the same steps, in this order:
1. `verify.google_signed`: the bearer token is Google's, for this exact endpoint URL
   (`{base_url}/addon/<name>`), from this deployment's add-on service account (else 401/403);
2. `events.parse_event`: the body has the shape Google sends (else 400);
3. the scopes the endpoint needs were granted (granular consent; else Google's
   `requesting_google_scopes` answer, and Gmail asks the user);
4. the user is the verified `userIdToken` (audience = the add-on's OAuth client id; else 401),
   their Replywatch User found by that email (not on REPLYWATCH_ALLOWED_USERS: a card saying
   so), their Google account as the gmail Account;
5. one job: show a card, or create / cancel / snooze / edit through watcher.followups in one
   transaction, then answer with cards.* (triggers: navigations; actions: renderActions).
A mistake the user can fix (a date in the past, an unknown or someone else's follow-up) comes
back as a notification and writes nothing. The only mail I/O is reading the open message.
This module holds the blueprint and that shared pipeline (`endpoint`); the endpoints live one
module per card: addon_home.py (homepage, page), addon_message.py (on-message, create),
addon_followup.py (show, cancel, snooze, edit, save), and the compose-time endpoints (the Bcc
tag while writing) in addon_compose.py; addon_views.py reads rows into cards' view objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy.orm import Session

from watcher.errors import ReplywatchError
from watcher.models import Account, User
from watcher.store import Store

from . import cards
from .events import EMAIL_SCOPE, AddonEvent, BadEvent, NoIdentityScope, parse_event
from .identity import GoogleIdentityRefused, user_for_google
from .jsonbody import BadJson, load_json
from .verify import TokenRejected, email_verified, google_signed, verify_id_token

bp = Blueprint("addon", __name__, url_prefix="/addon")

MAX_BODY = 256 * 1024  # an event with a 5,000-character text is ~15 KB
MESSAGE_SCOPE = "https://www.googleapis.com/auth/gmail.addons.current.message.metadata"
COMPOSE_SCOPE = "https://www.googleapis.com/auth/gmail.addons.current.action.compose"


def register(app: Flask) -> None:
    """Mount the blueprint; its JSON endpoints are exempt from the settings page's CSRF check
    (Google's signed token is their protection). Call it after CSRFProtect is set up."""
    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)


@dataclass(frozen=True)
class Identity:
    email: str
    sub: str
    hd: str = ""  # the Workspace domain Google vouches for, if any (gmail.identity)


class _Refused(Exception):
    def __init__(self, status: int, reason: str):
        self.status, self.reason = status, reason


class NotAllowed(ReplywatchError):
    """A verified Google user this deployment does not serve (REPLYWATCH_ALLOWED_USERS): a card
    that says so, with HTTP 200, since Gmail shows any other status as a generic error."""


# -- the pipeline every endpoint shares -------------------------------------------------------


def _config():
    return current_app.extensions["replywatch"]["config"]


def _store() -> Store:
    return current_app.extensions["replywatch"]["store"]


def _now() -> datetime:
    clock = current_app.extensions["replywatch"].get("clock")
    return clock() if clock else datetime.now(UTC)


def _base() -> str:
    return _config().base_url.rstrip("/")


def endpoint(name: str, *, trigger: bool = False, scopes: tuple[str, ...] = ()):
    """Register `fn(event, identity) -> response dict` as POST /addon/<name>. `scopes` are the
    ones the endpoint cannot work without: under granular consent a user may not have granted
    them, and the answer is then Google's `requesting_google_scopes` response ("Build a Google
    Workspace add-on using HTTP endpoints", "Manage granular permissions"); Gmail asks the user
    and repeats the action."""

    def decorator(fn: Callable[[AddonEvent, Identity], dict]):
        @google_signed(
            audience=lambda: cards.endpoint(_base(), name),
            email=lambda: _config().addon_service_account_email,
        )
        def view():
            if (request.content_length or 0) > MAX_BODY:
                return _error(413, f"the event is larger than {MAX_BODY} bytes")
            request.max_content_length = MAX_BODY
            try:
                event = parse_event(_body_json())
                missing = _missing(event, scopes)
                if missing:
                    return jsonify({"requesting_google_scopes": {"scopes": missing}})
                identity = _identify(event)
                return jsonify(fn(event, identity))
            except _Refused as exc:
                return _error(exc.status, exc.reason)
            except NoIdentityScope:
                return jsonify({"requesting_google_scopes": {"scopes": [EMAIL_SCOPE, *scopes]}})
            except NotAllowed as exc:
                card = cards.notice("Not available to you", exc.message)
                return jsonify(cards.navigate(card) if trigger else cards.render(card))
            except BadEvent as exc:
                return _error(400, exc.message)
            except ReplywatchError as exc:  # nothing was written: the transaction rolled back
                if trigger:
                    return jsonify(cards.navigate(cards.notice("Replywatch", exc.message)))
                return jsonify(cards.render(notify=exc.message))

        view.__name__ = fn.__name__
        bp.add_url_rule(f"/{name}", endpoint=fn.__name__, view_func=view, methods=["POST"])
        return fn

    return decorator


def _missing(event: AddonEvent, scopes: tuple[str, ...]) -> list[str]:
    """The needed scopes the user did not grant (authorizedScopes absent: all granted)."""
    if event.authorized_scopes is None:
        return []
    return [scope for scope in scopes if scope not in event.authorized_scopes]


def _body_json():
    """The event JSON, or None when it is not JSON at all (parse_event then says 400)."""
    try:
        return load_json(request.get_data(cache=False))
    except BadJson:
        return None


def _identify(event: AddonEvent) -> Identity:
    config = _config()
    if not config.addon_client_id:
        raise _Refused(403, "the add-on's OAuth client id is not configured")
    try:
        claims = verify_id_token(
            event.user_id_token, audience=config.addon_client_id, certs_url=config.google_certs_uri
        )
    except TokenRejected as exc:
        raise _Refused(401, f"userIdToken: {exc.reason}") from None
    email, sub = claims.get("email"), claims.get("sub")
    if not isinstance(email, str) or "@" not in email or not isinstance(sub, str) or not sub:
        raise _Refused(401, "userIdToken: no email or subject")
    if not email_verified(claims):
        raise _Refused(403, "userIdToken: the email is not verified")
    hd = claims.get("hd")
    return Identity(email.strip().lower(), sub, hd if isinstance(hd, str) else "")


def _error(status: int, reason: str):
    response = jsonify(error=reason)
    response.status_code = status
    return response


def _user(s: Session, identity: Identity) -> tuple[User, Account | None]:
    """The user (by verified email) and their connected Google account, if any."""
    claims = {"email": identity.email, "sub": identity.sub, "hd": identity.hd}
    try:  # allowed at all? pinned to this Google account (`sub`)? see gmail.identity
        user = user_for_google(_store(), s, _config(), claims)
    except GoogleIdentityRefused as exc:  # a card, not a status Gmail shows as a generic error
        raise NotAllowed(exc.message) from None
    account = next(
        (
            a
            for a in _store().list_accounts(s, user.id)
            if a.kind == "gmail" and a.email == identity.email and a.status != "disabled"
        ),
        None,
    )
    return user, account


def _tz(event: AddonEvent, user: User) -> str:
    return event.time_zone or user.timezone


# The endpoints, one module per card; they import the pipeline above, so they come last.
from . import (  # noqa: E402, F401 (importing them registers the endpoints)
    addon_compose,
    addon_followup,
    addon_home,
    addon_message,
)
