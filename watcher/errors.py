"""Every domain error, with a message a user can read.

Transient errors are worth retrying (a server fault, a dropped connection); permanent ones need a
person (a wrong password, a revoked token). HTTP faces map `status_code` straight to a response.
"""


class ReplywatchError(Exception):
    """Base of every error Replywatch raises on purpose; `str(e)` is safe to show a user."""

    status_code = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TransientError(ReplywatchError):
    """Worth retrying later: the same call may succeed."""

    status_code = 503


class PermanentError(ReplywatchError):
    """Retrying will not help until something is fixed by a person."""

    status_code = 400


class ValidationError(PermanentError):
    """Bad input from a user: a malformed date, an unknown option."""

    status_code = 400


class NotFoundError(PermanentError):
    status_code = 404


class ConflictError(PermanentError):
    """The request clashes with what is stored (e.g. a follow-up already on that thread)."""

    status_code = 409


class MailboxUnavailable(TransientError):
    """The mail server could not be reached or dropped the connection."""


class AuthFailed(PermanentError):
    """The mail server refused the credentials (wrong password, revoked token)."""

    status_code = 401


class MailboxProtocolError(PermanentError):
    """The server answered in a way we cannot use (missing Sent folder, refused command)."""


class SendRejected(PermanentError):
    """The SMTP server refused the bump outright (sender or every recipient refused)."""


class SendUnconfirmed(ReplywatchError):
    """The connection broke after the message was handed over: it may or may not have gone out.

    Never retried automatically: a second bump is worse than a missing one.
    """


class CryptoError(PermanentError):
    """A stored secret cannot be decrypted with any configured key."""
