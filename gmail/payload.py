"""A Gmail API `payload` (messages.get format=full) back to MIME bytes, for headers.body_text.

Pure. format=full gives the message as a tree of parts: headers per part, text parts' content
base64url-encoded in `body.data`, and for attachments only `body.attachmentId` (the content
stays on Google's side; developers.google.com/gmail/api/reference/rest/v1/users.messages
#MessagePart and #MessagePartBody). Rebuilding the tree as a MIME message (attachments left
empty, every leaf re-emitted as 8bit) lets the Gmail mailbox read the start of a body exactly
the way the IMAP mailbox does, while a big attachment is never transferred.
"""

from __future__ import annotations

import base64
import email.message

_SKIP = {"content-transfer-encoding", "content-length"}


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _boundary(part: dict) -> str:
    for h in part.get("headers", []):
        if h.get("name", "").lower() == "content-type":
            msg = email.message.Message()
            msg["Content-Type"] = h.get("value", "")
            found = msg.get_param("boundary")
            if isinstance(found, str) and found:
                return found
    return f"=_rw_{part.get('partId') or 'top'}_"


def to_mime(part: dict) -> bytes:
    """MIME bytes of one payload part (the whole message for the top-level payload)."""
    headers = [
        (h.get("name", ""), h.get("value", ""))
        for h in part.get("headers", [])
        if h.get("name", "").lower() not in _SKIP
    ]
    children = part.get("parts") or []
    mime = part.get("mimeType", "")
    if children and mime.startswith("multipart/"):
        boundary = _boundary(part)
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", f'{mime}; boundary="{boundary}"'))
        body = b"".join(
            b"--" + boundary.encode() + b"\r\n" + to_mime(c) + b"\r\n" for c in children
        )
        body += b"--" + boundary.encode() + b"--\r\n"
    elif children:  # message/rfc822: the inner message is its one child
        body = to_mime(children[0])
    else:
        data = (part.get("body") or {}).get("data")
        body = _b64url(data) if data else b""  # an attachment (attachmentId): left empty
        headers.append(("Content-Transfer-Encoding", "8bit"))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers).encode("utf-8", errors="replace")
    return head + b"\r\n" + body
