"""Who is signed in: the session, `login_required`, local passwords and their rate limit.

The session cookie holds the user's id, a fingerprint of their password hash (so a password
change or reset signs out every other session) and the user's session generation: signing out,
or `python -m watcher user sign-out-everywhere`, bumps the generation and so ends every session
made before, even a cookie copied elsewhere. Every request also re-checks watcher.access (a
Google user taken off REPLYWATCH_ALLOWED_USERS is signed out at once). Passwords are hashed with
werkzeug's scrypt. Failed sign-ins are counted per (address, client): after a few, each next
try from that client waits longer (1 s, 2 s, 4 s ... up to 5 minutes), so a guesser is slowed
down while the real user on another client is never locked out.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from watcher import access
from watcher.config import Config
from watcher.models import User
from watcher.store import Store

LOGIN_WINDOW = timedelta(minutes=15)  # for setup attempts and the expensive-action limit
SIGNIN_MEMORY = timedelta(hours=1)  # failures older than this no longer slow anyone down
FREE_TRIES = 3  # failed sign-ins per (address, client) before the waits start
MAX_WAIT_SECONDS = 300
MIN_PASSWORD_LENGTH = access.MIN_PASSWORD_LENGTH
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


def google_redirect_uri(cfg: Config) -> str:
    """The OAuth redirect URI to register with Google for this deployment."""
    return cfg.base_url.rstrip("/") + "/settings/oauth/google/callback"


def is_owner(user: User | None) -> bool:
    """The deployment's owner (access.owner): the only one shown the operator's set-up."""
    if user is None:
        return False
    with store().session() as s:
        first = access.owner(s)
        return first is not None and first.id == user.id


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
    session["gen"] = user.session_generation or 0


def sign_out() -> None:
    """End this session and every other session of the same user (copied cookies included)."""
    uid = session.get("uid")
    if isinstance(uid, int):
        with store().session() as s:
            end_every_session(s, uid)
    session.clear()


def end_every_session(s, user_id: int) -> bool:
    """Bump the user's session generation; False if there is no such user."""
    user = store().get_user(s, user_id)
    if user is None:
        return False
    user.session_generation = (user.session_generation or 0) + 1
    return True


def current_user() -> User | None:
    """The signed-in user (loaded once per request), or None."""
    if "user" in g:
        return g.user
    user = None
    uid = session.get("uid")
    if isinstance(uid, int):
        with store().session() as s:
            user = store().get_user(s, uid)
            if user is not None and not _session_still_good(s, user):
                user = None
        if user is None:
            session.clear()
    g.user = user
    return user


def _session_still_good(s, user: User) -> bool:
    if not hmac.compare_digest(session.get("pw", ""), _fingerprint(user)):
        return False  # the password changed since
    if session.get("gen") != (user.session_generation or 0):
        return False  # signed out (here or everywhere) since
    return access.may_stay_signed_in(config(), s, user)


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


def _signin_key(email: str) -> str:
    return f"signin:{email.strip().lower()}|{request.remote_addr or '-'}"


def signin_wait(email: str) -> int:
    """Seconds this client must still wait before its next sign-in try for this address."""
    with store().session() as s:
        count, latest = store().login_failure_stats(s, _signin_key(email), now() - SIGNIN_MEMORY)
    if count < FREE_TRIES or latest is None:
        return 0
    delay = min(2 ** (count - FREE_TRIES), MAX_WAIT_SECONDS)
    left = (latest + timedelta(seconds=delay) - now()).total_seconds()
    return max(0, int(left + 0.999))


def record_signin_failure(email: str) -> None:
    with store().session() as s:
        store().record_login_failure(s, [_signin_key(email)], now())


def clear_signin_failures(email: str) -> None:
    with store().session() as s:
        store().clear_login_failures(s, [_signin_key(email)])


def _keys(name: str) -> list[str]:
    return [f"ip:{request.remote_addr or '-'}", name]


def login_blocked(name: str) -> bool:
    """First-run setup: blocked after 20 failures from one client or of `name` in the window."""
    since = now() - LOGIN_WINDOW
    with store().session() as s:
        return any(store().login_failures(s, key, since) >= 20 for key in _keys(name))


def record_failure(name: str) -> None:
    with store().session() as s:
        store().record_login_failure(s, _keys(name), now())


def action_allowed(key: str, limit: int) -> bool:
    """A general limit for expensive actions (a connection test reaches out to any host)."""
    since = now() - LOGIN_WINDOW
    with store().session() as s:
        if store().login_failures(s, key, since) >= limit:
            return False
        store().record_login_failure(s, [key], now())
    return True
