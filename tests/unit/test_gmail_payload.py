"""gmail/payload.py: a format=full payload read back the way IMAP reads the raw message."""

from __future__ import annotations

import base64

from gmail.payload import to_mime
from watcher.headers import body_text


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_text_parts_are_read_and_attachments_left_empty():
    payload = {
        "mimeType": "multipart/mixed",
        "headers": [
            {"name": "Subject", "value": "Re: x"},
            {"name": "Content-Type", "value": 'multipart/mixed; boundary="q"'},
        ],
        "parts": [
            {
                "partId": "0",
                "mimeType": "text/plain",
                "headers": [
                    {"name": "Content-Type", "value": "text/plain; charset=utf-8"},
                    {"name": "Content-Transfer-Encoding", "value": "quoted-printable"},
                ],
                "body": {"size": 12, "data": b64("Grüße, Jürgen")},
            },
            {
                "partId": "1",
                "mimeType": "application/pdf",
                "filename": "a.pdf",
                "headers": [{"name": "Content-Type", "value": "application/pdf"}],
                "body": {"size": 300000, "attachmentId": "att.1"},
            },
        ],
    }
    raw = to_mime(payload)
    assert body_text(raw) == "Grüße, Jürgen"
    assert len(raw) < 600


def test_a_delivery_status_leaf_gives_the_fields_first():
    fields = "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; b@x.example\nAction: failed\n"
    payload = {
        "mimeType": "multipart/report",
        "headers": [{"name": "Content-Type", "value": "multipart/report; boundary=r"}],
        "parts": [
            {"partId": "0", "mimeType": "text/plain", "headers": [],
             "body": {"data": b64("It failed.")}},
            {"partId": "1", "mimeType": "message/delivery-status",
             "headers": [{"name": "Content-Type", "value": "message/delivery-status"}],
             "body": {"data": b64(fields)}},
        ],
    }  # fmt: skip
    text = body_text(to_mime(payload))
    assert text.startswith("Final-Recipient: rfc822; b@x.example\nAction: failed")
    assert text.endswith("It failed.")
