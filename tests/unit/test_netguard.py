"""watcher.netguard: which addresses a user-typed mail server may have (table-driven)."""

from __future__ import annotations

import socket

import pytest

from watcher.netguard import HostRefused, refused_address, resolve


@pytest.mark.parametrize(
    ("ip", "refused"),
    [
        ("127.0.0.1", True),  # loopback
        ("127.8.9.10", True),
        ("::1", True),
        ("10.1.2.3", True),  # RFC 1918
        ("172.16.0.1", True),
        ("192.168.1.10", True),
        ("169.254.169.254", True),  # link-local: cloud metadata
        ("fe80::1%eth0", True),
        ("100.64.0.1", True),  # shared address space (CGNAT)
        ("0.0.0.0", True),  # unspecified
        ("240.0.0.1", True),  # reserved
        ("255.255.255.255", True),
        ("224.0.0.1", True),  # multicast
        ("fd00::1", True),  # unique local
        ("::ffff:127.0.0.1", True),  # IPv4-mapped loopback
        ("::ffff:10.0.0.1", True),
        ("192.0.2.1", True),  # documentation (TEST-NET-1)
        ("8.8.8.8", False),
        ("2a00:1450:4001:80b::200e", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_refused_addresses(ip, refused):
    assert refused_address(ip) is refused


def _resolver(*ips):
    def fake(host, port, type=0):  # socket.getaddrinfo's shape
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, port, 0, 0) if ":" in ip else (ip, port),
            )
            for ip in ips
        ]

    return fake


def test_every_resolved_address_is_checked_not_only_the_first():
    """A name with a public and a private address (or a rebinding DNS answer) is refused."""
    resolver = _resolver("8.8.8.8", "10.0.0.5")
    with pytest.raises(HostRefused, match="REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS"):
        resolve("mail.example.org", 993, allow_private=False, resolver=resolver)
    ok = resolve("mail.example.org", 993, allow_private=True, resolver=resolver)
    assert [sockaddr[0] for *_, sockaddr in ok] == ["8.8.8.8", "10.0.0.5"]
    public = resolve("mail.example.org", 993, allow_private=False, resolver=_resolver("8.8.8.8"))
    assert public[0][3] == ("8.8.8.8", 993)


def test_localhost_is_refused_by_what_it_resolves_to():
    with pytest.raises(HostRefused, match="local or private network address"):
        resolve("localhost", 143, allow_private=False)


def test_an_unknown_name_is_a_clear_error():
    with pytest.raises(HostRefused, match="was not found"):
        resolve("no-such-host.invalid", 143, allow_private=False)


def test_a_deadline_has_passed_once_its_time_is_up_even_before_its_timer_fires():
    """Under load a socket timeout (set to the time remaining) can fire just before the timer
    that cuts the sockets: the connection test must still say the deadline passed."""
    from watcher.netguard import Deadline

    spent = Deadline(0.0)  # never entered: its timer never runs
    assert spent.passed and not spent.expired
    assert not Deadline(60.0).passed
