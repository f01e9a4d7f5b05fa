"""What tells, after a broken-off SMTP hand-over, whether a bump went out.

SMTP cannot say: a watcher killed between the message's last line and the server's "250" does
not know whether the server took it. The world can. Each account has one kind of evidence
(`settings["send_evidence"]`, from its provider preset, or `--send-evidence`):

- "receipt": the bump's SMTP envelope also names the user's own plus-address
  `local+rw-receipt@domain` (the envelope only, never a header: recipients see nothing). If the
  server accepted the message, that copy is delivered to the user's mailbox; the watcher files
  it away on arrival (watcher.triggers.receipt) and looks for the bump's Message-ID among the
  arrived copies (INBOX, Archive, Replywatch/Filed). Needs plus-addressing at the provider.
- "sent": the provider's SMTP server files every message it accepts in Sent itself (Gmail), so
  the Sent copy is the evidence; a self-addressed copy would be de-duplicated against it.
- "none": no evidence can exist (unknown server, receipts turned off): an unsure hand-over is
  shown as unconfirmed and the user says whether it arrived, as before.

With evidence, a copy found means sent; none found within the grace (REPLYWATCH_RECEIPT_GRACE_
SECONDS, default 10 minutes, counted from the hand-over) means the server dropped it, and it is
sent again with the same Message-ID. A delivery slower than the grace is the remaining risk of
a second bump; the grace is the operator's knob for it.

What providers do with a self-addressed envelope copy (sources in the README, "Operating it
for others"): Gmail's SMTP files the message in Sent and suppresses a second copy with the same
Message-ID; Fastmail, Exchange Online / Outlook.com (plus-addressing on by default since May
2022, an organisation can turn it off) and iCloud (plus addresses receive-only) take
plus-addresses; Dovecot delivers `user+tag@` when its MTA and `recipient_delimiter` split it.
"""

from __future__ import annotations

RECEIPT_TAG = "rw-receipt"
KINDS = ("receipt", "sent", "none")
# By SMTP host, for accounts whose settings do not say (made before presets said it).
BY_SMTP_HOST = {
    "smtp.gmail.com": "sent",
    "smtp.fastmail.com": "receipt",
    "smtp.office365.com": "receipt",
    "smtp-mail.outlook.com": "receipt",
    "smtp.mail.me.com": "receipt",
}


def receipt_address(email: str) -> str:
    """you@example.org -> you+rw-receipt@example.org"""
    local, _, domain = email.strip().rpartition("@")
    local = local.split("+", 1)[0]
    return f"{local}+{RECEIPT_TAG}@{domain}".lower()


def evidence_for(settings: dict | None) -> str:
    settings = settings or {}
    kind = settings.get("send_evidence")
    if kind in KINDS:
        return kind
    return BY_SMTP_HOST.get(str(settings.get("smtp_host", "")).lower(), "none")
