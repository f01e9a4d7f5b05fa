"""Names the IMAP modules share: folder roles (as refs and cursors name them), FETCH items,
flags and SPECIAL-USE attributes, and the sizes of chunks and reads."""

from __future__ import annotations

import re

from watcher.headers import SUMMARY_FIELDS
from watcher.mailbox import BODY_READ_LIMIT, BUMPS_FOLDER, FILED_FOLDER, TRIGGER_FOLDERS

INBOX, SENT, ALL = "INBOX", "Sent", "All"  # folder roles, as used in refs and cursors
DRAFTS, ARCHIVE, FILED = "Drafts", "Archive", "Filed"
# logical trigger folder -> its role; the roles are what refs and cursors name
TRIGGER_ROLES: dict[str, str] = {
    **{logical: "Trigger" + spec for logical, spec in TRIGGER_FOLDERS.items()},
    BUMPS_FOLDER: "Bumps",
}
LOGICAL_NAMES: dict[str, str] = {
    **{role: logical for logical, role in TRIGGER_ROLES.items()},
    FILED: FILED_FOLDER,
}
# The folders a sent message is moved into to get a follow-up (not Bumps: drafts go there).
SENT_TRIGGER_ROLES = frozenset(TRIGGER_ROLES[logical] for logical in TRIGGER_FOLDERS)
CORE_ROLES = (INBOX, SENT)  # a change of these resets the cursor; of the others, a baseline
CURSOR_VERSION = 1
SECURITY = ("ssl", "starttls", "none")
DEFAULT_PORTS = {
    "imap": {"ssl": 993, "starttls": 143, "none": 143},
    "smtp": {"ssl": 465, "starttls": 587, "none": 25},
}
HEADER_ITEM = b"BODY.PEEK[HEADER.FIELDS (" + " ".join(SUMMARY_FIELDS).encode() + b")]"
FETCH_CHUNK = 200  # uids per FETCH
REPORT_BODY_ITEM = b"BODY.PEEK[]<0.262144>"  # enough of a bounce to find the original's id
# The start of a message to judge (with_text, and possible auto-replies): its first text part.
TEXT_BODY_ITEM = b"BODY.PEEK[]<0.%d>" % BODY_READ_LIMIT
SEARCH_CHUNK = 10  # message ids per SEARCH (3 HEADER criteria each)
# Flags and SPECIAL-USE attributes (RFC 3501, RFC 6154).
SEEN, FLAGGED, SENT_USE, ALL_USE = b"\\Seen", b"\\Flagged", b"\\Sent", b"\\All"
DELETED, DRAFT = b"\\Deleted", b"\\Draft"
DRAFTS_USE, ARCHIVE_USE = b"\\Drafts", b"\\Archive"
BODY_ITEM = b"BODY.PEEK[]<0.262144>"  # message_text(): enough for the readable start
LOOKUP_CAP = 1000  # newest UIDs per folder that recent_sent()/messages_from() look at
APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.I)
COPYUID = re.compile(rb"\[COPYUID (\d+) \S+ (\d+)\]", re.I)
