"""Google-signed ID tokens: the check behind every add-on (and, later, Pub/Sub push) request.

`verify_id_token()` checks an RS256 JWT against Google's certificates (Config.google_certs_uri,
the v1 `{kid: PEM}` form), the expected audience(s), `exp`/`iat`, and an issuer of
accounts.google.com. `google_signed(audience=..., email=...)` is the view decorator: the
`Authorization: Bearer` token must pass that check *and* name exactly this deployment's service
account with a verified email (a shape match such as `service-\\d+@gcp-sa-gsuiteaddons...` would
accept every other project's add-on). Missing or invalid tokens get 401, a valid token of
someone else 403; the view never runs, so nothing changes.

Certificates are cached per URL for their Cache-Control max-age; an unknown key id triggers at
most one re-fetch a minute (Google rotates keys; a forged kid must not make us hammer the URL).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable

import requests
from flask import current_app, g, jsonify, request
from google.auth import exceptions as google_exceptions
from google.auth import jwt

from watcher.errors import TransientError

log = logging.getLogger(__name__)

ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
CLOCK_SKEW_SECONDS = 10
CERTS_TIMEOUT = 5.0
DEFAULT_MAX_AGE = 300.0
MAX_AGE_CAP = 86400.0
REFETCH_INTERVAL = 60.0
_MAX_AGE = re.compile(r"max-age=(\d+)")

_cache: dict[str, tuple[dict[str, str], float, float]] = {}  # url -> (certs, expires, fetched)
_lock = threading.Lock()


class TokenRejected(Exception):
    """The token does not prove what it must; `status` is 401 (unproven) or 403 (not us)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def verify_id_token(token: str, *, audience: str | Iterable[str], certs_url: str) -> dict:
    """The claims of a Google-signed ID token for `audience`, or TokenRejected(401)."""
    if not isinstance(token, str) or not token or len(token) > 8192:
        raise TokenRejected(401, "no usable ID token")
    audiences = [audience] if isinstance(audience, str) else list(audience)
    if not audiences or not all(audiences):
        raise TokenRejected(403, "no audience is configured")
    header = _header(token)
    if header.get("alg") != "RS256":  # what Google signs with; never "none", never HS*
        raise TokenRejected(401, "the token is not an RS256 JWT")
    kid = header.get("kid")
    certs = _certs(certs_url, want_kid=kid if isinstance(kid, str) else None)
    try:
        claims = jwt.decode(
            token, certs=certs, audience=audiences, clock_skew_in_seconds=CLOCK_SKEW_SECONDS
        )
    except (ValueError, TypeError, google_exceptions.GoogleAuthError) as exc:
        raise TokenRejected(401, f"the token does not verify: {_short(exc)}") from None
    if claims.get("iss") not in ISSUERS:
        raise TokenRejected(401, "the token was not issued by Google")
    return claims


def _header(token: str) -> dict:
    """The unverified JOSE header (only to pick the key; the signature is checked after)."""
    first = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    except (ValueError, TypeError, binascii.Error):
        raise TokenRejected(401, "the token is not a JWT") from None
    if not isinstance(header, dict):
        raise TokenRejected(401, "the token is not a JWT")
    return header


def google_signed(*, audience: Callable[[], str], email: Callable[[], str]):
    """View decorator: the bearer token is Google's, for `audience()`, from `email()`.

    Both are callables, read per request from the app's Config (the exact URL Google POSTs to,
    never rebuilt from request headers). The verified claims are in `flask.g.google_claims`.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            expected_email, expected_audience = email(), audience()
            if not expected_email or not expected_audience:
                return _refuse(403, "this endpoint is not configured (REPLYWATCH_ADDON_*)")
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return _refuse(401, "a Google-signed bearer token is required")
            try:
                claims = verify_id_token(
                    token.strip(), audience=expected_audience, certs_url=_certs_url()
                )
            except TokenRejected as exc:
                return _refuse(exc.status, exc.reason)
            except TransientError as exc:
                return _refuse(503, exc.message)
            if claims.get("email") != expected_email:
                return _refuse(403, "the token is not from this deployment's service account")
            if not email_verified(claims):
                return _refuse(403, "the token's email is not verified")
            g.google_claims = claims
            return view(*args, **kwargs)

        return wrapped

    return decorator


def email_verified(claims: dict) -> bool:
    return claims.get("email_verified") in (True, "true")


def _certs_url() -> str:
    return current_app.extensions["replywatch"]["config"].google_certs_uri


def _refuse(status: int, reason: str):
    log.info("refused %s %s: %s", request.method, request.path, reason)
    response = jsonify(error=reason)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def _certs(url: str, want_kid: str | None = None) -> dict[str, str]:
    now = time.monotonic()
    with _lock:
        cached = _cache.get(url)
    if cached is not None:
        certs, expires, fetched = cached
        fresh = now < expires
        rotated = want_kid is not None and want_kid not in certs
        if fresh and not (rotated and now - fetched >= REFETCH_INTERVAL):
            return certs
    try:
        response = requests.get(url, timeout=CERTS_TIMEOUT)
        response.raise_for_status()
        certs = response.json()
    except (requests.RequestException, ValueError) as exc:
        if cached is not None:  # keep verifying with the keys we have
            return cached[0]
        raise TransientError(f"cannot fetch Google's certificates: {_short(exc)}") from None
    if not isinstance(certs, dict) or not all(isinstance(v, str) for v in certs.values()):
        raise TransientError("Google's certificates are not in the expected {kid: PEM} form")
    match = _MAX_AGE.search(response.headers.get("Cache-Control", ""))
    max_age = min(float(match.group(1)), MAX_AGE_CAP) if match else DEFAULT_MAX_AGE
    with _lock:
        _cache[url] = (certs, now + max_age, now)
    return certs


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    try:  # google-auth puts whole payloads into some messages: keep them out of logs
        json.loads(text)
        return type(exc).__name__
    except ValueError:
        return text[:120]
