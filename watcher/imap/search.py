"""Pure: IMAP SEARCH criteria, and what is safe to put in them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from watcher.headers import MSGID_RE


def searchable_address(address: str) -> bool:
    """A bare address safe to put in a SEARCH / Gmail query (no spaces, quotes, parens)."""
    return bool(
        re.fullmatch(r"[^\s\"()<>@]+@[^\s\"()<>@]+", address)
        and address.isascii()
        and address.isprintable()
    )


def usable_ids(ids: Iterable[str]) -> list[str]:
    """Well-formed, printable-ASCII "<...>" ids (safe to put in an IMAP quoted string)."""
    return sorted(
        i for i in set(ids) if MSGID_RE.fullmatch(i or "") and i.isascii() and i.isprintable()
    )


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def thread_criteria(ids: Sequence[str]) -> str:
    """One SEARCH key matching any message that names any of `ids` (balanced OR tree)."""
    terms = [
        f"HEADER {field} {quote(i)}"
        for i in ids
        for field in ("Message-ID", "In-Reply-To", "References")
    ]

    def tree(ts: Sequence[str]) -> str:
        if len(ts) == 1:
            return ts[0]
        mid = len(ts) // 2
        return f"OR ({tree(ts[:mid])}) ({tree(ts[mid:])})"

    return tree(terms)
