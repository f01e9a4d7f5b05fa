"""How a library or socket error of IMAP or SMTP becomes ours: one line, naming the server,
never a password; and the small text helpers that keep a server's words plain and short."""

from __future__ import annotations

import imaplib
import re
import smtplib
import socket
import ssl
from typing import Any

from imapclient import exceptions as imap_errors

from watcher.errors import (
    AuthFailed,
    MailboxProtocolError,
    MailboxUnavailable,
    ReplywatchError,
    SendRejected,
)
from watcher.imap.settings import ServerSettings

# RFC 5530 response codes that mean "try again later" rather than "this will never work".
TRANSIENT_CODES = ("UNAVAILABLE", "INUSE", "SERVERBUG", "LIMIT", "CONTACTADMIN", "OVERQUOTA")


def map_error(
    settings: ServerSettings, exc: BaseException, service: str, action: str
) -> ReplywatchError | None:
    """Our error for a library/socket error, or None if `exc` is not one (a bug: re-raise).

    Messages are one line, name the server and never contain a password.
    """
    imap = service == "IMAP"
    host, port = (
        (settings.imap_host, settings.imap_port)
        if imap
        else (settings.smtp_host, settings.smtp_port)
    )
    where = f"{host}:{port}"
    user = settings.imap_username if imap else settings.smtp_username
    timeout = settings.imap_timeout if imap else settings.smtp_timeout
    err: ReplywatchError | None
    # Before we are logged in, the far end is anybody's: repeat only protocol codes of
    # what it said, never its words (a non-mail service's banner must not come back).
    said = codes_only if action in UNTRUSTED_ACTIONS else plain_text
    if isinstance(exc, imap_errors.LoginError | smtplib.SMTPAuthenticationError):
        err = AuthFailed(f"{service} login refused for {user}: check the user name and password")
    elif isinstance(exc, smtplib.SMTPNotSupportedError):
        err = MailboxProtocolError(f"{where} does not support {action}: {said(exc)}")
    elif isinstance(exc, ssl.SSLCertVerificationError):
        err = MailboxProtocolError(
            f"the TLS certificate of {where} could not be verified: "
            f"{exc.verify_message or exc.reason}"
        )
    elif isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError):
        err = MailboxUnavailable(f"the TLS connection to {where} was cut")
    elif isinstance(exc, ssl.SSLError):
        err = MailboxProtocolError(
            f"TLS with {where} failed ({exc.reason or 'handshake error'}): "
            f"check the port and the security setting"
        )
    elif isinstance(exc, imaplib.IMAP4.abort | smtplib.SMTPServerDisconnected):
        err = MailboxUnavailable(f"the connection to {where} was lost during {action}")
    elif isinstance(exc, imaplib.IMAP4.error | imap_errors.IMAPClientError):
        text = plain_text(exc)
        cls = (
            MailboxUnavailable
            if any(f"[{code}" in text.upper() for code in TRANSIENT_CODES)
            else MailboxProtocolError
        )
        err = cls(f"the IMAP server {host} refused to {action}: {said(exc)}")
    elif isinstance(exc, smtplib.SMTPResponseException):
        err = smtp_refusal(
            exc.smtp_code, f"the SMTP server {host} refused {action}", said(exc.smtp_error)
        )
    elif isinstance(exc, smtplib.SMTPException):
        err = MailboxProtocolError(f"the SMTP server {host} failed during {action}: {said(exc)}")
    elif isinstance(exc, OSError):
        if action == "connect":
            err = MailboxUnavailable(f"cannot reach {where}: {describe_os_error(exc, timeout)}")
        else:
            err = MailboxUnavailable(
                f"the connection to {where} failed during {action}: "
                f"{describe_os_error(exc, timeout)}"
            )
    else:
        return None
    err = type(err)(_scrub(settings, err.message))
    return err


def _scrub(settings: ServerSettings, text: str) -> str:
    for secret in (settings.imap_password, settings.smtp_password):
        if secret:
            text = text.replace(secret, "***")
    return clip(text)


def smtp_refusal(code: int, what: str, text: str) -> ReplywatchError:
    message = clip(f"{what}: {code} {text}")
    return MailboxUnavailable(message) if 400 <= code < 500 else SendRejected(message)


def describe_os_error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "server disconnected"
    return (getattr(exc, "strerror", None) or type(exc).__name__).lower()


def as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def plain_text(value: Any) -> str:
    """A server reply or exception as plain one-line text (no b'...' wrapping)."""
    if isinstance(value, BaseException):
        value = value.args[0] if len(value.args) == 1 else " ".join(map(str, value.args))
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = str(value)
    text = re.sub(r"b'([^']*)'", r"\1", text)
    text = re.sub(r'b"([^"]*)"', r"\1", text)
    return " ".join(text.split())


# Actions before the server has accepted our login: its words are not repeated (codes_only).
UNTRUSTED_ACTIONS = frozenset({"connect", "log in"})
# RFC 5530 response codes (and ALERT, RFC 3501): the only IMAP words shown from such a server.
IMAP_RESPONSE_CODES = frozenset(
    [
        "ALERT",
        "UNAVAILABLE",
        "AUTHENTICATIONFAILED",
        "AUTHORIZATIONFAILED",
        "EXPIRED",
        "PRIVACYREQUIRED",
        "CONTACTADMIN",
        "NOPERM",
        "INUSE",
        "EXPUNGEISSUED",
        "CORRUPTION",
        "SERVERBUG",
        "CLIENTBUG",
        "CANNOT",
        "LIMIT",
        "OVERQUOTA",
        "ALREADYEXISTS",
        "NONEXISTENT",
    ]
)
_ENHANCED_STATUS = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")  # RFC 3463: 5.7.8


def codes_only(value: Any) -> str:
    """A short, sanitised reason: the IMAP response codes and SMTP enhanced status codes the
    text carries, nothing else of it."""
    text = plain_text(value)
    codes = [c for c in re.findall(r"\[([A-Z]+)", text.upper()) if c in IMAP_RESPONSE_CODES]
    codes += _ENHANCED_STATUS.findall(text)
    return " ".join(f"[{c}]" if c in IMAP_RESPONSE_CODES else c for c in codes[:3]) or (
        "no usable answer"
    )


def clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
