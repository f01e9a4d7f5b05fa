"""One account's IMAP session: logged in lazily and kept across passes, with what it learnt
from the server (Gmail's extensions, the folders by SPECIAL-USE, the hierarchy delimiter and
namespace prefix, the selected folder); every library error mapped to ours (faults.py)."""

from __future__ import annotations

import contextlib
import functools
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

from imapclient import IMAPClient

from watcher import netguard
from watcher.errors import MailboxProtocolError, ReplywatchError
from watcher.imap.constants import (
    ALL,
    ALL_USE,
    ARCHIVE,
    ARCHIVE_USE,
    DRAFTS,
    DRAFTS_USE,
    INBOX,
    LOGICAL_NAMES,
    SENT,
    SENT_USE,
)
from watcher.imap.faults import map_error, plain_text
from watcher.imap.settings import ServerSettings

# How long a kept session trusts its folder list (one LIST, about one round trip) before it
# lists again: a session kept for hours must still see a folder the user made or removed.
FOLDERS_KEPT_SECONDS = 900.0
_monotonic = time.monotonic  # tests move it


class ImapConnection:
    """The IMAP session of one mailbox; `opener` makes its sockets (netguard), and
    `count_commands` is called with each new client (ImapMailbox counts its commands)."""

    def __init__(
        self,
        settings: ServerSettings,
        opener: Callable[..., Any],
        count_commands: Callable[[IMAPClient], None],
    ):
        self.settings = settings
        self.opener = opener
        self.count_commands = count_commands
        self._conn: IMAPClient | None = None
        self.gmail = False
        self.folders: dict[str, str] | None = None  # role -> server folder name
        self._delimiter, self._prefix = "/", ""  # from the same LIST as folders
        self.selected: tuple[str, bool] | None = None  # (folder, read-only) now selected
        self._validity = 0  # UIDVALIDITY of the selected folder
        self._probe = False  # a kept session taken up again: NOOP before trusting it
        self._listed_at = 0.0  # monotonic time of the LIST behind `folders`

    def resumed(self) -> None:
        """A session kept from an earlier pass is taken up again (watcher.engine.kept): its
        next use first proves it alive with NOOP, and opens a new one if it is not. The
        folders are listed again now and then: the user may add, rename or delete some."""
        self._probe = self._conn is not None
        if _monotonic() - self._listed_at > FOLDERS_KEPT_SECONDS:
            self.folders = None

    def close(self) -> None:
        """Log out quietly; the next call connects again."""
        conn, self._conn, self.folders, self.selected = self._conn, None, None, None
        if conn is None:
            return
        try:
            conn.logout()
        except Exception:  # closing must never fail
            with contextlib.suppress(Exception):
                conn.shutdown()

    @contextlib.contextmanager
    def session(self, action: str) -> Iterator[IMAPClient]:
        """Yield a logged-in client; map every library error to ours, dropping dead links."""
        try:
            yield self.client()
        except ReplywatchError:
            raise
        except Exception as exc:
            err = map_error(self.settings, exc, "IMAP", action)
            if err is None:
                raise
            if not isinstance(err, MailboxProtocolError):
                self.drop()
            raise err from None

    def idle_connection(self) -> IMAPClient | None:
        """A logged-in connection of its own with INBOX selected read-only, for IDLE (RFC 2177);
        None if the server does not offer IDLE. The caller owns and closes it."""
        with self.session("watch the inbox") as c:
            self._conn = None  # hand it over: this connection will not use it again
            if b"IDLE" not in c.capabilities():
                with contextlib.suppress(Exception):
                    c.logout()
                return None
            c.select_folder("INBOX", readonly=True)
            return c

    def client(self) -> IMAPClient:
        if self._conn is not None and self._probe:
            self._probe = False
            try:  # one round trip, against four or more for a new login
                self._conn.noop()
            except Exception:  # dropped, timed out, logged out by the server: start afresh
                self.drop()
        if self._conn is not None:
            return self._conn
        conn = None
        try:
            context = tls_context() if self.settings.imap_security != "none" else None
            conn = netguard.GuardedIMAPClient(
                self.settings.imap_host,
                self.settings.imap_port,
                ssl=self.settings.imap_security == "ssl",
                ssl_context=context if self.settings.imap_security == "ssl" else None,
                timeout=self.settings.imap_timeout,
                opener=self.opener,
            )
            self.count_commands(conn)
            if self.settings.imap_security == "starttls":
                conn.starttls(context)
            conn.login(self.settings.imap_username, self.settings.imap_password)
            self.gmail = b"X-GM-EXT-1" in conn.capabilities()
        except Exception as exc:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.shutdown()
            err = map_error(self.settings, exc, "IMAP", "connect")
            if err is None:
                raise
            raise err from None
        self._conn = conn
        return conn

    def drop(self) -> None:
        conn, self._conn, self.folders, self.selected = self._conn, None, None, None
        self._probe = False
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.shutdown()

    def folder_names(self, c: IMAPClient) -> dict[str, str]:
        """role -> folder name, from one LIST (SPECIAL-USE flags); cached per connection.

        Also reads the hierarchy delimiter and namespace prefix, and which trigger folders
        (and FILED_FOLDER) exist: only those get a role here.
        """
        if self.folders is None:
            names = {INBOX: "INBOX"}
            listed = c.list_folders()
            uses = ((SENT, SENT_USE), (ALL, ALL_USE), (DRAFTS, DRAFTS_USE), (ARCHIVE, ARCHIVE_USE))
            for flags, _, name in listed:
                lowered = {f.lower() for f in flags}
                for role, use in uses:
                    if role not in names and use.lower() in lowered:
                        names[role] = name
            if SENT not in names:  # no \Sent flag anywhere: imapclient's well-known names
                sent = c.find_special_folder(SENT_USE)
                if sent:
                    names[SENT] = sent
            if SENT not in names:
                raise MailboxProtocolError(
                    f"no Sent folder found on {self.settings.imap_host}: "
                    "the server marks none as \\Sent"
                )
            if self.gmail and ALL not in names:
                raise MailboxProtocolError(f"no All Mail folder found on {self.settings.imap_host}")
            delimiter = next(
                (plain_text(d) for _, d, n in listed if d and n.upper() == "INBOX"), ""
            )
            self._delimiter = delimiter or next((plain_text(d) for _, d, _ in listed if d), "/")
            inbox_child = "INBOX" + self._delimiter
            self._prefix = (
                names[SENT][: len(inbox_child)]
                if names[SENT].upper().startswith(inbox_child.upper())
                else ""
            )
            existing = {name for _, _, name in listed}
            for role, logical in LOGICAL_NAMES.items():
                name = self._prefix + logical.replace("/", self._delimiter)
                if name in existing:
                    names[role] = name
            self.folders = names
            self._listed_at = _monotonic()
        return self.folders

    def server_name(self, c: IMAPClient, logical: str) -> str:
        self.folder_names(c)  # reads the delimiter and the prefix
        return self._prefix + logical.replace("/", self._delimiter)

    def status(self, c: IMAPClient, name: str) -> tuple[int, int]:
        st = c.folder_status(name, [b"UIDVALIDITY", b"UIDNEXT"])
        return int(st[b"UIDVALIDITY"]), int(st[b"UIDNEXT"])

    def select(self, c: IMAPClient, name: str, readonly: bool = True) -> int:
        self.selected = (name, readonly)
        self._validity = int(c.select_folder(name, readonly=readonly)[b"UIDVALIDITY"])
        return self._validity

    def selected_validity(self, c: IMAPClient, name: str) -> int:
        """UIDVALIDITY of `name`, selected read-only; no SELECT if it is selected already (its
        UIDVALIDITY cannot change while selected: RFC 3501 2.3.1.1)."""
        if self.selected == (name, True):
            return self._validity
        return self.select(c, name)

    def unselect(self, c: IMAPClient) -> None:
        """Leave the selected folder: STATUS SHOULD NOT be used on it (RFC 3501 6.3.10)."""
        if self.selected is None:
            return
        name, readonly = self.selected
        if c.has_capability("UNSELECT"):
            c.unselect_folder()
        else:  # CLOSE expunges a read-write folder: make it read-only first
            if not readonly:
                c.select_folder(name, readonly=True)
            c.close_folder()
        self.selected = None

    def search(self, c: IMAPClient, criteria: Any) -> list[int]:
        return sorted(int(u) for u in c.search(criteria))


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying client context per process: loading the CA store costs ~40 ms."""
    return ssl.create_default_context()
