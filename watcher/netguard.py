"""Outbound IMAP/SMTP connections: only to public addresses, and within one total deadline.

A signed-in user types the mail servers' names on the settings page, and the server connects to
them. Without a guard that is a probe of the server's own network (SSRF): loopback, the LAN,
cloud metadata at 169.254.169.254. So every connection:
- resolves the name once and refuses it when *any* address it resolves to is loopback,
  private, link-local, shared (CGNAT), multicast, unspecified or reserved (`ipaddress`'s
  `is_global` is the test), unless the operator set REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS;
- connects to exactly the addresses it checked (no second lookup a rebinding DNS could answer
  differently); TLS still verifies the certificate against the typed name;
- under a `Deadline`, is cut when the deadline passes, however slowly the far end drips bytes
  (each socket's own timeout bounds one read, not the whole test).
Name resolution itself is bounded only by the system resolver's timeouts.
"""

from __future__ import annotations

import contextlib
import ipaddress
import smtplib
import socket
import threading
import time
from collections.abc import Callable

from imapclient import IMAPClient, imap4, tls

from .errors import ValidationError

Resolver = Callable[..., list]


class HostRefused(ValidationError):
    """The mail server's address is not one this deployment connects to."""


def refused_address(ip: str) -> bool:
    """True for an address a user-typed mail server may not have (see the module docstring)."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 zone index
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not addr.is_global or addr.is_multicast


def resolve(
    host: str, port: int, *, allow_private: bool, resolver: Resolver = socket.getaddrinfo
) -> list[tuple]:
    """The (family, type, proto, sockaddr) to connect to, every one of them checked."""
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise HostRefused(f"the mail server {host} was not found (check its name)") from None
    found = [(family, kind, proto, sockaddr) for family, kind, proto, _, sockaddr in infos]
    if not found:
        raise HostRefused(f"the mail server {host} was not found (check its name)")
    if not allow_private and any(refused_address(sockaddr[0]) for *_, sockaddr in found):
        raise HostRefused(
            f"{host} is a local or private network address; this server connects only to "
            "mail servers on the internet (its operator can allow local ones with "
            "REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS)"
        )
    return found


class Deadline:
    """One total time limit over every socket opened while it runs (a context manager)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._dups: list[socket.socket] = []
        self.expired = False
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            dups, self._dups = self._dups, []
        for dup in dups:
            dup.close()

    def remaining(self) -> float:
        return max(0.001, self._ends - time.monotonic())

    @property
    def passed(self) -> bool:
        """The time is up, whether the timer cut the sockets or a socket timeout (set to the
        time remaining) fired a moment before it: on a busy machine either may come first."""
        return self.expired or time.monotonic() >= self._ends

    def watch(self, sock: socket.socket) -> None:
        """Cut `sock` when the deadline passes. A duplicate descriptor is kept, so the cut
        reaches the connection even after TLS wrapped (and detached) the original object."""
        with self._lock:
            dup = sock.dup()
            self._dups.append(dup)
            if self.expired:
                _shut(dup)

    def _cut(self) -> None:
        with self._lock:
            self.expired = True
            for dup in self._dups:
                _shut(dup)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def connect(
    host: str,
    port: int,
    timeout: float | None,
    *,
    allow_private: bool,
    deadline: Deadline | None = None,
) -> socket.socket:
    """A connected TCP socket to a checked address of `host` (tried in the resolver's order)."""
    last: OSError | None = None
    for family, kind, proto, sockaddr in resolve(host, port, allow_private=allow_private):
        if deadline is not None:
            timeout = min(timeout or deadline.seconds, deadline.remaining())
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            if deadline is not None:
                deadline.watch(sock)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"cannot connect to {host}")


# -- the mail libraries, connecting through connect() ------------------------------------------

Opener = Callable[[str, int, "float | None"], socket.socket]


class _IMAP4(imap4.IMAP4WithTimeout):
    def __init__(self, host: str, port: int, timeout: float | None, opener: Opener):
        self._opener = opener
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return self._opener(self.host, self.port, timeout if timeout is not None else self._timeout)


class _IMAP4TLS(tls.IMAP4_TLS):
    def __init__(self, host: str, port: int, context, timeout: float | None, opener: Opener):
        self._opener = opener
        super().__init__(host, port, context, timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = self._opener(self.host, self.port, timeout)
        return tls.wrap_socket(sock, self.ssl_context, self.host)


class GuardedIMAPClient(IMAPClient):
    """IMAPClient whose socket comes from `opener` (netguard.connect with the policy)."""

    def __init__(self, *args, opener: Opener, **kwargs):
        self._opener = opener
        super().__init__(*args, **kwargs)

    def _create_IMAP4(self):
        timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _IMAP4TLS(self.host, self.port, self.ssl_context, timeout, self._opener)
        return _IMAP4(self.host, self.port, timeout, self._opener)


class GuardedSMTP(smtplib.SMTP):
    def __init__(self, *args, opener: Opener, **kwargs):
        self._opener = opener
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        return self._opener(host, port, timeout)


class GuardedSMTPSSL(smtplib.SMTP_SSL, GuardedSMTP):
    """SMTP_SSL wraps what GuardedSMTP._get_socket opened (its super() call lands there)."""

    def __init__(self, *args, opener: Opener, **kwargs):
        self._opener = opener  # SMTP_SSL.__init__ calls SMTP.__init__ by name, not super()
        smtplib.SMTP_SSL.__init__(self, *args, **kwargs)
