"""One page of a long list on the settings page: `?page=N` read forgivingly."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    number: int  # 1-based, within 1..pages
    pages: int
    total: int
    size: int = PAGE_SIZE

    @classmethod
    def of(cls, total: int, size: int = PAGE_SIZE) -> Page:
        """The page the request asks for; out of range or nonsense: the nearest real one."""
        raw = request.args.get("page", "1")
        pages = max(1, -(-total // size))
        return cls(min(max(_small_number(raw) or 1, 1), pages), pages, total, size)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def _small_number(raw: str) -> int | None:
    """A plain ASCII number of at most 9 digits, else None. str.isdigit() alone lets "²" and
    Arabic-Indic digits through, and a 5,000-digit number is too big for int() or SQL."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None
