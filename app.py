"""Replywatch web app. `python app.py` runs the web app and the watcher together on SQLite.

create_app(config=None) builds the Flask app; with no config it reads the environment
(DATABASE_URL, REPLYWATCH_*) and keeps its data in ./instance.
"""

from __future__ import annotations

import logging
import signal
import stat
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from waitress import serve
from werkzeug.middleware.proxy_fix import ProxyFix

from watcher import access
from watcher.config import Config
from watcher.engine import Engine
from watcher.store import Store

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# The largest body any route takes: a settings form or an add-on event (gmail.addon.MAX_BODY).
# waitress refuses anything larger before it buffers it (its own default is 1 GB).
MAX_BODY = 256 * 1024


def create_app(
    config: Config | None = None, *, clock: Callable[[], datetime] | None = None
) -> Flask:
    """The web app. `clock` (aware UTC) is injected by tests; the engine takes the same one."""
    config = config or Config.from_env()
    store = Store.from_config(config)
    store.migrate()
    app = Flask(__name__, template_folder="web/templates", static_folder=None)
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_NAME="replywatch_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=cookie_must_be_secure(config.base_url),
        PERMANENT_SESSION_LIFETIME=timedelta(days=14),
        # Send the session cookie only when the session changes. Refreshing it on every
        # response let a slow background request (the live preview) answer after a form post
        # and overwrite the cookie that carried the post's flash message.
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, not one hour
        MAX_CONTENT_LENGTH=MAX_BODY,
    )
    app.extensions["replywatch"] = {
        "config": config,
        "store": store,
        "clock": clock or (lambda: datetime.now(UTC)),
    }
    # Every POST, PUT, PATCH and DELETE needs a CSRF token; the add-on exempts its
    # Google-signed JSON endpoints through app.extensions["csrf"] (set by init_app).
    CSRFProtect(app)
    app.after_request(_security_headers)
    if config.trusted_proxies > 0:  # behind nginx/Caddy/...: see the client, not the proxy
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    import web

    web.init_app(app)

    from gmail import addon  # the Gmail add-on's endpoints (CSRF-exempt, Google-signed)

    addon.register(app)
    from gmail import push  # Gmail's Pub/Sub push notifications (CSRF-exempt, Google-signed)

    push.register(app)
    return app


def cookie_must_be_secure(base_url: str) -> bool:
    """Secure cookies everywhere but plain-http localhost (where browsers would drop them)."""
    parts = urlsplit(base_url)
    return not (parts.scheme == "http" and (parts.hostname or "") in LOCAL_HOSTS)


def _security_headers(response):
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # same-origin, not no-referrer: Flask-WTF checks the Referer of HTTPS form posts.
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")  # pages hold personal data
    if app_is_https():
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def app_is_https() -> bool:
    from flask import current_app

    return current_app.extensions["replywatch"]["config"].base_url.startswith("https://")


def startup_lines(config: Config, store: Store) -> list[str]:
    """What `python app.py` prints at start: where to go, where the data is (no password),
    who may sign in, and a warning when the instance folder is open to other local users."""
    lines = [
        f"Replywatch is running: open {config.base_url}/",
        f"Data: {config.redacted_database_url} (keys in {config.instance_dir})",
        access.who_may_sign_in(config),
    ]
    from web.auth import google_redirect_uri, missing_google_settings

    missing = missing_google_settings(config)
    if missing:  # said here and to the owner on Accounts, never on the public sign-in page
        lines.append(
            "Google sign-in and Gmail are off: set " + ", ".join(missing) + " and restart; "
            f"register the redirect URI {google_redirect_uri(config)} with Google"
        )
    mode = config.instance_dir.stat().st_mode if config.instance_dir.exists() else 0
    if mode & 0o077:
        lines.append(
            f"WARNING: {config.instance_dir} is open to other users of this machine "
            f"(mode {stat.S_IMODE(mode):o}); it holds the keys: chmod 700 it"
        )
    lines.append(f"Sign in and connect a mailbox at {config.base_url}/settings/")
    guard = "bearer token" if config.metrics_token else "local clients only"
    lines.append(f"Prometheus metrics: {config.base_url}/metrics ({guard})")
    return lines


def serve_options(config: Config) -> dict:
    """waitress's settings: a production WSGI server (threads, no reloader)."""
    return {
        "host": config.host,
        "port": config.port,
        "threads": 8,
        "ident": "Replywatch",
        "max_request_body_size": MAX_BODY,
    }


# On SIGTERM the watcher finishes the account in hand (a send under way completes or is
# settled by the next start's recovery); past this, the process ends anyway.
STOP_GRACE_SECONDS = 30.0


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    config = Config.from_env()
    app = create_app(config)
    store: Store = app.extensions["replywatch"]["store"]
    engine = Engine(store, config)
    app.extensions["replywatch"]["engine"] = engine
    thread = None
    if config.run_watcher_in_app:
        thread = threading.Thread(target=engine.run_forever, name="watcher", daemon=True)
        thread.start()
    for line in startup_lines(config, store):
        print(line)

    def _stop(*_):
        engine.stop()
        if thread is not None:  # the account in hand is finished, no new one is taken
            thread.join(STOP_GRACE_SECONDS)
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    serve(app, **serve_options(config))
    engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
