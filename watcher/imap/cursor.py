"""The IMAP cursor: UIDVALIDITY + UIDNEXT per watched folder role, as JSON (see changes())."""

from __future__ import annotations

import json

from watcher.imap.constants import CURSOR_VERSION


def parse_cursor(cursor: str | None) -> dict[str, dict] | None:
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
        if data.get("v") != CURSOR_VERSION:
            return None
        folders = data["folders"]
        for entry in folders.values():
            int(entry["uidvalidity"])
            int(entry["uidnext"])
        return folders
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def moved(old: dict[str, dict], new: dict[str, dict], role: str) -> bool:
    """True if `role` has no usable earlier state: new to the cursor, re-created (UIDVALIDITY)
    or now a different folder (renamed Sent). A role gone from `new` counts as moved."""
    if role not in new or role not in old:
        return True
    was, now = old[role], new[role]
    return (
        int(was["uidvalidity"]) != now["uidvalidity"]
        or was.get("name", now["name"]) != (now["name"])
    )


def dump_cursor(folders: dict[str, dict]) -> str:
    return json.dumps({"v": CURSOR_VERSION, "folders": folders}, sort_keys=True)
