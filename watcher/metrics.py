"""Prometheus metrics: the metric objects, the scrape-time state collector, and the endpoint.

One registry per process (REGISTRY): the engine's counters live here whether the watcher runs
in `python -m watcher run` (its own small HTTP server on REPLYWATCH_METRICS_PORT, see serve())
or in `python app.py` (the web app's /metrics serves the same registry: one process, one
endpoint). The engine calls these objects at the points where things happen; nothing here
decides anything.

Follow-ups by state and accounts by status are read at scrape time (StateCollector: two grouped
queries, no row loads), so they are right whichever process changed them.

Protection: with REPLYWATCH_METRICS_TOKEN set, a scrape must carry `Authorization: Bearer
<token>`; without one, only loopback clients are answered (and the watcher's server refuses to
listen anywhere but on loopback).
"""

from __future__ import annotations

import collections
import hmac
import ipaddress
import logging
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, ThreadingWSGIServer, generate_latest
from sqlalchemy import func, select

from .errors import ValidationError
from .models import Account, FollowUp

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

PASSES = Counter(
    "replywatch_passes_total",
    "Watcher passes, by kind (full: every account due a check; woken: accounts with news)",
    ["kind"],
    registry=REGISTRY,
)
PASS_SECONDS = Histogram(
    "replywatch_pass_duration_seconds",
    "Wall time of one pass",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
    registry=REGISTRY,
)
ACCOUNTS_SERVED = Counter(
    "replywatch_accounts_served_total", "Accounts served by a pass", registry=REGISTRY
)
ACCOUNT_FAULTS = Counter(
    "replywatch_account_faults_total",
    "Accounts whose service in a pass ended in a fault, by kind (transient: retried later; "
    "permanent: needs attention; internal: a bug, see the log)",
    ["kind"],
    registry=REGISTRY,
)
MESSAGES = Counter(
    "replywatch_messages_read_total", "New messages read from mailboxes", registry=REGISTRY
)
BUMPS = Counter(
    "replywatch_bumps_total",
    "Stages acted on, by outcome (sent, unconfirmed, failed: refused by the server, "
    "reminded: remind-only)",
    ["outcome"],
    registry=REGISTRY,
)
STOPPED = Counter(
    "replywatch_followups_stopped_total", "Follow-ups stopped by a reply", registry=REGISTRY
)
VERDICTS = Counter(
    "replywatch_verdicts_total",
    "Judgements of new messages in tracked threads, by kind and the rule that fired",
    ["kind", "rule"],
    registry=REGISTRY,
)
IMAP_COMMANDS = Counter(
    "replywatch_imap_commands_total", "IMAP commands the watcher sent", registry=REGISTRY
)
GMAIL_REQUESTS = Counter(
    "replywatch_gmail_requests_total",
    "Gmail API requests the watcher made, by method",
    ["method"],
    registry=REGISTRY,
)
GMAIL_UNITS = Counter(
    "replywatch_gmail_quota_units_total",
    "Gmail API quota units the watcher spent (Google's per-method costs)",
    registry=REGISTRY,
)
LEASE_LOSSES = Counter(
    "replywatch_lease_losses_total",
    "Work another watcher took over while this one held it (its lease ran out), by what",
    ["what"],
    registry=REGISTRY,
)
WAKEUPS = Counter(
    "replywatch_wakeups_total",
    "Early passes asked for, by source (push: Gmail Pub/Sub in this process; idle: IMAP IDLE; "
    "notify: PostgreSQL NOTIFY from another process)",
    ["source"],
    registry=REGISTRY,
)
SEND_CAP_DEFERRALS = Counter(
    "replywatch_send_cap_deferrals_total",
    "Bumps moved to the next day because their account's daily send cap was reached",
    registry=REGISTRY,
)


# -- thin calls from the engine ---------------------------------------------------------------


def observe_pass(kind: str, report, seconds: float) -> None:
    """What one pass did, from its PassReport."""
    PASSES.labels(kind).inc()
    PASS_SECONDS.labels(kind).observe(seconds)
    ACCOUNTS_SERVED.inc(report.accounts)
    MESSAGES.inc(report.messages)
    STOPPED.inc(report.stopped)
    for outcome in ("sent", "unconfirmed", "reminded"):
        BUMPS.labels(outcome).inc(getattr(report, outcome))


def observe_mailbox(mailbox) -> None:
    """What one account's mailbox spent in a pass (ImapMailbox.commands, GmailMailbox.calls)."""
    commands = getattr(mailbox, "commands", None)
    if isinstance(commands, int):
        IMAP_COMMANDS.inc(commands)
    calls = getattr(mailbox, "calls", None)
    if isinstance(calls, collections.Counter):
        for method, n in calls.items():
            GMAIL_REQUESTS.labels(method).inc(n)
        units = getattr(mailbox, "quota_units", None)
        if callable(units):
            GMAIL_UNITS.inc(units())


# -- scrape-time state -------------------------------------------------------------------------


class StateCollector:
    """Follow-ups by state and accounts by status, counted in the database at scrape time."""

    def __init__(self, store):
        self.store = store

    def collect(self):
        followups = GaugeMetricFamily(
            "replywatch_followups", "Follow-ups by state, now", labels=["state"]
        )
        accounts = GaugeMetricFamily(
            "replywatch_accounts",
            "Accounts by status, now (needs_attention: a person must fix something)",
            labels=["status"],
        )
        with self.store.session() as s:
            for state, n in s.execute(
                select(FollowUp.state, func.count()).group_by(FollowUp.state)
            ):
                followups.add_metric([str(state)], n)
            for status, n in s.execute(
                select(Account.status, func.count()).group_by(Account.status)
            ):
                accounts.add_metric([str(status)], n)
        yield followups
        yield accounts


class _Scrape:
    """The process registry plus this store's state, as one collection to expose."""

    def __init__(self, store):
        self.state = StateCollector(store)

    def collect(self):
        yield from REGISTRY.collect()
        yield from self.state.collect()


def exposition(store) -> tuple[bytes, str]:
    """The body and content type of one scrape."""
    return generate_latest(_Scrape(store)), CONTENT_TYPE_LATEST


# -- who may scrape ----------------------------------------------------------------------------


def is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return address == "localhost"


def allowed(authorization: str | None, remote_addr: str | None, token: str) -> bool:
    """A bearer token when one is configured (compared in constant time); else loopback only."""
    if token:
        expected = f"Bearer {token}".encode()
        return hmac.compare_digest((authorization or "").strip().encode(), expected)
    return is_loopback(remote_addr)


# -- the watcher's own endpoint ----------------------------------------------------------------


def wsgi_app(store, token: str):
    def app(environ, start_response):
        if environ.get("PATH_INFO", "/") not in ("/metrics", "/metrics/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not allowed(environ.get("HTTP_AUTHORIZATION"), environ.get("REMOTE_ADDR"), token):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")],
            )
            return [b"unauthorized\n"]
        body, content_type = exposition(store)
        start_response("200 OK", [("Content-Type", content_type)])
        return [body]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        log.debug("metrics: " + format, *args)


def serve(store, host: str, port: int, token: str):
    """Start the watcher's /metrics server on a daemon thread; returns the server (its
    server_port is the port bound, shutdown() stops it). Without a token only loopback."""
    if not token and not is_loopback(host):
        raise ValidationError(
            f"metrics on {host}:{port} without REPLYWATCH_METRICS_TOKEN would be open to "
            "anyone who can reach it: set a token, or REPLYWATCH_METRICS_HOST=127.0.0.1"
        )
    try:
        server = make_server(
            host, port, wsgi_app(store, token), ThreadingWSGIServer, handler_class=_QuietHandler
        )
    except OSError as e:  # the port is taken (another watcher on this machine?), or no host
        raise ValidationError(
            f"metrics cannot listen on {host}:{port} ({e.strerror or e}): give each watcher "
            "process its own REPLYWATCH_METRICS_PORT"
        ) from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
