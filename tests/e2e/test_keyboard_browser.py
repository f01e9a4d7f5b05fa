"""The settings page by keyboard alone, in Debian's Chromium: the skip link comes first, Tab
reaches the main actions, every focused control shows a ring of at least 3:1 contrast
(WCAG 1.4.11), and after a submit the focus lands on the outcome, not on the page's top."""

from __future__ import annotations

import re

from playwright import sync_api as playwright_api

from tests.support.web import PASSWORD, make_user, seed_followup

expect = playwright_api.expect

# What has focus now, and its ring: the outline's colour and width and the colour behind it
# (the first opaque background up the tree), with their contrast ratio (WCAG's formula).
FOCUSED = """() => {
  const el = document.activeElement;
  const css = getComputedStyle(el);
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let back = el.parentElement, bg = [255, 255, 255];
  while (back) {
    const c = rgb(getComputedStyle(back).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) { bg = c.slice(0, 3); break; }
    back = back.parentElement;
  }
  const ring = rgb(css.outlineColor);
  const alpha = ring.length === 4 ? ring[3] : 1;
  const mixed = ring.slice(0, 3).map((v, i) => v * alpha + bg[i] * (1 - alpha));
  const [a, b] = [lum(mixed), lum(bg)].sort((x, y) => y - x);
  return {
    tag: el.tagName.toLowerCase(),
    text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 60),
    cls: el.className || '',
    outlineStyle: css.outlineStyle,
    outlineWidth: parseFloat(css.outlineWidth),
    contrast: (a + 0.05) / (b + 0.05),
  };
}"""


def _signed_in(browser, live, width=1280):
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(live.url + "/settings/signin")
    page.fill("#email", "me@example.test")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    expect(page).to_have_url(re.compile(r"/settings/followups$"))
    # A first sign-in sends the browser's time zone and may redraw the page once (zone_auto):
    # let that settle before going anywhere else.
    page.wait_for_load_state("networkidle")
    return context, page


def _tab_through(page, limit: int = 80) -> list[dict]:
    """Press Tab until focus leaves the page (or `limit`), recording each stop."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = page.evaluate(FOCUSED)
        if now["tag"] == "body":
            break
        stops.append(now)
    return stops


def test_skip_link_first_main_actions_reachable_and_every_ring_visible(browser, live, clock):
    uid = make_user(live.app, "me@example.test")
    _, followup_id = seed_followup(live.app, uid, email="me@example.test", now=clock.now())
    context, page = _signed_in(browser, live)
    page.goto(f"{live.url}/settings/followups/{followup_id}")

    stops = _tab_through(page)
    assert stops[0]["text"] == "Skip to content", stops[0]
    names = [s["text"] for s in stops]
    for wanted in (
        "Follow-ups",
        "Accounts",
        "Results",
        "Sign out",
        "Snooze",
        "Stop this follow-up",
    ):
        assert wanted in names, (wanted, names)
    for stop in stops:  # a ring on every stop, and one that can be seen (3:1, at least 2 px)
        assert stop["outlineStyle"] != "none" and stop["outlineWidth"] >= 2, stop
        assert stop["contrast"] >= 3, stop

    # The skip link shows when focused and takes focus past the header into the page.
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["y"] >= 0 and box["height"] > 20  # on screen, not parked off it
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('main') !== null")
    context.close()


def test_focus_lands_on_the_outcome_after_a_submit(browser, live, clock):
    uid = make_user(live.app, "me@example.test")
    _, followup_id = seed_followup(live.app, uid, email="me@example.test", now=clock.now())

    # A refused sign-in: focus on the one alert that says why.
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(live.url + "/settings/signin")
    page.fill("#email", "me@example.test")
    page.fill("#password", "not the password")
    page.press("#password", "Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("do not match")
    expect(alert).to_be_focused()
    context.close()

    # A snooze that worked: focus on the message that says until when.
    context, page = _signed_in(browser, live, width=390)
    page.goto(f"{live.url}/settings/followups/{followup_id}")
    page.fill("#until", "3w")
    page.get_by_role("button", name="Snooze").press("Enter")
    result = page.locator("main .flash[data-result]")
    expect(result).to_contain_text("Snoozed until")
    expect(result).to_be_focused()
    assert page.evaluate("() => document.activeElement !== document.body")

    # A snooze that was refused: focus on the bad field or its alert, never the page's top.
    page.fill("#until", "yesterday")
    page.get_by_role("button", name="Snooze").press("Enter")
    expect(page.locator("#until")).to_have_value("yesterday")
    focused = page.evaluate(
        "() => [document.activeElement.id, document.activeElement.getAttribute('role')]"
    )
    assert focused[0] == "until" or focused[1] == "alert", focused
    assert page.get_by_role("alert").count() <= 1
    context.close()
