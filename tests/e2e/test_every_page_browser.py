"""Every settings page, at 1280 px and on a 390 px phone, in Debian's Chromium: no page wider
than the screen, and axe-core (run in the same browser, offline) finds no serious or critical
violation. Screenshots go to /tmp/shots-a11y/ (look at them when the design changes).

Each width gets a fresh app (the `live` fixture), so first-run setup is visited too.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api

from tests.support import results as results_seed
from tests.support.a11y import SERIOUS, overflow, serious_violations, violations
from tests.support.web import PASSWORD, make_user, seed_followup
from watcher import rules as rule_fields
from watcher.models import Event, FollowUp, FollowUpState, ScheduledSend, StageState

expect = playwright_api.expect
SHOTS = Path("/tmp/shots-a11y")
# What Gmail's Message-IDs look like: long, and with no place to break.
LONG_ID = (
    "<CAF=8xq0WnQ4uH3pVQ1xKc7c2M7Y9aT+XwZ5r1F0o-7Hh3Q_kLmN0pQrStUvWxYz0a1b2c3d@mail.gmail.com>"
)
WIDTHS = [pytest.param(1280, 900, id="desktop"), pytest.param(390, 844, id="phone")]


def _seed(live, clock) -> dict:
    """A user with a working account and a broken one, follow-ups in several states, a rule,
    a correspondent and results: what each page shows when it has something to show."""
    app, now = live.app, clock.now()
    store = app.extensions["replywatch"]["store"]
    uid = make_user(app, "me@example.test")
    account_id, active_id = seed_followup(app, uid, email="me@example.test", now=now)
    broken_id, waiting_id = seed_followup(app, uid, email="me.work@example.test", now=now)
    store.mark_account_failed(
        broken_id,
        "IMAP login refused for me.work@example.test: AUTHENTICATIONFAILED",
        permanent=True,
        now=now,
        backoff=timedelta(minutes=1),
    )
    with store.session() as s:
        s.get(FollowUp, active_id).anchor_message_id = LONG_ID
        account = store.find_account(s, str(account_id))
        store.add_rule(
            s,
            account,
            rule_fields.validate_fields(
                name="Questions to clients", mode="send", delays=["3d", "1w"]
            ),
            external_only=True,
            question_only=True,
            now=now,
        )
        store.observe_offset(s, uid, "bob@example.test", now - timedelta(days=1), 330)
        replied = results_seed.seed(
            s, uid, account_id, state=FollowUpState.REPLIED, reply_after=timedelta(days=2)
        )
        unsure = results_seed.seed(
            s,
            uid,
            account_id,
            state=FollowUpState.COMPLETED,
            bumps_done=[timedelta(days=7)],
            done_state=StageState.UNCONFIRMED,
        )
        replied.subject = "Re:" + LONG_ID  # an unbroken subject, as forwarded mail can have
        s.add(
            Event(
                user_id=uid,
                followup_id=replied.id,
                kind="stopped",
                detail=f"stopped: reply from bob@example.test, message {LONG_ID}",
                message_id=LONG_ID,
                rule="default-reply",
                at=now,
            )
        )
        replied_id, unsure_id = replied.id, unsure.id
        s.add(
            ScheduledSend(
                user_id=uid, account_id=account_id, draft_key=LONG_ID, draft_ref="Drafts/1/9",
                draft_seen_at=now, tag_address="me+later-2w-then-1w@example.test",
                subject="Following up on our call " + LONG_ID, recipients=["chiara@example.test"],
                send_at=now + timedelta(weeks=2), scheduled_at=now, then_tag="1w",
                message_id="<rw-later.page@example.test>",
            )
        )  # fmt: skip
    return {
        "account": account_id,
        "active": active_id,
        "waiting": waiting_id,
        "replied": replied_id,
        "unsure": unsure_id,
    }


def _pages(ids: dict) -> dict[str, str]:
    a = ids["account"]
    return {
        "followups": "/settings/followups",
        "followups-all": "/settings/followups?show=all",
        "followups-attention": "/settings/followups?show=attention",
        "new-followup": "/settings/followups/new",
        "new-followup-search": "/settings/followups/new?q=a",
        "detail-active": f"/settings/followups/{ids['active']}",
        "detail-replied": f"/settings/followups/{ids['replied']}",
        "detail-unconfirmed": f"/settings/followups/{ids['unsure']}",
        "accounts": "/settings/accounts",
        "connect-imap": "/settings/accounts/imap",
        "reconnect": f"/settings/accounts/{a}/reconnect",
        "disconnect": f"/settings/accounts/{a}/disconnect",
        "defaults": "/settings/defaults",
        "rules": "/settings/rules",
        "recipients": "/settings/recipients",
        "results": "/settings/results",
        "later": "/settings/later",
        "password": "/settings/password",
        "not-found": "/settings/followups/99999",
    }


SCROLLING_TABLES = """() => Array.from(document.querySelectorAll('.table-scroll'))
  .filter(box => box.scrollWidth > box.clientWidth + 1)
  .map(box => {
    const cue = box.previousElementSibling;
    return Boolean(cue && cue.classList.contains('scroll-cue') && cue.offsetHeight > 0);
  })"""


def _check(page, name: str, label: str, found: dict) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{label}-{name}.png"), full_page=True)
    every = violations(page)
    found[name] = {
        "overflow": overflow(page),
        # One alert at a time (several shouted at once drown each other out).
        "alerts": page.locator("[role=alert]").count(),
        # A table that scrolls sideways says so: a visible cue right above it.
        "scrolling": page.evaluate(SCROLLING_TABLES),
        "axe": [
            f"{rule} ({impact}): {where}" for impact, rule, where in every if impact in SERIOUS
        ],
        "milder": sorted(
            {f"{rule} ({impact})" for impact, rule, _ in every if impact not in SERIOUS}
        ),
    }


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_every_page_fits_the_screen_and_passes_axe(browser, live, clock, width, height):
    label = "desktop" if width > 600 else "phone"
    context = browser.new_context(
        viewport={"width": width, "height": height}, timezone_id="Europe/Berlin"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    found: dict[str, dict] = {}

    # axe works here (offline, in this browser): a nameless button is a critical violation.
    page.set_content("<!doctype html><html lang=en><title>t</title><main><button></button></main>")
    assert any(v.startswith("button-name") for v in serious_violations(page))

    page.goto(live.url + "/settings/setup")  # first run: nobody exists yet
    expect(page.locator("h1")).to_have_text("Welcome to Replywatch")
    _check(page, "setup", label, found)

    ids = _seed(live, clock)
    page.goto(live.url + "/settings/signin")
    _check(page, "signin", label, found)
    page.fill("#email", "me@example.test")
    page.fill("#password", "wrong password here")
    page.click("button:has-text('Sign in')")
    _check(page, "signin-refused", label, found)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(re.compile(r"/settings/followups$"))
    # A first sign-in sends the browser's time zone and may redraw the page once (zone_auto):
    # let that settle before going anywhere else.
    page.wait_for_load_state("networkidle")

    for name, path in _pages(ids).items():
        page.goto(live.url + path)
        _check(page, name, label, found)

    # A form sent back with errors is a page of its own: one bad field, then two at once.
    page.goto(live.url + "/settings/defaults")
    page.fill("#delay", "3x")
    page.click("button:has-text('Save defaults')")
    _check(page, "defaults-errors", label, found)
    page.fill("#delay", "")
    page.fill("#template", "")
    page.click("button:has-text('Save defaults')")
    expect(page.locator(".has-error")).to_have_count(2)
    _check(page, "defaults-two-errors", label, found)
    context.close()

    table = "\n".join(
        f"{label:8} {name:22} overflow={'no' if not r['overflow'] else r['overflow']} "
        f"alerts={r['alerts']} cued-scrolling-tables={r['scrolling']} "
        f"axe serious/critical={len(r['axe'])} {r['axe']} milder={r['milder']}"
        for name, r in found.items()
    )
    print("\n" + table)
    assert all(not r["overflow"] for r in found.values()), table
    assert all(not r["axe"] for r in found.values()), table
    assert all(r["alerts"] <= 1 for r in found.values()), table
    assert all(all(r["scrolling"]) for r in found.values()), table
    if label == "phone":  # the Results tables are wider than a phone: scrolled, with a cue
        assert found["results"]["scrolling"], table
