"""What an IMAP/SMTP account connects with: servers, ports, security, user names, passwords
and timeouts, read once from AccountSpec.settings, the secret and Config."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from watcher.imap.constants import DEFAULT_PORTS, SECURITY
from watcher.mailbox import AccountSpec


@dataclass(frozen=True)
class ServerSettings:
    imap_security: str
    smtp_security: str
    imap_host: str
    imap_port: int
    imap_username: str
    smtp_host: str
    smtp_port: int
    smtp_username: str
    save_sent: str  # auto | always | never: whether send() appends a copy to Sent
    imap_timeout: float
    smtp_timeout: float
    imap_password: str = field(repr=False)
    smtp_password: str = field(repr=False)

    @classmethod
    def from_spec(cls, spec: AccountSpec, config: Any) -> ServerSettings:
        s = spec.settings
        imap_security = security_of(s.get("imap_security", "ssl"), "imap_security")
        smtp_security = security_of(s.get("smtp_security", "starttls"), "smtp_security")
        imap_host = s["imap_host"]
        imap_port = int(s.get("imap_port") or DEFAULT_PORTS["imap"][imap_security])
        imap_username = s.get("imap_username") or spec.email
        smtp_host = s.get("smtp_host") or imap_host
        smtp_port = int(s.get("smtp_port") or DEFAULT_PORTS["smtp"][smtp_security])
        smtp_username = s.get("smtp_username") or imap_username
        save_sent = s.get("save_sent", "auto")
        if save_sent not in ("auto", "always", "never"):
            raise ValueError(f"save_sent must be auto, always or never, not {save_sent!r}")
        imap_password, smtp_password = passwords_of(spec.secret)
        return cls(
            imap_security=imap_security,
            smtp_security=smtp_security,
            imap_host=imap_host,
            imap_port=imap_port,
            imap_username=imap_username,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_username=smtp_username,
            save_sent=save_sent,
            imap_timeout=float(config.imap_timeout),
            smtp_timeout=float(config.smtp_timeout),
            imap_password=imap_password,
            smtp_password=smtp_password,
        )


def security_of(value: str, name: str) -> str:
    value = (value or "").lower()
    if value not in SECURITY:
        raise ValueError(f"{name} must be one of {', '.join(SECURITY)}, not {value!r}")
    return value


def passwords_of(secret: str) -> tuple[str, str]:
    """(imap_password, smtp_password) from the JSON secret; a bare string serves both."""
    try:
        data = json.loads(secret)
    except (TypeError, ValueError):
        data = None
    if not isinstance(data, dict):
        return secret, secret
    imap_pw = data.get("imap_password") or data.get("password") or ""
    return imap_pw, data.get("smtp_password") or imap_pw
