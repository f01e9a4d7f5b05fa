"""ImapMailbox: the Mailbox seam over IMAP (imapclient) and SMTP (smtplib).

Folders are found by SPECIAL-USE (\\Sent; \\All on Gmail; \\Drafts, \\Archive), never by a
hard-coded name. Refs are "<role>/<uidvalidity>/<uid>" with role INBOX, Sent, All, Drafts,
Archive, Filed or a trigger role (Trigger3d, Trigger1w, Trigger2w, Bumps: TRIGGER_ROLES), so a
ref survives a folder rename of Sent but not a UIDVALIDITY change (then it is simply not found).

Trigger folders (mailbox.TRIGGER_FOLDERS, BUMPS_FOLDER, FILED_FOLDER) have logical names with
"/" between levels; on the server "/" becomes the hierarchy delimiter of the LIST answer, after
the personal namespace prefix "INBOX<delimiter>" when the server keeps Sent under INBOX (Courier,
Cyrus style). Both are read from the one LIST a connection makes anyway: no extra command.

Cost: an idle `changes()` is one STATUS per watched folder (INBOX, Sent), whatever the size of
the mailbox; only folders whose UIDNEXT grew are selected, searched and fetched, and only for
the new UIDs. With AccountSpec.trigger_folders on, each trigger folder that exists on the server
and the \\Drafts folder add one STATUS each (so 5 more per idle pass with all of them present);
without it nothing changes. `ImapMailbox.commands` counts every IMAP command sent after the
greeting.

Every exception that leaves this package is a ReplywatchError with a one-line, user-readable
message that never contains a password: see `faults.map_error`.

The package, one job per module (ImapMailbox delegates to the collaborators):
    imap_mailbox.py  ImapMailbox: the Mailbox Protocol, the shared settings and counters
    connection.py    ImapConnection: login, capabilities, folders by SPECIAL-USE, SELECT/STATUS
    reading.py       ImapReader: changes by UID cursor, threads, bodies, lookups
    triggers.py      ImapTriggers: remind, trigger folders, filing away, drafts
    smtp_send.py     SmtpSender: SMTP sending, the point of no return, the copy in Sent
    faults.py        library/socket errors -> ours (map_error), plain one-line text
    settings.py      ServerSettings: servers, ports, security, passwords from the account
    cursor.py, search.py, constants.py   pure: the UID cursor, SEARCH criteria, shared names
"""

from watcher.imap.constants import (
    ALL,
    ARCHIVE,
    CORE_ROLES,
    DEFAULT_PORTS,
    DRAFTS,
    FILED,
    INBOX,
    LOGICAL_NAMES,
    SECURITY,
    SENT,
    SENT_TRIGGER_ROLES,
    TRIGGER_ROLES,
)
from watcher.imap.faults import map_error
from watcher.imap.imap_mailbox import ImapMailbox

__all__ = [
    "ALL",
    "ARCHIVE",
    "CORE_ROLES",
    "DEFAULT_PORTS",
    "DRAFTS",
    "FILED",
    "INBOX",
    "LOGICAL_NAMES",
    "SECURITY",
    "SENT",
    "SENT_TRIGGER_ROLES",
    "TRIGGER_ROLES",
    "ImapMailbox",
    "map_error",
]
