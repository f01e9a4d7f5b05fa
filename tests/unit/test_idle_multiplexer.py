"""The IDLE multiplexer against a scripted server on a socket pair: what Dovecot will not do on
demand (stay silent, hang up mid-IDLE, have bytes already read ahead by imaplib)."""

from __future__ import annotations

import contextlib
import socket
import threading

from watcher.idle_mux import Multiplexer


class FakeClient:
    """What the multiplexer uses of an IMAPClient: socket(), _imap.file, shutdown()."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._imap = type("Imap", (), {"file": sock.makefile("rb")})()
        self.shut = threading.Event()

    def socket(self):
        return self.sock

    def shutdown(self):
        self._imap.file.close()
        with contextlib.suppress(OSError):
            self.sock.close()
        self.shut.set()


class Events:
    def __init__(self):
        self.cond = threading.Condition()
        self.news: list[int] = []
        self.dropped: list[tuple[int, str]] = []

    def on_news(self, account_id):
        with self.cond:
            self.news.append(account_id)
            self.cond.notify_all()

    def on_dropped(self, account_id, reason, lived):
        with self.cond:
            self.dropped.append((account_id, reason))
            self.cond.notify_all()

    def wait(self, condition, seconds=10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(condition, seconds)


def setup(answer_seconds=30.0, renew_seconds=600.0):
    events = Events()
    mux = Multiplexer(
        events.on_news,
        events.on_dropped,
        renew_seconds=renew_seconds,
        answer_seconds=answer_seconds,
    ).start()
    ours, server = socket.socketpair()
    server.settimeout(10)
    return events, mux, FakeClient(ours), server


def read_line(server: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        data += server.recv(1)
    return data


def test_a_server_that_never_answers_idle_counts_as_a_dead_line():
    events, mux, client, server = setup(answer_seconds=0.2)
    try:
        mux.add(5, client)
        assert read_line(server) == b"RW1 IDLE\r\n"
        assert events.wait(lambda: events.dropped)
        assert events.dropped[0][0] == 5 and "no answer" in events.dropped[0][1]
        assert client.shut.is_set()
    finally:
        mux.stop()
        server.close()


def test_a_hang_up_mid_idle_is_reported_and_news_before_it_is_not_lost():
    events, mux, client, server = setup()
    try:
        mux.add(7, client)
        read_line(server)
        server.sendall(b"+ idling\r\n")
        assert events.wait(lambda: mux.idling() == 1)
        server.sendall(b"* 4 EXISTS\r\n")
        server.close()
        assert events.wait(lambda: events.dropped)
        assert events.news == [7]
        assert events.dropped == [(7, "closed by the server")]
        assert mux.idling() == 0
    finally:
        mux.stop()


def test_bytes_imaplib_already_read_ahead_are_not_missed():
    events, mux, client, server = setup()
    try:
        server.sendall(b"* 2 EXISTS\r\n")
        assert client._imap.file.peek(1)  # now in imaplib's buffer, no longer on the socket
        mux.add(3, client)
        assert events.wait(lambda: events.news == [3])
    finally:
        mux.stop()
        server.close()


def test_stop_logs_out_politely_and_closes_every_socket():
    events, mux, client, server = setup()
    mux.add(1, client)
    read_line(server)
    server.sendall(b"+ idling\r\n")
    assert events.wait(lambda: mux.idling() == 1)
    mux.stop()
    assert client.shut.is_set()
    assert read_line(server) == b"DONE\r\n"
    assert read_line(server) == b"RW0 LOGOUT\r\n"
    assert events.dropped == []  # a stop is not a drop: nothing reconnects
    server.close()
