"""Who is signed in: the session, `login_required`, local passwords and their rate limit.

The session cookie holds only the user's id and a fingerprint of their password hash (so a
password change or reset signs out every other session). Passwords are hashed with werkzeug's
scrypt. Failed sign-ins are counted in the database per client address and per e-mail address;
past the limit the form answers 429 until the window has passed.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from watcher.config import Config
from watcher.models import User
from watcher.store import Store

LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 20
MIN_PASSWORD_LENGTH = 10
GOOGLE_SETTINGS = {
    "google_client_id": "REPLYWATCH_GOOGLE_CLIENT_ID",
    "google_client_secret": "REPLYWATCH_GOOGLE_CLIENT_SECRET",
}


def store() -> Store:
    return current_app.extensions["replywatch"]["store"]


def config() -> Config:
    return current_app.extensions["replywatch"]["config"]


def now() -> datetime:
    return current_app.extensions["replywatch"]["clock"]()


def missing_google_settings(cfg: Config) -> list[str]:
    """The environment variables still to set before Google sign-in and Gmail work."""
    return [env for name, env in GOOGLE_SETTINGS.items() if not getattr(cfg, name)]


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def password_matches(user: User | None, password: str) -> bool:
    if user is None or not user.password_hash:
        # Same work either way, so timing does not tell which addresses exist.
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(user.password_hash, password)


_DUMMY_HASH = generate_password_hash("not a real password")


def _fingerprint(user: User) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, (user.password_hash or "-").encode(), hashlib.sha256).hexdigest()[:16]


def sign_in(user: User) -> None:
    """Start a fresh session for `user` (nothing from the anonymous session survives)."""
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["pw"] = _fingerprint(user)


def sign_out() -> None:
    session.clear()


def current_user() -> User | None:
    """The signed-in user (loaded once per request), or None."""
    if "user" in g:
        return g.user
    user = None
    uid = session.get("uid")
    if isinstance(uid, int):
        with store().session() as s:
            user = store().get_user(s, uid)
        if user is not None and not hmac.compare_digest(session.get("pw", ""), _fingerprint(user)):
            user = None
    g.user = user
    return user


def login_required(view):
    """Send anonymous visitors to the sign-in page, then back here."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("settings.signin", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no //evil.example) may be a redirect."""
    default = url_for("settings.followups")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


# -- rate limiting ------------------------------------------------------------------------------


def _keys(email: str) -> tuple[str, str]:
    return (f"ip:{request.remote_addr or '-'}", f"email:{email.strip().lower()}")


def login_blocked(email: str) -> bool:
    """True when this address or this e-mail has failed too often within the window."""
    ip_key, email_key = _keys(email)
    since = now() - LOGIN_WINDOW
    with store().session() as s:
        return (
            store().login_failures(s, ip_key, since) >= MAX_FAILURES_PER_ADDRESS
            or store().login_failures(s, email_key, since) >= MAX_FAILURES_PER_EMAIL
        )


def record_failure(email: str) -> None:
    with store().session() as s:
        store().record_login_failure(s, _keys(email), now())


def clear_failures(email: str) -> None:
    with store().session() as s:
        store().clear_login_failures(s, [_keys(email)[1]])


def action_allowed(key: str, limit: int) -> bool:
    """A general limit for expensive actions (a connection test reaches out to any host)."""
    since = now() - LOGIN_WINDOW
    with store().session() as s:
        if store().login_failures(s, key, since) >= limit:
            return False
        store().record_login_failure(s, [key], now())
    return True
