""" "Connect IMAP" cannot probe the server's network (issue 16): private addresses are refused
unless the operator opts in, a far end's own words never come back, and one deadline bounds the
whole test. Real sockets on 127.0.0.1 (Dovecot and the SMTP sink, or a raw listener that
plays a non-mail service)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from app import create_app
from tests.support.web import csrf_token, make_user, sign_in


class RawService:
    """A TCP listener on 127.0.0.1 that says `banner` (or nothing) and then holds the line."""

    def __init__(self, banner: bytes = b""):
        self.banner = banner
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)
            if self.banner:
                conn.sendall(self.banner)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):  # wakes the blocked accept() (close does not)
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for conn in self._conns:
            conn.close()
        self._thread.join(timeout=5)


@pytest.fixture
def service():
    made: list[RawService] = []

    def make(banner: bytes = b"") -> RawService:
        made.append(RawService(banner))
        return made[-1]

    yield make
    for s in made:
        s.close()


def _app(config, clock, **overrides):
    return create_app(config.with_overrides(**overrides), clock=clock.now)


def _form(token, email, imap=("127.0.0.1", 143), smtp=("127.0.0.1", 25), password="pw"):
    return {
        "csrf_token": token,
        "preset": "custom",
        "email": email,
        "password": password,
        "imap_host": imap[0],
        "imap_port": imap[1],
        "imap_security": "none",
        "smtp_host": smtp[0],
        "smtp_port": smtp[1],
        "smtp_security": "none",
    }


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "169.254.169.254"])
def test_private_mail_hosts_are_refused_without_the_operators_opt_in(config, clock, service, host):
    listener = service()
    app = _app(config, clock, allow_private_mail_hosts=False)
    try:
        make_user(app, "me@example.test")
        client = sign_in(app, "me@example.test")
        token = csrf_token(client, "/settings/accounts/imap")
        target = (host.strip("[]"), listener.port)
        answer = client.post(
            "/settings/accounts/imap", data=_form(token, "me@example.test", target, target)
        )
        text = answer.get_data(as_text=True)
        assert answer.status_code == 400
        assert "local or private network address" in text
        assert "REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS" in text
        assert listener.accepted == 0  # not even a connection was tried
        store = app.extensions["replywatch"]["store"]
        with store.session() as s:
            assert store.list_accounts(s) == []
    finally:
        app.extensions["replywatch"]["store"].dispose()


def test_with_the_opt_in_a_mail_server_on_the_same_box_connects(config, clock, mail_world):
    alice = mail_world.new_user("alice")
    settings, password = mail_world.imap_settings(alice)
    app = _app(config, clock, allow_private_mail_hosts=True)
    try:
        make_user(app, alice.email)
        client = sign_in(app, alice.email)
        token = csrf_token(client, "/settings/accounts/imap")
        imap = (settings["imap_host"], settings["imap_port"])
        smtp = (settings["smtp_host"], settings["smtp_port"])
        answer = client.post(
            "/settings/accounts/imap", data=_form(token, alice.email, imap, smtp, password)
        )
        assert answer.status_code == 303, answer.get_data(as_text=True)
    finally:
        app.extensions["replywatch"]["store"].dispose()


def test_a_non_mail_services_banner_never_comes_back(config, clock, mail_world, service):
    """IMAP is a real Dovecot; "SMTP" is some other service that greets with its banner."""
    alice = mail_world.new_user("alice")
    settings, password = mail_world.imap_settings(alice)
    ssh = service(b"SSH-2.0-OpenSSH_9.6 internal-build-7731 secret-banner\r\n")
    app = _app(config, clock)
    try:
        make_user(app, alice.email)
        client = sign_in(app, alice.email)
        token = csrf_token(client, "/settings/accounts/imap")
        imap = (settings["imap_host"], settings["imap_port"])
        answer = client.post(
            "/settings/accounts/imap",
            data=_form(token, alice.email, imap, ("127.0.0.1", ssh.port), password),
        )
        text = answer.get_data(as_text=True)
        assert answer.status_code == 400 and ssh.accepted == 1
        assert "127.0.0.1" in text and "refused connect" in text  # a short reason, our words
        for word in ("SSH-2.0", "OpenSSH", "internal-build", "secret-banner"):
            assert word not in text, word
    finally:
        app.extensions["replywatch"]["store"].dispose()


def test_one_deadline_bounds_the_whole_connection_test(config, clock, service):
    """A far end that accepts and then says nothing held a web worker for the full socket
    timeout of every step; now the whole test ends at connection_test_seconds."""
    silent = service()
    app = _app(config, clock, imap_timeout=10.0, connection_test_seconds=0.5)
    try:
        make_user(app, "me@example.test")
        client = sign_in(app, "me@example.test")
        token = csrf_token(client, "/settings/accounts/imap")
        target = ("127.0.0.1", silent.port)
        started = time.monotonic()
        answer = client.post(
            "/settings/accounts/imap", data=_form(token, "me@example.test", target, target)
        )
        elapsed = time.monotonic() - started
        text = answer.get_data(as_text=True)
        assert answer.status_code == 400 and silent.accepted == 1
        assert "took longer than 0.5s" in text
        assert elapsed < 5.0, elapsed  # the socket timeout alone would be 10 s
    finally:
        app.extensions["replywatch"]["store"].dispose()


def test_the_cli_keeps_the_same_rule_and_says_how_to_opt_in(mail_world, cli):
    """The operator's CLI is not an attacker, but the accounts it adds are served by the
    watcher, which keeps the rule: so the CLI refuses too, naming the opt-in, and works with it."""
    alice = mail_world.new_user("alice")
    settings, password = mail_world.imap_settings(alice)
    argv = [
        "account",
        "add-imap",
        "--email",
        alice.email,
        "--imap-host",
        settings["imap_host"],
        "--imap-port",
        str(settings["imap_port"]),
        "--imap-security",
        "none",
        "--smtp-host",
        settings["smtp_host"],
        "--smtp-port",
        str(settings["smtp_port"]),
        "--smtp-security",
        "none",
    ]
    env = {"REPLYWATCH_IMAP_PASSWORD": password}
    code, _, err = cli(*argv, env={**env, "REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS": "0"})
    assert code == 2 and "REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS" in err, err
    code, out, err = cli(*argv, env=env)  # the fixture's opt-in, as a self-hoster sets it
    assert code == 0 and "connected" in out, err
