"""My data in headless Chromium: the download is the JSON export, and deleting asks for the
address, names what goes, and leaves the user signed out with nothing left."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_my_data import seed, theirs
from tests.e2e.test_settings_browser import _signed_in_page, expect, shot


def test_download_then_delete_everything_in_the_browser(browser, live, tmp_path):
    store = live.app.extensions["replywatch"]["store"]
    context, page = _signed_in_page(browser, live, viewport={"width": 1280, "height": 900})
    me = seed(store, "me@example.test")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.click("nav.nav >> text=My data")
    items = page.locator("ul.deletes li")
    expect(items.nth(1)).to_contain_text("1 mail account(s): me@example.test")
    expect(items.nth(2)).to_contain_text("1 follow-up(s) (1 still scheduled)")
    with page.expect_download() as download:
        page.click("text=Download my data (JSON)")
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert data["user"]["email"] == "me@example.test"
    assert [f["subject"] for f in data["followups"]] == ["Offer for me"]
    shot(page, tmp_path, "my-data")

    page.fill("#address", "someone@else.test")
    page.click("button:has-text('Delete everything')")
    expect(page.locator(".field.has-error")).to_contain_text("nothing was deleted")
    assert theirs(store, me)

    page.fill("#address", "me@example.test")
    page.click("button:has-text('Delete everything')")
    expect(page.locator(".flash-ok")).to_contain_text("me@example.test and everything of it")
    # The only user is gone: the instance is as new, so the sign-in page offers first-run setup.
    assert page.url.endswith("/settings/setup")
    assert theirs(store, me) == {}
    assert errors == [], errors
    context.close()
