"""MailWorld: people with mailboxes on Dovecot who write to each other through the SMTP sink."""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import itertools
import json
import re
import secrets
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage

from imapclient import IMAPClient

from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpSink
from watcher.mailbox import AccountSpec

_counter = itertools.count(1)  # unique addresses across the whole test session
_MSGID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class User:
    email: str
    password: str
    name: str = ""

    def __str__(self) -> str:
        return self.email


class MailWorld:
    domain = "example.test"

    def __init__(self, dovecot: Dovecot, sink: SmtpSink, clock=None):
        self.dovecot = dovecot
        self.sink = sink
        # The test's clock: mail is dated by it, so a test that fixes "now" gets mail of its day.
        self.clock = clock

    def _date(self) -> str:
        if self.clock is None:
            return email.utils.formatdate(localtime=False)
        return email.utils.format_datetime(self.clock())

    # -- people ----------------------------------------------------------------------------

    def new_user(self, name: str = "user") -> User:
        """A fresh mailbox, e.g. alice-7@example.test, known to Dovecot and to the sink."""
        address = f"{name.lower()}-{next(_counter)}@{self.domain}"
        user = User(address, "pw-" + secrets.token_hex(6), name.capitalize())
        self.dovecot.add_user(user.email, user.password)
        if self.sink.users is not self.dovecot.users:
            self.sink.users[user.email] = user.password
        return user

    def imap_settings(self, user: User) -> tuple[dict, str]:
        """(settings, password) for an ImapMailbox of this user, on Dovecot + the sink."""
        return self.dovecot.imap_settings(user.email, smtp=(self.sink.host, self.sink.port))

    def account_spec(self, user: User, **overrides) -> AccountSpec:
        settings, password = self.imap_settings(user)
        settings.update(overrides)
        secret = json.dumps({"imap_password": password, "smtp_password": password})
        return AccountSpec(kind="imap", email=user.email, settings=settings, secret=secret)

    # -- mail ------------------------------------------------------------------------------

    def send(
        self,
        from_user: User,
        to: Iterable[User | str],
        subject: str,
        body: str = "",
        *,
        cc: Iterable[User | str] = (),
        bcc: Iterable[User | str] = (),
        in_reply_to: str | None = None,
        references: Iterable[str] = (),
        extra_headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
        date: str | None = None,
    ) -> str:
        """Submit a message over SMTP (delivered to Dovecot recipients) and keep it in Sent.

        `bcc` (e.g. the sender's own plus-address "alice-3+2w@example.test") is in the envelope
        and in the Bcc header of the Sent copy only, as mail clients do; the sink delivers a
        plus-address to its base mailbox with a Delivered-To header."""
        to, cc, bcc = list(to), list(cc), list(bcc)
        to_addrs = [str(a) for a in to]
        cc_addrs = [str(a) for a in cc]
        bcc_addrs = [str(a) for a in bcc]
        msg = EmailMessage()
        msg["From"] = email.utils.formataddr((from_user.name, from_user.email))
        msg["To"] = ", ".join(_named(a) for a in to)
        if cc_addrs:
            msg["Cc"] = ", ".join(_named(a) for a in cc)
        msg["Subject"] = subject
        msg["Date"] = date or self._date()
        message_id = message_id or email.utils.make_msgid(domain=self.domain)
        msg["Message-ID"] = message_id
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
        refs = list(references)
        if refs:
            msg["References"] = " ".join(refs)
        for name, value in (extra_headers or {}).items():
            msg[name] = value
        msg.set_content(body or "(no body)\n")
        raw = msg.as_bytes(policy=email.policy.SMTP)
        with smtplib.SMTP(self.sink.host, self.sink.port, timeout=10) as s:
            s.login(from_user.email, from_user.password)
            s.sendmail(from_user.email, to_addrs + cc_addrs + bcc_addrs, raw)
        if bcc_addrs:
            msg["Bcc"] = ", ".join(_named(a) for a in bcc)
            raw = msg.as_bytes(policy=email.policy.SMTP)
        with self._imap(from_user) as c:
            c.append("Sent", raw, flags=[b"\\Seen"])
        return message_id

    def deliver(self, user: User, raw: bytes | str, folder: str = "INBOX", flags=()) -> int:
        """Drop a hand-written message (an out-of-office, a bounce, a draft) into a folder.

        `folder` is a logical name with "/" between levels ("Replywatch/1 week"): it is mapped
        to the server's hierarchy delimiter and namespace prefix (folder_name) and created if
        missing. `flags` e.g. [b"\\Draft"] or ["\\Seen"]. Returns the new message's UID.
        """
        if isinstance(raw, str):
            raw = raw.replace("\r\n", "\n").replace("\n", "\r\n").encode()
        with self._imap(user) as c:
            name = self._ensure_folder(c, folder)
            response = c.append(name, raw, flags=[_flag(f) for f in flags])
        found = re.search(rb"APPENDUID \d+ (\d+)", response if isinstance(response, bytes) else b"")
        return int(found.group(1)) if found else 0

    def save_draft(
        self,
        user: User,
        to: Iterable[User | str],
        subject: str,
        body: str = "",
        *,
        folder: str = "Drafts",
        cc: Iterable[User | str] = (),
        bcc: Iterable[User | str] = (),
        in_reply_to: str | None = None,
        references: Iterable[str] = (),
        message_id: str | None = None,
    ) -> str:
        """The user's mail client saves a draft (flag \\Draft) in `folder` (logical name, e.g.
        "Replywatch/Bumps" or "Drafts"); nothing is sent. Returns its Message-ID."""
        msg = EmailMessage()
        msg["From"] = email.utils.formataddr((user.name, user.email))
        msg["To"] = ", ".join(_named(a) for a in to)
        if list(cc):
            msg["Cc"] = ", ".join(_named(a) for a in cc)
        if list(bcc):
            msg["Bcc"] = ", ".join(_named(a) for a in bcc)
        msg["Subject"] = subject
        msg["Date"] = self._date()
        message_id = message_id or email.utils.make_msgid(domain=self.domain)
        msg["Message-ID"] = message_id
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
        refs = list(references)
        if refs:
            msg["References"] = " ".join(refs)
        msg.set_content(body or "(no body)\n")
        self.deliver(
            user, msg.as_bytes(policy=email.policy.SMTP), folder, flags=[b"\\Draft", b"\\Seen"]
        )
        return message_id

    def move(self, user: User, message_id: str, to_folder: str, from_folder: str = "Sent") -> None:
        """Move the message with this Message-ID between folders (logical names), as a user
        dragging it does, e.g. a sent message into "Replywatch/1 week". `to_folder` is created
        if missing. Raises LookupError if the message is not in `from_folder`."""
        with self._imap(user) as c:
            source = _server_name(c, from_folder)
            target = self._ensure_folder(c, to_folder)
            c.select_folder(source)
            uids = c.search(["HEADER", "Message-ID", message_id])
            if not uids:
                raise LookupError(f"{message_id} is not in {user}'s {from_folder}")
            c.move(uids, target)

    def folder_name(self, user: User, logical: str) -> str:
        """The server's name of a logical folder ("Replywatch/1 week"): "/" becomes the
        hierarchy delimiter, and the personal namespace prefix (e.g. "INBOX.") is put before
        it when the server's Sent folder has one. INBOX stays INBOX."""
        with self._imap(user) as c:
            return _server_name(c, logical)

    def folders(self, user: User) -> list[str]:
        """Every folder name of the user's mailbox, as the server spells it."""
        with self._imap(user) as c:
            return [name for _, _, name in c.list_folders()]

    def _ensure_folder(self, c: IMAPClient, logical: str) -> str:
        name = _server_name(c, logical)
        if not c.folder_exists(name):
            c.create_folder(name)
        return name

    def messages(self, user: User, folder: str = "INBOX") -> list[EmailMessage]:
        """Every message in the folder, oldest first, parsed (read without setting \\Seen)."""
        with self._imap(user) as c:
            c.select_folder(folder, readonly=True)
            uids = c.search(["ALL"])
            if not uids:
                return []
            data = c.fetch(uids, [b"BODY.PEEK[]"])
        parser = email.parser.BytesParser(policy=email.policy.default)
        return [parser.parsebytes(data[uid][b"BODY[]"]) for uid in sorted(data)]

    def flags(self, user: User, folder: str, message_id: str) -> set[str]:
        """Flags (e.g. {"\\Seen", "\\Flagged"}) of the message with this Message-ID in folder.

        \\Recent is left out: it belongs to an IMAP session, not to the message.

        Raises LookupError if no such message is there; with several copies, their union.
        """
        with self._imap(user) as c:
            c.select_folder(folder, readonly=True)
            uids = c.search(["HEADER", "Message-ID", message_id])
            if not uids:
                raise LookupError(f"{message_id} is not in {user}'s {folder}")
            data = c.fetch(uids, [b"FLAGS", b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        out: set[str] = set()
        for item in data.values():
            header = next(v for k, v in item.items() if k.startswith(b"BODY[HEADER"))
            if message_id.encode() in header:
                out.update(f.decode() for f in item[b"FLAGS"] if f.lower() != b"\\recent")
        return out

    def count(self, user: User, folder: str, message_id: str) -> int:
        """How many messages with this Message-ID the folder holds."""
        return sum(
            1
            for m in self.messages(user, folder)
            if _MSGID.findall(str(m.get("Message-ID", ""))) == [message_id]
        )

    def _imap(self, user: User) -> IMAPClient:
        c = IMAPClient(self.dovecot.host, self.dovecot.port, ssl=False, timeout=10)
        c.login(user.email, user.password)
        return c


def _server_name(c: IMAPClient, logical: str) -> str:
    if logical.upper() == "INBOX":
        return "INBOX"
    folders = c.list_folders()
    delimiter = next((_text(d) for _, d, _ in folders if d), "/")
    prefix = ""
    for flags, _, name in folders:
        if b"\\Sent" in flags and name.upper().startswith("INBOX" + delimiter):
            prefix = name[: len("INBOX") + len(delimiter)]
    return prefix + logical.replace("/", delimiter)


def _flag(flag: bytes | str) -> bytes:
    return flag if isinstance(flag, bytes) else flag.encode()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _named(who: User | str) -> str:
    """'Bob <bob-3@example.test>' for a User (as mail clients write it), as given otherwise."""
    return email.utils.formataddr((who.name, who.email)) if isinstance(who, User) else who
