"""bench/latency_proxy.py: the delay is really applied each way, a new connection pays TCP's
handshake round trip, bytes arrive intact and in order, chunks in flight do not queue behind
each other, and a half-close is passed on.

The proxy sleeps on the real event-loop clock, so the bounds here are measured: a lower bound
the proxy must never beat (it delivers no chunk early) and a generous upper bound that only a
proxy which serialized its chunks, or lost one, would miss on a busy 2-core machine.
"""

from __future__ import annotations

import os
import socket
import socketserver
import ssl
import threading
import time

import pytest
from imapclient import IMAPClient

from bench.latency_proxy import LatencyProxy
from bench.scaled_dovecot import ScaledDovecot

DELAY_MS = 100
ONE_WAY = DELAY_MS / 1000
SLACK = 0.005  # the event loop may fire a timer up to its clock resolution early


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)
        self.request.close()  # after the client's half-close: end the other direction too


@pytest.fixture(scope="module")
def echo_port():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo_port):
    with LatencyProxy("127.0.0.1", echo_port, delay_ms=DELAY_MS) as p:
        yield p


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"connection closed after {len(data)} of {size} bytes"
        data += chunk
    return data


def _round_trips(port: int, count: int) -> list[float]:
    with _connect(port) as sock:
        rtts = []
        for i in range(count):
            start = time.monotonic()
            sock.sendall(b"ping %d" % i)
            assert _read_exactly(sock, 6) == b"ping %d" % i
            rtts.append(time.monotonic() - start)
    return rtts


def test_a_round_trip_takes_the_delay_both_ways_and_a_new_connection_one_more(proxy):
    first, *later = _round_trips(proxy.port, 4)
    # connect() to the proxy returns at once: the handshake's round trip lands on the first
    # exchange (target opened after 3 one-way legs, the answer back after a 4th)
    assert first >= 4 * ONE_WAY - SLACK
    assert first < 4 * ONE_WAY + 1.0
    for rtt in later:
        assert 2 * ONE_WAY - SLACK <= rtt < 2 * ONE_WAY + 1.0
    assert proxy.connections == 1


def test_without_the_handshake_a_new_connection_costs_one_round_trip(echo_port):
    with LatencyProxy("127.0.0.1", echo_port, DELAY_MS, handshake=False) as proxy:
        first, second = _round_trips(proxy.port, 2)
    for rtt in (first, second):
        assert 2 * ONE_WAY - SLACK <= rtt < 2 * ONE_WAY + 1.0


def test_bytes_arrive_intact_and_in_order_without_queueing_behind_each_other(proxy):
    # 50 distinct chunks written back to back: each is delayed, none waits for the one before
    # (a proxy that slept per chunk in turn would take 50 x 0.2 s = 10 s, on top of the handshake).
    chunks = [os.urandom(1000 + 97 * i) for i in range(50)]
    expected = b"".join(chunks)
    with _connect(proxy.port) as sock:
        start = time.monotonic()
        received: list[bytes] = []
        reader = threading.Thread(
            target=lambda: received.append(_read_exactly(sock, len(expected)))
        )
        reader.start()
        for chunk in chunks:
            sock.sendall(chunk)
        reader.join(30)
        elapsed = time.monotonic() - start
    assert received and received[0] == expected
    assert 4 * ONE_WAY - SLACK <= elapsed < 4 * ONE_WAY + 3.0  # with the handshake
    assert proxy.bytes_up == proxy.bytes_down == len(expected)


def test_a_half_close_is_passed_on_and_the_answer_still_comes_back(proxy):
    with _connect(proxy.port) as sock:
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)  # the echo server sees the end only through the proxy
        start = time.monotonic()
        data = b""
        while chunk := sock.recv(100):
            data += chunk
        elapsed = time.monotonic() - start
    assert data == b"last words"
    # the end of stream went up and the server's own close came back, both delayed
    assert elapsed >= 2 * ONE_WAY - SLACK


def test_a_changed_delay_applies_to_later_chunks(echo_port):
    with LatencyProxy("127.0.0.1", echo_port, delay_ms=2500) as proxy:
        proxy.delay_ms = 0  # e.g. a benchmark's warm-up on loopback speed
        with _connect(proxy.port) as sock:
            start = time.monotonic()
            sock.sendall(b"fast")
            assert _read_exactly(sock, 4) == b"fast"
            fast = time.monotonic() - start
    assert fast < 5.0  # the 2 x 2.5 s it started with no longer apply


def test_an_unreachable_target_closes_the_client_connection():
    with socket.socket() as s:  # a port that was free a moment ago, with nothing listening
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    with LatencyProxy("127.0.0.1", dead_port, delay_ms=10) as proxy, _connect(proxy.port) as c:
        assert c.recv(10) == b""
    assert proxy.failed_upstream == 1


def test_imap_with_implicit_tls_and_starttls_passes_through_unchanged():
    # bench/many_accounts.py's TLS rows: Dovecot with a throwaway certificate, behind the proxy
    with ScaledDovecot(tls=True) as dovecot:
        dovecot.add_user("tls@bench.test", "pw-tls")
        context = ssl.create_default_context(cafile=dovecot.cert_path)
        with (
            LatencyProxy(dovecot.host, dovecot.tls_port, delay_ms=5) as implicit,
            LatencyProxy(dovecot.host, dovecot.port, delay_ms=5) as plain,
        ):
            client = IMAPClient("127.0.0.1", implicit.port, ssl=True, ssl_context=context)
            client.login("tls@bench.test", "pw-tls")
            assert client.folder_status("INBOX", [b"MESSAGES"]) == {b"MESSAGES": 0}
            client.logout()
            client = IMAPClient("127.0.0.1", plain.port, ssl=False)
            client.starttls(context)
            client.login("tls@bench.test", "pw-tls")
            assert b"STARTTLS" not in client.capabilities()  # no longer offered: TLS is on
            client.logout()
            assert implicit.connections == plain.connections == 1
