"""The IDLE conversation (RFC 2177) of one connection, as bytes in and bytes out.

No sockets here: the multiplexer (idle_mux.py) reads whatever a socket has, feeds it in and
sends what comes back. That keeps the multiplexer thin and lets this part be tested alone.

    start()  ->  "RW1 IDLE"            state "starting", until the server's "+ idling"
    "+ ..."  ->  event READY           state "idling": untagged EXISTS / RECENT -> event NEWS
    renew()  ->  "DONE"                state "ending", until "RW1 OK"; then "RW2 IDLE" again
    "* BYE", a NO/BAD to our command, or a line too long  ->  event DROPPED (reconnect)
"""

from __future__ import annotations

import re

NEWS, READY, DROPPED = "news", "ready", "dropped"
MAX_LINE = 64 * 1024  # an untagged line longer than this is a broken or hostile server
_LITERAL = re.compile(rb"\{(\d+)\+?\}$")


class IdleSession:
    def __init__(self, tag_prefix: bytes = b"RW"):
        self.state = "new"
        self._prefix = tag_prefix
        self._count = 0
        self._tag = b""
        self._buffer = bytearray()

    def start(self) -> bytes:
        """The IDLE command; the session is idling once the server says "+"."""
        self._count += 1
        self._tag = self._prefix + str(self._count).encode()
        self.state = "starting"
        return self._tag + b" IDLE\r\n"

    def renew(self) -> bytes:
        """End the current IDLE; a new one starts when the server confirms (see feed)."""
        if self.state != "idling":
            return b""
        self.state = "ending"
        return b"DONE\r\n"

    def done(self) -> bytes:
        """What to send before closing: end IDLE politely and log out (no answer awaited)."""
        ending = b"DONE\r\n" if self.state in ("idling", "starting") else b""
        return ending + self._prefix + b"0 LOGOUT\r\n"

    def feed(self, data: bytes) -> tuple[list[tuple[str, str]], bytes]:
        """The events in the lines now complete, and the bytes to send in reply."""
        self._buffer += data
        events: list[tuple[str, str]] = []
        reply = b""
        while (line := self._take_line()) is not None:
            event, send = self._on_line(line)
            if event is not None:
                events.append(event)
            reply += send
        if len(self._buffer) > MAX_LINE:
            events.append((DROPPED, f"a line longer than {MAX_LINE} bytes"))
        return events, reply

    def _take_line(self) -> bytes | None:
        """The next complete line without its literals ({n} + n bytes), or None if the
        server has not sent all of it yet (nothing is consumed then)."""
        pos, head = 0, None
        while True:
            end = self._buffer.find(b"\r\n", pos)
            if end < 0:
                return None
            part = bytes(self._buffer[pos:end])
            head = part if head is None else head
            literal = _LITERAL.search(part)
            if literal is None:
                del self._buffer[: end + 2]
                return head
            pos = end + 2 + int(literal.group(1))
            if pos > len(self._buffer):
                return None

    def _on_line(self, line: bytes) -> tuple[tuple[str, str] | None, bytes]:
        words = line.split(None, 3)
        if not words:
            return None, b""
        if words[0] == b"*":
            return self._untagged(words, line), b""
        if words[0] == b"+":
            if self.state == "starting":
                self.state = "idling"
                return (READY, ""), b""
            return None, b""
        if words[0] != self._tag or len(words) < 2:
            return None, b""  # an answer to a command that is not ours to judge
        status = words[1].upper()
        if status == b"OK" and self.state in ("ending", "idling"):
            return None, self.start()  # ours ended it (renew) or the server did: idle again
        return (DROPPED, f"server answered {line[:200]!r}"), b""

    def _untagged(self, words: list[bytes], line: bytes) -> tuple[str, str] | None:
        if len(words) > 1 and words[1].upper() == b"BYE":
            return DROPPED, f"server said {line[:200]!r}"
        if len(words) > 2 and words[1].isdigit():
            kind = words[2].upper()
            if kind == b"EXISTS" or (kind == b"RECENT" and int(words[1]) > 0):
                return NEWS, kind.decode()
        return None
