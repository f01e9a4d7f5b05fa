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
The compose-time endpoints (the Bcc tag while writing) are in addon_compose.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy.orm import Session

from watcher import followups as ops
from watcher.compose import first_name_of, render_text
from watcher.errors import ReplywatchError, ValidationError
from watcher.models import Account, AccountStatus, FollowUp, FollowUpState, User
from watcher.store import Store

from . import cards, forms
from .current_message import read_open_message
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


# -- triggers ---------------------------------------------------------------------------------


@endpoint("homepage", trigger=True)
def homepage(event: AddonEvent, identity: Identity) -> dict:
    with _store().session() as s:
        user, account = _user(s, identity)
        card = cards.homepage(_base(), _page(s, user, account, 0), _tz(event, user))
    return cards.navigate(card)


@endpoint("on-message", trigger=True, scopes=(MESSAGE_SCOPE,))
def on_message(event: AddonEvent, identity: Identity) -> dict:
    if event.message_id is None:
        card = cards.notice("Open a message", "Open a message you sent to follow up on it.")
        return cards.navigate(card)
    with _store().session() as s:
        user, account = _user(s, identity)
        if account is None:
            return cards.navigate(cards.connect(_base(), identity.email))
    anchor = _read_message(event)
    now = _now()
    with _store().session() as s:
        user, account = _user(s, identity)
        if account is None:  # disconnected meanwhile
            return cards.navigate(cards.connect(_base(), identity.email))
        tz = _tz(event, user)
        found = _store().followups_in_thread(s, account.id, anchor.thread_ref, anchor.message_id)
        active = next((f for f in found if f.state == FollowUpState.ACTIVE), None)
        if active is not None:
            card = cards.followup(_base(), _view(s, active), tz, now)
        elif anchor.from_addr and anchor.from_addr not in account.own_addresses:
            card = cards.not_sent_by_you(_message_view(anchor), account.email)
        else:
            card = cards.compose(
                _base(),
                _message_view(anchor),
                tz=tz,
                now=now,
                default_text=_default_text(user, account, anchor),
                default_delay=user.default_delay,
                previous=_view(s, found[0]) if found else None,
                warning=_attention(account),
            )
    return cards.navigate(card)


# -- widget actions ---------------------------------------------------------------------------


@endpoint("create", scopes=(MESSAGE_SCOPE,))
def create(event: AddonEvent, identity: Identity) -> dict:
    with _store().session() as s:
        user, account = _user(s, identity)
        if account is None:
            return cards.render(cards.connect(_base(), identity.email))
        account_id = account.id
    anchor = _read_message(event)
    now = _now()
    with _store().session() as s:
        user, account = _user(s, identity)
        if account is None or account.id != account_id:
            raise ValidationError("your Google account was disconnected meanwhile")
        tz = _tz(event, user)
        wanted = forms.read_followup(event, now, tz, _default_text(user, account, anchor))
        followup = ops.create_followup(
            _store(),
            s,
            account=account,
            anchor=anchor,
            stages=wanted.stages,
            mode=wanted.mode,
            now=now,
            jitter_minutes=_config().send_jitter_minutes,
        )
        s.flush()
        card = cards.followup(_base(), _view(s, followup), tz, now)
        what = "remind you" if wanted.mode == "remind" else "send a bump"
        note = f"Follow-up set: will {what} {ops.format_local(followup.due_at, tz)} if no reply"
    return cards.render(card, notify=note)


@endpoint("show")
def show(event: AddonEvent, identity: Identity) -> dict:
    with _store().session() as s:
        user, _ = _user(s, identity)
        followup = _store().get_followup(s, forms.read_id(event), user_id=user.id)
        card = cards.followup(_base(), _view(s, followup), _tz(event, user), _now())
    return cards.render(card, push=True)


@endpoint("page")
def page(event: AddonEvent, identity: Identity) -> dict:
    with _store().session() as s:
        user, account = _user(s, identity)
        shown = _page(s, user, account, forms.read_offset(event))
        card = cards.homepage(_base(), shown, _tz(event, user))
    return cards.render(card)


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


# -- helpers ----------------------------------------------------------------------------------


def _read_message(event: AddonEvent):
    if not (event.message_id and event.gmail_token and event.user_oauth_token):
        raise BadEvent("the event has no open message (gmail.messageId and its tokens)")
    return read_open_message(
        _config().google_gmail_endpoint, event.message_id, event.user_oauth_token, event.gmail_token
    )


def _after_change(s, event, user, account, followup: FollowUp, now: datetime) -> dict:
    """The card to show after cancel/snooze: the list page it came from, or the follow-up."""
    view = event.param("view") or "followup"
    s.flush()
    if view.startswith("home:"):
        offset = view[5:]
        offset = int(offset) if offset.isascii() and offset.isdigit() and len(offset) < 8 else 0
        return cards.homepage(_base(), _page(s, user, account, offset), _tz(event, user))
    return cards.followup(_base(), _view(s, followup), _tz(event, user), now)


def _page(s: Session, user: User, account: Account | None, offset: int) -> cards.Page:
    store = _store()
    items, total = store.followups_page(s, user.id, [FollowUpState.ACTIVE], offset, cards.PAGE_SIZE)
    if not items and offset and total:  # past the end (items went away): the last page
        offset = (total - 1) // cards.PAGE_SIZE * cards.PAGE_SIZE
        items, total = store.followups_page(
            s, user.id, [FollowUpState.ACTIVE], offset, cards.PAGE_SIZE
        )
    attention = [
        v for v in (_attention(a) for a in store.list_accounts(s, user.id)) if v is not None
    ]
    return cards.Page(
        items=[_view(s, f, history=False) for f in items],
        total=total,
        offset=offset,
        attention=attention,
        connected=account is not None,
    )


def _view(s: Session, f: FollowUp, history: bool = True) -> cards.FollowUpView:
    events = _store().events_for(s, f.id) if history else []
    return cards.FollowUpView(
        id=f.id,
        subject=f.subject,
        recipient=_recipient(f),
        state=f.state,
        mode=f.mode,
        due_at=f.due_at,
        stage=f.current_stage,
        stages=len(f.stages),
        stop_reason=f.stop_reason or "",
        texts=tuple(st.text for st in f.stages if st.state == "pending"),
        history=tuple((e.at, e.kind, e.detail) for e in events),
    )


def _recipient(f: FollowUp) -> str:
    addrs = [*f.to_addrs, *f.cc_addrs]
    if not addrs:
        return ""
    first = f.recipient_name or addrs[0]
    return first + (f" +{len(addrs) - 1}" if len(addrs) > 1 else "")


def _attention(account: Account) -> cards.AccountView | None:
    if account.status != AccountStatus.NEEDS_ATTENTION:
        return None
    return cards.AccountView(account.email, account.kind, account.status, account.status_reason)


def _message_view(m) -> cards.MessageView:
    sender = f"{m.from_name} <{m.from_addr}>" if m.from_name else m.from_addr
    return cards.MessageView(m.subject, sender, (*m.to, *m.cc), m.date)


def _default_text(user: User, account: Account, anchor) -> str:
    recipients = [a for a in (*anchor.to, *anchor.cc) if a not in account.own_addresses]
    first = recipients[0] if recipients else ""
    name = anchor.names.get(first, "")
    try:
        return render_text(
            user.bump_template,
            first_name=first_name_of(name, first),
            subject=anchor.subject,
            recipient_name=name,
            sender_name=account.display_name or user.display_name,
        )
    except ValidationError:  # a broken template: show it as it is; the settings page fixes it
        return user.bump_template


def _render(template: str, user: User, f: FollowUp) -> str:
    first = f.to_addrs[0] if f.to_addrs else ""
    try:
        return render_text(
            template,
            first_name=first_name_of(f.recipient_name, first),
            subject=f.subject,
            recipient_name=f.recipient_name,
            sender_name=f.account.display_name or user.display_name,
        )
    except ValidationError:
        return template


from . import addon_compose  # noqa: E402, F401 (registers the compose-time endpoints)
