"""Fixtures of the browser tests: Debian's Chromium through Playwright, and the app on a port."""

from __future__ import annotations

import pytest
from playwright import sync_api as playwright_api

from app import create_app
from tests.servers.chromium import LAUNCH_ARGS, LiveServer, chromium_path
from tests.servers.dovecot import free_port


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium", pytrace=False)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def live(config, clock):
    """The app on a real port (its base_url matches), sharing the test's clock."""
    port = free_port()
    app = create_app(config.with_overrides(base_url=f"http://127.0.0.1:{port}"), clock=clock.now)
    server = LiveServer(app, port).start()
    server.app = app
    yield server
    server.stop()
    app.extensions["replywatch"]["store"].dispose()
