"""Shared fixtures: real mail servers, started once per session on 127.0.0.1."""

from __future__ import annotations

import shutil

import pytest

from tests.servers.dovecot import Dovecot
from tests.servers.pg_fixtures import db_config, pg_url, postgres  # noqa: F401 (fixtures)
from tests.servers.smtp import SmtpSink
from tests.servers.world import MailWorld


@pytest.fixture(scope="session")
def dovecot():
    if not (shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin")):
        pytest.fail(
            "Dovecot is not installed; the IMAP tests need it: apt-get install -y dovecot-imapd",
            pytrace=False,
        )
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_sink(dovecot):
    sink = SmtpSink(dovecot).start()
    yield sink
    sink.stop()


@pytest.fixture
def mail_world(dovecot, smtp_sink, clock):
    """People with fresh mailboxes (new_user) who mail each other through the sink, their mail
    dated by the test's clock."""
    smtp_sink.clear()
    yield MailWorld(dovecot, smtp_sink, clock=clock.now)
    smtp_sink.clear()


@pytest.fixture
def config(tmp_path):
    """A Config for one test: its own instance dir and SQLite file, no waiting in retries."""
    from watcher.config import Config

    return Config.for_instance(
        tmp_path / "instance",
        worker_id="test-worker",
        retry_attempts=2,
        retry_wait_max=0.0,
        imap_timeout=10.0,
        smtp_timeout=10.0,
        send_jitter_minutes=0,  # exact due times; tests that want jitter turn it on
        # Dovecot and the SMTP sink listen on 127.0.0.1: this deployment opts in to local mail
        # servers, as a self-hoster with mail on the same box does (watcher.netguard).
        allow_private_mail_hosts=True,
    )


class FakeClock:
    """The injected clock: tests move time forward instead of sleeping."""

    def __init__(self, start=None):
        from datetime import UTC, datetime

        self.start = (start or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        self.current = self.start

    def now(self):
        return self.current

    def advance(self, **delta):
        from datetime import timedelta

        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def clock(request):
    """The test's "now". A test whose expected value depends on the date, the weekday or a DST
    change fixes it with `@pytest.mark.now("2026-11-20T18:31:00+01:00")`; the others start at
    the wall clock, since the mail servers they talk to stamp mail on it."""
    from datetime import datetime

    marker = request.node.get_closest_marker("now")
    return FakeClock(datetime.fromisoformat(marker.args[0]) if marker else None)


@pytest.fixture
def engine(config, clock):
    from watcher.engine import Engine
    from watcher.store import Store

    store = Store.from_config(config)
    store.migrate()
    yield Engine(store, config, clock=clock.now)
    store.dispose()


@pytest.fixture
def cli(config, clock):
    """Run `python -m watcher ...` in-process, as a user would, on the test's instance dir and
    the test's clock (never the wall clock: a test's "now" is fixed)."""
    import contextlib
    import io

    from watcher.__main__ import main

    def run(*argv, env=None):
        environ = {
            "REPLYWATCH_INSTANCE_DIR": str(config.instance_dir),
            "REPLYWATCH_RETRY_WAIT_MAX": "0",
            "REPLYWATCH_RETRY_ATTEMPTS": "2",
            "REPLYWATCH_WORKER_ID": "cli",
            "REPLYWATCH_SEND_JITTER_MINUTES": "0",
            "REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS": "1",  # the test mail servers are local
            **(env or {}),
        }
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv), environ, clock=clock.now)
        return code, out.getvalue(), err.getvalue()

    return run


# -- Google emulators (Gmail API, OAuth 2.0, certificates): tests/emulators ---------------------


@pytest.fixture(scope="session")
def google_emulators():
    from tests.emulators import GoogleEmulators

    emulators = GoogleEmulators().start()
    yield emulators
    emulators.stop()


@pytest.fixture
def google(google_emulators):
    """The emulators with no faults left over from another test."""
    google_emulators.reset()
    yield google_emulators
    google_emulators.reset()


@pytest.fixture
def gmail_config(config, google):
    """The test's Config pointed at the emulators."""
    return config.with_overrides(**google.config_overrides())


@pytest.fixture
def gcli(cli, google):
    """The CLI with REPLYWATCH_GOOGLE_* pointing at the emulators."""

    def run(*argv, env=None):
        return cli(*argv, env={**google.env(), **(env or {})})

    return run


@pytest.fixture
def gengine(gmail_config, clock):
    """An Engine on the test's Config pointed at the emulators, with the injected clock."""
    from watcher.engine import Engine
    from watcher.store import Store

    store = Store.from_config(gmail_config)
    store.migrate()
    yield Engine(store, gmail_config, clock=clock.now)
    store.dispose()
