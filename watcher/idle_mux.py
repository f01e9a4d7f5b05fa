"""One thread holds every IDLE connection of this process, multiplexed with `selectors`.

A logged-in connection (an imapclient.IMAPClient with INBOX selected, opened elsewhere by a
blocking login) is handed over with add(); from then on this thread owns its socket and talks
IDLE itself through idle_protocol.IdleSession: it never blocks on one server, so news on any
connection is seen as soon as its bytes arrive, whatever the number of connections.

Timers live here too: IDLE is renewed before the server's timeout (with a little jitter, so
connections opened together do not renew together), and a command the server leaves
unanswered for `answer_seconds` counts as a dead line. A dead line is closed and reported
through on_dropped; reconnecting is the caller's business (idle.py, with backoff).
"""

from __future__ import annotations

import contextlib
import logging
import random
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .idle_protocol import DROPPED, NEWS, READY, IdleSession

log = logging.getLogger(__name__)

SEND_SECONDS = 10.0  # a few bytes to a healthy server never take this long
MAX_WAIT_SECONDS = 30.0  # wake at least this often even without timers (cheap, and safe)
_NOTHING_YET = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


@dataclass(eq=False)
class _Conn:
    account_id: int
    client: object  # imapclient.IMAPClient; only its socket and shutdown() are used here
    sock: socket.socket
    session: IdleSession = field(default_factory=IdleSession)
    renew_at: float = float("inf")
    answer_by: float | None = None  # a command of ours awaits the server's answer until then
    opened_at: float = 0.0


class Multiplexer:
    def __init__(
        self,
        on_news: Callable[[int], None],
        on_dropped: Callable[[int, str, float], None],
        *,
        renew_seconds: float,
        answer_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ):
        self.on_news = on_news
        self.on_dropped = on_dropped  # (account_id, reason, seconds the connection lived)
        self.renew_seconds = renew_seconds
        self.answer_seconds = answer_seconds
        self.monotonic = monotonic
        self.rng = rng or random.Random()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._commands: deque[tuple[str, int, object]] = deque()
        self._conns: dict[int, _Conn] = {}
        self._idling = 0  # connections past the server's "+ idling" (read by benches/tests)
        self._thread = threading.Thread(target=self._run, name="idle-mux", daemon=True)
        self._stopping = False

    # -- called from other threads -------------------------------------------------------

    def start(self) -> Multiplexer:
        self._thread.start()
        return self

    def add(self, account_id: int, client) -> None:
        """Take over a logged-in connection with INBOX selected, and IDLE on it."""
        self._command("add", account_id, client)

    def remove(self, account_id: int) -> None:
        self._command("remove", account_id, None)

    def alive(self) -> bool:
        """False once the thread ended (stopped, or a bug killed it)."""
        return self._thread.is_alive()

    def discard_pending(self) -> None:
        """After the thread died: close the connections handed over too late to be taken."""
        while self._commands:
            kind, _, client = self._commands.popleft()
            if kind == "add":
                self._shut(client)

    def idling(self) -> int:
        """How many connections are in IDLE right now."""
        return self._idling

    def stop(self, timeout: float = 5.0) -> None:
        self._command("stop", 0, None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _command(self, kind: str, account_id: int, payload) -> None:
        self._commands.append((kind, account_id, payload))
        with contextlib.suppress(OSError):  # full (already woken) or closed (stopped)
            self._wake_w.send(b"x")

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping:
                for key, _ in self._selector.select(self._timeout()):
                    if key.data is None:
                        self._take_commands()
                    else:
                        self._read(key.data)
                self._timers()
        except Exception:  # a bug here must not leave sockets open behind a dead thread
            log.exception("IDLE multiplexer failed; polling carries on alone")
        finally:
            for conn in list(self._conns.values()):
                self._close(conn, polite=True)
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _timeout(self) -> float:
        deadline = self.monotonic() + MAX_WAIT_SECONDS
        for conn in self._conns.values():
            deadline = min(deadline, conn.renew_at, conn.answer_by or deadline)
        return max(0.0, deadline - self.monotonic())

    def _take_commands(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        while self._commands:
            kind, account_id, payload = self._commands.popleft()
            if kind == "stop":
                self._stopping = True
            elif kind == "add":
                self._add(account_id, payload)
            elif kind == "remove" and account_id in self._conns:
                self._close(self._conns[account_id], polite=True)

    def _add(self, account_id: int, client) -> None:
        if account_id in self._conns:  # a stale login raced a newer one: keep the newer
            self._close(self._conns[account_id], polite=True)
        conn = _Conn(account_id, client, client.socket(), opened_at=self.monotonic())
        try:
            ahead = _read_ahead(client, conn.sock)
        except OSError as e:
            self._shut(client)
            self.on_dropped(account_id, f"lost at hand-over ({e})", 0.0)
            return
        self._conns[account_id] = conn
        self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        if self._send(conn, conn.session.start()):
            conn.answer_by = self.monotonic() + self.answer_seconds
            if ahead:
                self._feed(conn, ahead)

    def _read(self, conn: _Conn) -> None:
        data = bytearray()
        closed = None
        while True:
            try:
                chunk = conn.sock.recv(65536)
            except _NOTHING_YET:
                break
            except OSError as e:
                closed = f"read failed ({e})"
                break
            if not chunk:
                closed = "closed by the server"
                break
            data += chunk
        if data:
            self._feed(conn, bytes(data))
        if closed and conn.account_id in self._conns and self._conns[conn.account_id] is conn:
            self._drop(conn, closed)

    def _feed(self, conn: _Conn, data: bytes) -> None:
        events, reply = conn.session.feed(data)
        if any(kind == NEWS for kind, _ in events):
            self.on_news(conn.account_id)  # once, even for "* 5 EXISTS" + "* 1 RECENT"
        for kind, detail in events:
            if kind == READY:
                conn.answer_by = None
                conn.renew_at = self.monotonic() + self.renew_seconds * self.rng.uniform(0.9, 1)
                self._idling += 1
            elif kind == DROPPED:
                self._drop(conn, detail)
                return
        if reply and self._send(conn, reply):
            conn.answer_by = self.monotonic() + self.answer_seconds

    def _timers(self) -> None:
        now = self.monotonic()
        for conn in list(self._conns.values()):
            if conn.answer_by is not None and now >= conn.answer_by:
                self._drop(conn, f"no answer within {self.answer_seconds:g}s")
            elif now >= conn.renew_at and conn.session.state == "idling":
                self._idling -= 1
                conn.renew_at = float("inf")
                if self._send(conn, conn.session.renew()):
                    conn.answer_by = now + self.answer_seconds

    # -- sockets -------------------------------------------------------------------------

    def _send(self, conn: _Conn, data: bytes) -> bool:
        try:
            conn.sock.settimeout(SEND_SECONDS)
            conn.sock.sendall(data)
            conn.sock.setblocking(False)
        except OSError as e:
            self._drop(conn, f"send failed ({e})")
            return False
        return True

    def _drop(self, conn: _Conn, reason: str) -> None:
        uptime = self.monotonic() - conn.opened_at
        self._close(conn, polite=False)
        self.on_dropped(conn.account_id, reason, uptime)

    def _close(self, conn: _Conn, *, polite: bool) -> None:
        if self._conns.get(conn.account_id) is conn:
            del self._conns[conn.account_id]
        if conn.session.state == "idling":
            self._idling -= 1
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(conn.sock)
        if polite:  # end IDLE and log out without waiting for the answer
            with contextlib.suppress(OSError):
                conn.sock.setblocking(False)
                conn.sock.send(conn.session.done())
        conn.session.state = "closed"
        self._shut(conn.client)

    @staticmethod
    def _shut(client) -> None:
        with contextlib.suppress(Exception):
            client.shutdown()


def _read_ahead(client, sock: socket.socket) -> bytes:
    """Bytes imaplib already buffered past the last response it parsed (a select() on the
    socket would never report them); the socket is non-blocking from here on."""
    sock.setblocking(False)
    try:
        return client._imap.file.read1(65536) or b""
    except _NOTHING_YET:
        return b""
