"""The Results page in headless Chromium: reached from the nav, styled, the SVG charts drawn
at a readable size on a 390 px phone and on a desktop, nothing off the side of the screen, and
no Content-Security-Policy complaint (the charts use no inline style or script).

Screenshots land in the test's tmp dir (printed with -s).
"""

from __future__ import annotations

import re
from datetime import timedelta

from playwright import sync_api as playwright_api

from tests.support.results import add_account, seed
from tests.support.web import PASSWORD, make_user
from watcher.models import FollowUpState

expect = playwright_api.expect
ST = FollowUpState
DAY = timedelta(days=1)

LAYOUT = """() => {
  const charts = Array.from(document.querySelectorAll('svg.chart'));
  const label = document.querySelector('svg.chart text');
  return {
    charts: charts.map(c => c.getBoundingClientRect().width),
    chartRight: Math.max(...charts.map(c => c.getBoundingClientRect().right)),
    labelHeight: label ? label.getBoundingClientRect().height : 0,
    tableCollapse: getComputedStyle(document.querySelector('.results-table')).borderCollapse,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  };
}"""


def test_results_page_on_a_phone_and_a_desktop(browser, live, tmp_path):
    store = live.app.extensions["replywatch"]["store"]
    me = make_user(live.app, "me@example.test")
    home = add_account(store, me, "me@example.test")
    work = add_account(store, me, "a-rather-long-work-address@subsidiary.example.test")
    with store.session() as s:
        seed(s, me, home, state=ST.REPLIED, reply_after=2 * DAY)
        seed(s, me, home, state=ST.REPLIED, bumps_done=[7 * DAY], reply_after=8 * DAY)
        seed(s, me, work, state=ST.REPLIED, bumps_done=[7 * DAY, 14 * DAY], reply_after=15 * DAY)
        seed(
            s,
            me,
            work,
            state=ST.REPLIED,
            bumps_done=[7 * DAY, 14 * DAY, 21 * DAY],
            reply_after=25 * DAY,
        )
        seed(s, me, work, state=ST.COMPLETED, bumps_done=[7 * DAY], origin="rule 'R' (#1)")
        seed(s, me, work, state=ST.FAILED)

    for width, height, label in ((390, 844, "phone"), (1280, 900, "desktop")):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        page = context.new_page()
        complaints = []
        page.on("console", lambda m, seen=complaints: m.type == "error" and seen.append(m.text))
        page.goto(live.url + "/settings/signin")
        page.fill("#email", "me@example.test")
        page.fill("#password", PASSWORD)
        page.click("button:has-text('Sign in')")
        expect(page).to_have_url(re.compile(r"/settings/followups$"))

        page.get_by_role("link", name="Results").click()
        expect(page).to_have_url(re.compile(r"/settings/results$"))
        expect(page.get_by_role("heading", name="Results", exact=True)).to_be_visible()
        chart = page.get_by_role("img", name="All accounts: how 5 ended follow-ups went")
        expect(chart).to_be_visible()
        expect(chart.locator("text", has_text="Reply after bump 3 or later")).to_be_visible()
        expect(chart.locator("text", has_text="20% (1 of 5)").first).to_be_visible()

        layout = page.evaluate(LAYOUT)
        assert len(layout["charts"]) == 3, layout
        # On the phone the chart takes the card's width (near its 320-unit viewBox: text at
        # about its set size); it never runs past the screen, and the page does not scroll
        # sideways (the wide number tables scroll inside their own box).
        assert min(layout["charts"]) >= 280, (label, layout)
        assert layout["chartRight"] <= layout["innerWidth"], (label, layout)
        assert layout["labelHeight"] >= 12, (label, layout)
        assert layout["scrollWidth"] <= layout["innerWidth"], (label, layout)
        assert layout["tableCollapse"] == "collapse", layout  # results.css applied
        assert not complaints, complaints  # e.g. a CSP refusal

        page.get_by_text("How these are counted").click()
        expect(page.get_by_text("Cancelled and failed (bounced) follow-ups")).to_be_visible()
        path = tmp_path / f"results-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        context.close()
