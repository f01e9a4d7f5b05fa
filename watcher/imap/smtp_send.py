"""Sending a bump over SMTP exactly once, and keeping its copy in Sent.

The point of no return is the final "." of DATA: send() asks `before_commit` just before it,
and a connection that breaks after it raises SendUnconfirmed. The SMTP session of one pass is
kept for its next bump (RSET shows whether it is still good).
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
from collections.abc import Callable
from typing import Any

from watcher import netguard
from watcher.errors import MailboxUnavailable, ReplywatchError, SendRejected, SendUnconfirmed
from watcher.evidence import receipt_address
from watcher.imap.connection import ImapConnection, tls_context
from watcher.imap.constants import APPENDUID, SEEN, SENT
from watcher.imap.faults import (
    as_bytes,
    clip,
    describe_os_error,
    map_error,
    plain_text,
    smtp_refusal,
)
from watcher.imap.reading import ImapReader
from watcher.imap.settings import ServerSettings
from watcher.mailbox import Bump

log = logging.getLogger(__name__)


class SmtpSender:
    """The sending half of ImapMailbox: SMTP for the bump, its IMAP connection and reader for
    the copy in Sent. `receipts` is the mailbox's own set (see watcher.evidence)."""

    def __init__(
        self,
        settings: ServerSettings,
        opener: Callable[..., Any],
        conn: ImapConnection,
        reader: ImapReader,
        email: str,
        send_evidence: str,
        receipts: set[str],
    ):
        self.settings = settings
        self.opener = opener
        self.conn = conn
        self.reader = reader
        self.email = email
        self.send_evidence = send_evidence
        self.receipts = receipts
        self._smtp: smtplib.SMTP | None = None  # kept across the bumps of one pass

    def close(self) -> None:
        """QUIT the pass's session, if one is open."""
        if self._smtp is not None:
            quit_quietly(self._smtp)
            self._smtp = None

    def send(self, bump: Bump, before_commit: Callable[[], Any] | None = None) -> str:
        where = f"{self.settings.smtp_host}:{self.settings.smtp_port}"
        smtp = self._smtp_session()
        self._smtp = None  # owned by this send until it ends well
        in_data = False
        try:
            code, text = self._smtp_step(smtp, "MAIL FROM", smtp.mail, bump.sender)
            if code != 250:
                raise smtp_refusal(code, f"{where} refused the sender {bump.sender}", text)
            refused = {}
            for rcpt in bump.recipients:
                code, text = self._smtp_step(smtp, "RCPT TO", smtp.rcpt, rcpt)
                if code not in (250, 251):
                    refused[rcpt] = (code, text)
            if refused and len(refused) == len(bump.recipients):
                names = ", ".join(refused)
                code, text = next(iter(refused.values()))
                if all(400 <= c < 500 for c, _ in refused.values()):
                    raise MailboxUnavailable(
                        clip(f"{where} deferred every recipient ({names}): {code} {text}")
                    )
                raise SendRejected(
                    clip(f"{where} refused every recipient ({names}): {code} {text}")
                )
            if refused:
                log.warning(
                    "%s refused some recipients of %s: %s",
                    where,
                    bump.message_id,
                    ", ".join(f"{r} ({c})" for r, (c, _) in refused.items()),
                )
            self._ask_for_receipt(smtp, bump)
            # DATA as smtplib does it, split before the final "." so that the point of no
            # return is as late as it can be: until the dot, the server discards the message
            # if we die, so a crash before it is safely retried; only a crash between marking
            # and the dot (microseconds) or after it (delivered) leaves the bump unconfirmed.
            code, text = self._smtp_step(smtp, "DATA", smtp.docmd, "data")
            if code != 354:
                raise smtp_refusal(code, f"{where} did not take {bump.message_id}", text)
            in_data = True  # from here an abort must drop the line: a QUIT would be message text
            try:
                smtp.send(_dot_stuffed(bump.raw))
            except Exception as exc:
                raise (map_error(self.settings, exc, "SMTP", "DATA") or exc) from None
            if before_commit is not None:
                before_commit()
            try:
                smtp.send(b".\r\n")
                code, text = smtp.getreply()
                text = plain_text(text)
            except (OSError, smtplib.SMTPException) as exc:
                reason = describe_os_error(exc, self.settings.smtp_timeout)
                raise SendUnconfirmed(
                    f"the connection to {where} broke while sending {bump.message_id} "
                    f"({reason}): it may or may not have gone out"
                ) from None
            in_data = False
            if code != 250:
                raise smtp_refusal(code, f"{where} did not accept {bump.message_id}", text)
        except BaseException:
            if in_data:
                smtp.close()  # the server discards a message whose final "." never came
            else:
                quit_quietly(smtp)
            raise
        self._smtp = smtp  # a clean session: the next bump of this pass reuses it
        return self._keep_sent_copy(bump)

    def _ask_for_receipt(self, smtp: smtplib.SMTP, bump: Bump) -> None:
        """The user's own receipt plus-address as one more envelope recipient (never a header):
        its delivered copy later proves the server took the message (watcher.evidence)."""
        self.receipts.discard(bump.message_id)
        if self.send_evidence != "receipt" or not bump.message_id.startswith("<rw."):
            return  # only bumps, which the engine settles by evidence
        address = receipt_address(self.email)
        code, _ = self._smtp_step(smtp, "RCPT TO", smtp.rcpt, address)
        if code in (250, 251):
            self.receipts.add(bump.message_id)
        else:  # no receipt for this one: an unsure hand-over of it is asked about
            log.warning(
                "%s refused the receipt address of %s: %s",
                self.settings.smtp_host,
                bump.message_id,
                code,
            )

    def _smtp_session(self) -> smtplib.SMTP:
        """The pass's SMTP session if it is still good (RSET answers), else a new one."""
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            try:
                if smtp.rset()[0] == 250:
                    return smtp
            except (OSError, smtplib.SMTPException):
                pass
            with contextlib.suppress(Exception):
                smtp.close()
        return self.connect()

    def _keep_sent_copy(self, bump: Bump) -> str:
        """A copy in Sent per save_sent; trouble here is logged, never a failed send."""
        fallback = "smtp:" + bump.message_id
        if self.settings.save_sent == "never":
            return fallback
        try:
            with self.conn.session("keep a copy in Sent") as c:
                if self.settings.save_sent == "auto":
                    hits = self.reader.by_message_id(c, SENT, bump.message_id)
                    if hits:  # the server filed it itself (Gmail does)
                        return hits[0][1].ref
                name = self.conn.folder_names(c)[SENT]
                response = as_bytes(c.append(name, bump.raw, flags=[SEEN]))
                match = APPENDUID.search(response)
                if match:
                    return f"{SENT}/{int(match.group(1))}/{int(match.group(2))}"
                hits = self.reader.by_message_id(c, SENT, bump.message_id)
                return hits[-1][1].ref if hits else fallback
        except ReplywatchError as exc:
            log.warning("sent %s but could not keep a copy in Sent: %s", bump.message_id, exc)
            return fallback

    def connect(self) -> smtplib.SMTP:
        smtp = None
        try:
            context = tls_context() if self.settings.smtp_security != "none" else None
            if self.settings.smtp_security == "ssl":
                smtp = netguard.GuardedSMTPSSL(
                    self.settings.smtp_host,
                    self.settings.smtp_port,
                    timeout=self.settings.smtp_timeout,
                    context=context,
                    opener=self.opener,
                )
            else:
                smtp = netguard.GuardedSMTP(
                    self.settings.smtp_host,
                    self.settings.smtp_port,
                    timeout=self.settings.smtp_timeout,
                    opener=self.opener,
                )
            smtp.ehlo()
            if self.settings.smtp_security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.settings.smtp_username:
                smtp.login(self.settings.smtp_username, self.settings.smtp_password)
            return smtp
        except Exception as exc:
            if smtp is not None:
                with contextlib.suppress(Exception):
                    smtp.close()
            err = map_error(self.settings, exc, "SMTP", "connect")
            if err is None:
                raise
            raise err from None

    def _smtp_step(self, smtp: smtplib.SMTP, what: str, fn: Callable, *args) -> tuple[int, str]:
        """One SMTP command before DATA: nothing was handed over yet, so errors are plain."""
        try:
            code, text = fn(*args)
        except Exception as exc:
            err = map_error(self.settings, exc, "SMTP", what)
            if err is None:
                raise
            raise err from None
        return code, plain_text(text)


def _dot_stuffed(raw: bytes) -> bytes:
    """The message body as DATA carries it (RFC 5321 4.5.2), without the final "." line."""
    body = re.sub(rb"(?m)^\.", b"..", raw)
    return body if body.endswith(b"\r\n") else body + b"\r\n"


def quit_quietly(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except Exception:  # the send already succeeded or failed by now
        with contextlib.suppress(Exception):
            smtp.close()
