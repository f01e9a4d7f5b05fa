"""The Recipients view in headless Chromium: listed with zone and holidays, overridden by typing
a zone (the list of zones is offered), cleared again, and laid out on a desktop and a phone."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.test_settings_browser import STYLE_CHECK, _signed_in_page, expect, shot
from tests.support.web import make_user


def test_recipients_page_sets_and_clears_a_zone_and_fits_a_phone(browser, live, clock, tmp_path):
    uid = make_user(live.app, "me@example.test")
    store = live.app.extensions["replywatch"]["store"]
    with store.session() as s:  # Bob's mail came with +05:30 Date headers
        store.observe_offset(s, uid, "bob@example.test", clock.now() - timedelta(days=1), 330)
    for width, height, label in ((1280, 900, "desktop"), (390, 844, "phone")):
        context, page = _signed_in_page(browser, live, viewport={"width": width, "height": height})
        errors: list[str] = []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        page.click("nav.nav >> text=Recipients")
        bob = page.locator('li.recipient[data-address="bob@example.test"]')
        expect(bob.locator(".zone")).to_have_text("Asia/Kolkata")
        expect(bob.locator(".country")).to_have_text("IN")
        expect(bob.locator(".seen")).to_have_text("1 day ago")
        style = page.evaluate(STYLE_CHECK)
        assert style["scrollWidth"] <= style["innerWidth"], (label, style)
        assert style["cardRadius"] == "10px", style
        shot(page, tmp_path, f"{label}-recipients")

        zone = bob.get_by_label("Time zone of bob@example.test")
        assert page.locator("datalist#zones option[value='Europe/Berlin']").count() == 1
        zone.fill("Europe/Berlin")
        bob.get_by_role("button", name="Set").click()
        expect(
            page.get_by_text("bob@example.test now counts as living in Europe/Berlin")
        ).to_be_visible()
        expect(bob.locator(".zone")).to_have_text("Europe/Berlin")
        expect(bob.locator(".country")).to_have_text("DE")
        expect(bob).to_contain_text("their mail says Asia/Kolkata")

        bob.get_by_role("button", name="Use their mail").click()
        expect(page.get_by_text("back to what their mail says, Asia/Kolkata")).to_be_visible()
        expect(bob.locator(".zone")).to_have_text("Asia/Kolkata")
        assert errors == [], errors
        context.close()
