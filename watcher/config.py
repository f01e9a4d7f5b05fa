"""Config: one frozen dataclass, built from the environment at entry points only.

Defaults make `python app.py` work on SQLite in `instance/`: on first run a random secret key and
an encryption key are generated there (mode 0600) and reused afterwards. Tests build Config
explicitly and never read the environment.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, repr=False)  # __repr__ below hides the secrets
class Config:
    database_url: str  # may carry a password: shown through redacted_database_url only
    instance_dir: Path
    secret_key: str
    encryption_keys: tuple[str, ...]  # Fernet keys, newest first (MultiFernet rotation)
    base_url: str = "http://127.0.0.1:8080"
    host: str = "127.0.0.1"
    port: int = 8080
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    poll_interval: float = 60.0  # seconds between passes
    # Account workers per watcher process (REPLYWATCH_WORKERS): accounts served in parallel
    # by `run`'s passes. 0: 8 on PostgreSQL, 1 on SQLite (its writers take turns anyway, and
    # a SQLite deployment is one box with a few accounts).
    workers: int = 0
    # Push-first Gmail (REPLYWATCH_GMAIL_SAFETY_POLL_SECONDS): with gmail_pubsub_topic set and
    # an account's users.watch alive, `run` polls that account only this often; a push serves
    # it at once, and a missing or lapsed watch brings back the poll interval.
    gmail_safety_poll_seconds: float = 3600.0
    lease_seconds: float = 300.0  # how long a claim holds before another watcher may take it
    overdue_grace_seconds: float = 900.0  # later than this counts as "after downtime": spread
    overdue_spacing_seconds: float = 120.0  # gap between spread bumps of one account
    account_backoff_seconds: float = 300.0  # first wait before re-trying a failing account
    # Human timing: each bump goes out up to this many minutes after its slot (a stable offset
    # per follow-up and stage, kept inside the window), and no account sends more than
    # max_bumps_per_minute bumps in any minute (0: no cap); one over the cap waits, never drops.
    send_jitter_minutes: int = 20
    max_bumps_per_minute: int = 4
    # After a broken-off SMTP hand-over, how long a copy of the bump may take to show up (the
    # receipt copy, or Gmail's Sent) before it counts as not sent and is sent again.
    receipt_grace_seconds: float = 600.0
    retry_attempts: int = 3  # tenacity attempts for one transient fault
    retry_wait_max: float = 8.0  # upper bound of one tenacity wait, seconds
    imap_timeout: float = 30.0
    smtp_timeout: float = 30.0
    # Mail servers typed into the settings page (and every IMAP/SMTP connection after) may not
    # be loopback, private, link-local or reserved addresses: a signed-in user must not probe
    # the server's own network (REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS=1 when mail is on the same
    # box or LAN). connection_test_seconds: one total deadline on a "Connect IMAP" test.
    allow_private_mail_hosts: bool = False
    connection_test_seconds: float = 20.0
    run_watcher_in_app: bool = True  # `python app.py` also runs the watcher thread
    # Who may sign in with Google or use the add-on: addresses and "@domain" entries
    # (REPLYWATCH_ALLOWED_USERS, comma-separated). Empty: only the owner (the first user), see
    # watcher.access; it fails closed.
    allowed_users: tuple[str, ...] = ()
    imap_idle: bool = True  # hold IMAP IDLE on each inbox so replies wake the watcher at once
    # IDLE connections open gradually (REPLYWATCH_IMAP_IDLE_LOGINS_*): at most this many logins
    # at once and started per second, so a restart with 1,000 inboxes is no login storm.
    imap_idle_logins_in_flight: int = 4
    imap_idle_logins_per_second: float = 10.0
    # Kept IMAP sessions (REPLYWATCH_IMAP_KEEP_*, watcher.engine.kept): `run` keeps each IMAP
    # account logged in between passes and logs out one unused this many seconds (0: log in
    # afresh every check, as `once` does); at most imap_keep_max sessions per process.
    imap_keep_seconds: float = 300.0
    imap_keep_max: int = 2000
    # Reverse proxies in front of the web app (REPLYWATCH_TRUSTED_PROXIES): their
    # X-Forwarded-For/-Proto/-Host are believed, so sign-in rate limits count the real client.
    # 0 (default): such headers are ignored, since anyone can send them.
    trusted_proxies: int = 0
    # Google endpoints (REPLYWATCH_GOOGLE_*): Google's real URLs; tests point them at emulators.
    google_gmail_endpoint: str = "https://gmail.googleapis.com/"  # the client's api_endpoint
    google_token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
    google_auth_uri: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_revoke_uri: str = "https://oauth2.googleapis.com/revoke"
    google_userinfo_uri: str = "https://openidconnect.googleapis.com/v1/userinfo"
    google_certs_uri: str = "https://www.googleapis.com/oauth2/v1/certs"
    google_client_id: str = ""  # this deployment's OAuth client
    google_client_secret: str = field(default="", repr=False)
    gmail_timeout: float = 30.0  # seconds per Gmail API request
    gmail_max_concurrent: int = 4  # Gmail API requests in flight per account, per process
    # Gmail add-on (REPLYWATCH_ADDON_*): both from `gcloud workspace-add-ons get-authorization`.
    # Empty means the add-on is not deployed: its endpoints refuse every request (403).
    addon_service_account_email: str = ""  # service-<number>@gcp-sa-gsuiteaddons...
    addon_client_id: str = ""  # oauthClientId: the audience of the userIdToken
    # Gmail push (REPLYWATCH_GMAIL_PUBSUB_TOPIC, REPLYWATCH_PUSH_*), optional: with a topic the
    # watcher keeps a users.watch on every Gmail account; Pub/Sub's push subscription POSTs to
    # {base_url}/push/gmail with an OIDC token of push_service_account_email. Empty email: the
    # endpoint refuses everything (403). Polling stays the safety net either way.
    gmail_pubsub_topic: str = ""  # projects/<project>/topics/<topic>
    push_audience: str = ""  # the subscription's OIDC audience; empty: the endpoint URL
    push_service_account_email: str = ""  # the service account the subscription signs as
    # Prometheus /metrics (watcher.metrics). The web app serves it at {base_url}/metrics; each
    # `python -m watcher run` on metrics_port (0: none) at metrics_host. With metrics_token a
    # scrape needs "Authorization: Bearer <token>"; without one only loopback is answered.
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    metrics_token: str = field(default="", repr=False)

    @property
    def push_endpoint_audience(self) -> str:
        """The audience a push token must carry: push_audience, else {base_url}/push/gmail."""
        return self.push_audience or f"{self.base_url.rstrip('/')}/push/gmail"

    def listed(self, email: str) -> bool:
        """Whether this address is on REPLYWATCH_ALLOWED_USERS (never true for an empty list:
        who may sign in then is watcher.access's question, since it needs the database)."""
        email = email.strip().lower()
        domain = "@" + email.rsplit("@", 1)[-1]
        return email in self.allowed_users or domain in self.allowed_users

    @property
    def redacted_database_url(self) -> str:
        """DATABASE_URL without its password, for start-up lines and logs."""
        return redact_url(self.database_url)

    def __repr__(self) -> str:
        hidden = {"secret_key", "encryption_keys", "google_client_secret", "metrics_token"}
        parts = []
        for f in fields(self):
            if f.name in hidden:
                value = "'***'"
            elif f.name == "database_url":
                value = repr(self.redacted_database_url)
            else:
                value = repr(getattr(self, f.name))
            parts.append(f"{f.name}={value}")
        return f"Config({', '.join(parts)})"

    def with_overrides(self, **changes) -> Config:
        return replace(self, **changes)

    @classmethod
    def for_instance(cls, instance_dir: Path, **overrides) -> Config:
        """Config for an instance directory, generating its keys on first use."""
        instance_dir = Path(instance_dir)
        if not instance_dir.exists():
            # 0700: the database holds addresses and subjects, and the keys sit beside it.
            instance_dir.mkdir(parents=True, mode=0o700)
        secret_key = _read_or_create(instance_dir / "secret_key", lambda: secrets.token_hex(32))
        enc_key = _read_or_create(
            instance_dir / "encryption_key", lambda: Fernet.generate_key().decode()
        )
        values = {
            "database_url": f"sqlite:///{instance_dir / 'replywatch.db'}",
            "instance_dir": instance_dir,
            "secret_key": secret_key,
            "encryption_keys": (enc_key,),
        }
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Read DATABASE_URL and REPLYWATCH_* (see README); everything has a working default."""
        env = os.environ if environ is None else environ
        instance_dir = Path(env.get("REPLYWATCH_INSTANCE_DIR", PROJECT_ROOT / "instance"))
        overrides: dict = {}
        if env.get("DATABASE_URL"):
            overrides["database_url"] = env["DATABASE_URL"]
        if env.get("REPLYWATCH_SECRET_KEY"):
            overrides["secret_key"] = env["REPLYWATCH_SECRET_KEY"]
        if env.get("REPLYWATCH_ALLOWED_USERS"):
            entries = env["REPLYWATCH_ALLOWED_USERS"].split(",")
            overrides["allowed_users"] = tuple(e.strip().lower() for e in entries if e.strip())
        if env.get("REPLYWATCH_ENCRYPTION_KEYS"):
            keys = tuple(k.strip() for k in env["REPLYWATCH_ENCRYPTION_KEYS"].split(",") if k)
            overrides["encryption_keys"] = keys
        for name, conv in _SCALARS.items():
            raw = env.get(f"REPLYWATCH_{name.upper()}")
            if raw is not None and raw != "":
                overrides[name] = conv(raw)
        if "base_url" not in overrides:  # follow the address the app really listens on
            host = overrides.get("host", cls.host)
            port = overrides.get("port", cls.port)
            overrides["base_url"] = f"http://{host}:{port}"
        return cls.for_instance(instance_dir, **overrides)


def _bool(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes", "on")


_SCALARS = {
    "base_url": str,
    "host": str,
    "port": int,
    "worker_id": str,
    "poll_interval": float,
    "workers": int,
    "gmail_safety_poll_seconds": float,
    "lease_seconds": float,
    "overdue_grace_seconds": float,
    "overdue_spacing_seconds": float,
    "account_backoff_seconds": float,
    "send_jitter_minutes": int,
    "max_bumps_per_minute": int,
    "receipt_grace_seconds": float,
    "retry_attempts": int,
    "retry_wait_max": float,
    "imap_timeout": float,
    "smtp_timeout": float,
    "allow_private_mail_hosts": _bool,
    "connection_test_seconds": float,
    "run_watcher_in_app": _bool,
    "imap_idle": _bool,
    "imap_idle_logins_in_flight": int,
    "imap_idle_logins_per_second": float,
    "imap_keep_seconds": float,
    "imap_keep_max": int,
    "trusted_proxies": int,
    "google_gmail_endpoint": str,
    "google_token_uri": str,
    "google_auth_uri": str,
    "google_revoke_uri": str,
    "google_userinfo_uri": str,
    "google_certs_uri": str,
    "google_client_id": str,
    "google_client_secret": str,
    "gmail_timeout": float,
    "gmail_max_concurrent": int,
    "addon_service_account_email": str,
    "addon_client_id": str,
    "gmail_pubsub_topic": str,
    "push_audience": str,
    "push_service_account_email": str,
    "metrics_port": int,
    "metrics_host": str,
    "metrics_token": str,
}


def redact_url(url: str) -> str:
    """A database URL with its password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL SQLAlchemy can read: show only its scheme
        return url.split(":", 1)[0] + ":***"


def _read_or_create(path: Path, make) -> str:
    if path.exists():
        return path.read_text().strip()
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value
