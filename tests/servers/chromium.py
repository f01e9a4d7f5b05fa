"""Headless Debian Chromium through Playwright (reference/test-servers.md), and the app served
over real HTTP on 127.0.0.1 for it to visit.

`playwright install` is never run: Playwright drives the system's /usr/bin/chromium
(apt-get install chromium; scripts/setup.sh test installs it when missing).
"""

from __future__ import annotations

import shutil
import threading

from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
# --no-sandbox: tests run as root; the rest keep Chromium from calling Google's hosts.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    return CHROMIUM if shutil.which(CHROMIUM) else shutil.which("chromium")


class LiveServer:
    """A WSGI app on 127.0.0.1:<port> in a thread (werkzeug's threaded server)."""

    def __init__(self, app, port: int):
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
