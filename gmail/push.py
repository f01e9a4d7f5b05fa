"""Blueprint "push": Gmail's Pub/Sub push notifications wake the watcher for that account.

Pub/Sub POSTs `{"message": {"data": base64(JSON {"emailAddress", "historyId"}), "messageId",
...}, "subscription": ...}` to `{base_url}/push/gmail` with an OIDC token of the subscription's
service account. Steps, in this order:
1. not configured (no REPLYWATCH_PUSH_SERVICE_ACCOUNT_EMAIL): 403 for everything;
2. `verify.google_signed`: the bearer token is Google's, for Config.push_endpoint_audience
   exactly, from Config.push_service_account_email with a verified email (else 401/403);
3. the envelope has the documented shape (else 400, which Pub/Sub retries and then
   dead-letters: a malformed message is a bug on someone's side, worth seeing);
4. every connected Gmail account of that address is woken: `watcher.wake.notify` (PostgreSQL
   NOTIFY, any watcher process) and the in-process engine's `wake_account` when there is one.
Then 204, which acks the message. No mail I/O happens here: the pushed historyId is only a
hint, the watcher reads from its stored cursor (mail-mechanics 1.2). An address with no
account is acked too (204), so Pub/Sub stops redelivering, and logged.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy import select

from watcher import wake
from watcher.models import Account, AccountStatus

from .jsonbody import BadJson, load_json
from .verify import google_signed

log = logging.getLogger(__name__)

bp = Blueprint("push", __name__, url_prefix="/push")

MAX_BODY = 64 * 1024  # a Gmail notification is a few hundred bytes


def register(app: Flask) -> None:
    """Mount the blueprint, exempt from the settings page's CSRF check (the token protects it)."""
    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)


class BadEnvelope(ValueError):
    pass


def _config():
    return current_app.extensions["replywatch"]["config"]


def _refuse(status: int, reason: str):
    log.info("refused %s %s: %s", request.method, request.path, reason)
    response = jsonify(error=reason)
    response.status_code = status
    return response


def _configured(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not _config().push_service_account_email:
            return _refuse(403, "Gmail push is not configured (REPLYWATCH_PUSH_*)")
        return view(*args, **kwargs)

    return wrapped


def parse_notification(body: bytes) -> tuple[str, str, str]:
    """(emailAddress lower-case, historyId as decimal, messageId) of a Pub/Sub push body."""
    try:
        envelope = load_json(body)
    except BadJson as exc:
        raise BadEnvelope(str(exc)) from None
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict):
        raise BadEnvelope("no message object")
    data = message.get("data")
    if not isinstance(data, str) or not data:
        raise BadEnvelope("the message has no data")
    try:  # standard or URL-safe alphabet, padding optional
        decoded = load_json(base64.b64decode(data + "=" * (-len(data) % 4), altchars=b"-_"))
    except (ValueError, binascii.Error):
        raise BadEnvelope("the message data is not base64 JSON") from None
    if not isinstance(decoded, dict):
        raise BadEnvelope("the message data is not a JSON object")
    address = decoded.get("emailAddress")
    if not isinstance(address, str) or "@" not in address or len(address) > 320:
        raise BadEnvelope("the message data has no emailAddress")
    history_id = decoded.get("historyId")
    if isinstance(history_id, bool) or not isinstance(history_id, (int, str)):
        raise BadEnvelope("the message data has no historyId")
    try:  # a JSON number in real traffic, a string in Google's docs
        history = str(int(history_id))
    except ValueError:
        raise BadEnvelope("the message data's historyId is not a number") from None
    message_id = message.get("messageId") or message.get("message_id") or ""
    return address.strip().lower(), history, str(message_id)[:100]


@bp.post("/gmail")
@_configured
@google_signed(
    audience=lambda: _config().push_endpoint_audience,
    email=lambda: _config().push_service_account_email,
)
def gmail():
    if (request.content_length or 0) > MAX_BODY:
        return _refuse(413, "the notification is too large")
    try:
        address, history_id, message_id = parse_notification(request.get_data())
    except BadEnvelope as exc:
        return _refuse(400, f"not a Gmail push notification: {exc}")
    ext = current_app.extensions["replywatch"]
    store = ext["store"]
    with store.session() as s:
        account_ids = list(
            s.scalars(
                select(Account.id).where(
                    Account.kind == "gmail",
                    Account.email == address,
                    Account.status != AccountStatus.DISABLED,
                )
            )
        )
    if not account_ids:
        log.info(
            "push %s for %s (historyId %s): no connected account; acked",
            message_id,
            address,
            history_id,
        )
        return "", 204
    engine = ext.get("engine")
    for account_id in account_ids:
        wake.notify(store, account_id)
        if engine is not None:
            engine.wake_account(account_id)
    log.info("push %s: woke account(s) %s (historyId %s)", message_id, account_ids, history_id)
    return "", 204
