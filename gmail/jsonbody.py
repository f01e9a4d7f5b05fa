"""Request bodies from Google (add-on events, Pub/Sub pushes) as JSON, refused when too deep.

Python's json module recurses once per nesting level: `[` x 50,000 raised RecursionError, which
no caller expected (HTTP 500). Real events nest about 8 levels; past MAX_DEPTH the body is
refused as bad input before it is parsed.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

MAX_DEPTH = 64
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


class BadJson(ValueError):
    pass


def load_json(body: bytes | str) -> Any:
    """The parsed body; BadJson (a ValueError) if it is not JSON or nests past MAX_DEPTH."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise BadJson("the body is not UTF-8") from None
    if nesting(text) > MAX_DEPTH:
        raise BadJson(f"the JSON nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BadJson("the body is not JSON") from None


def nesting(text: str) -> int:
    """The deepest bracket nesting outside strings (an upper bound for malformed text)."""
    steps = (1 if b in "[{" else -1 for b in _BRACKET.findall(_STRING.sub("", text)))
    return max(itertools.accumulate(steps, initial=0))
