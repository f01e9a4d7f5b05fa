"""A small threaded HTTP server base shared by the Google emulators (stdlib only)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


class Request:
    """What a route handler gets: method, path, repeated query params, headers, body."""

    def __init__(self, handler: BaseHTTPRequestHandler, body: bytes):
        parts = urlsplit(handler.path)
        self.method = handler.command
        self.path = unquote(parts.path)  # Google reads msg-a%3Ar-12 as msg-a:r-12
        self.query: dict[str, list[str]] = parse_qs(parts.query, keep_blank_values=True)
        self.headers = handler.headers
        self.body = body

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def json(self) -> dict:
        if not self.body:
            return {}
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}


class Response:
    def __init__(self, status: int = 200, body: object = None, headers: dict | None = None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


class Drop(Exception):
    """Raised by a handler to close the connection without answering (a network fault)."""


class EmulatorServer:
    """ThreadingHTTPServer on 127.0.0.1:free port; `handle(Request) -> Response` does the work."""

    def __init__(self, handle):
        self._handle = handle
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Google's front ends do
            wbufsize = -1  # one write per response (no Nagle/delayed-ACK stall on keep-alive)

            def log_message(self, *args):  # quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    resp = outer._handle(Request(self, body))
                except Drop:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                payload = resp.body
                ctype = resp.headers.pop("Content-Type", None)
                if isinstance(payload, dict | list):
                    payload = json.dumps(payload).encode()
                    ctype = ctype or "application/json; charset=UTF-8"
                elif isinstance(payload, str):
                    payload = payload.encode()
                    ctype = ctype or "text/html; charset=UTF-8"
                elif payload is None:
                    payload = b""
                self.send_response(resp.status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def google_error(status: int, message: str, reason: str, domain: str = "global") -> Response:
    """Google's JSON error body (the legacy `errors[]` list plus the newer `status`)."""
    statuses = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        409: "ABORTED",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            "status": statuses.get(status, "UNKNOWN"),
        }
    }
    return Response(status, body)
