"""The settings page in headless Chromium, as a new self-hoster uses it: first-run sign-in,
an IMAP account on Dovecot, defaults, follow-ups created, stopped by a reply, cancelled, and the
account disconnected. Plus checks that the page renders styled and fits a 390 px phone.

Screenshots land in the test's tmp dir (printed with -s); look at them when the design changes.
"""

from __future__ import annotations

import re

from playwright import sync_api as playwright_api

from tests.support.web import PASSWORD, make_user, seed_followup
from watcher.engine import Engine

expect = playwright_api.expect


def shot(page, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_new_user_connects_imap_sets_defaults_follows_up_and_disconnects(
    browser, live, mail_world, clock, tmp_path
):
    alice, bob = mail_world.new_user("alice"), mail_world.new_user("bob")
    settings, password = mail_world.imap_settings(alice)
    context = browser.new_context(timezone_id="Europe/Berlin", locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Console errors other than the HTTP statuses of forms that were meant to fail (400).
    page.on(
        "console",
        lambda m: m.type == "error" and "status of 400" not in m.text and errors.append(m.text),
    )

    # First run: Google is not configured; the page says which settings are missing.
    page.goto(live.url + "/")
    expect(page).to_have_url(re.compile(r"/settings/setup$"))
    expect(page.get_by_text("REPLYWATCH_GOOGLE_CLIENT_ID")).to_be_visible()
    shot(page, tmp_path, "01-setup")
    page.fill("#email", alice.email)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("text=Create my sign-in")
    expect(page).to_have_url(re.compile(r"/settings/accounts$"))

    # Connect IMAP/SMTP: a wrong password is said on the form and nothing is saved.
    page.click("text=Connect IMAP/SMTP")
    page.select_option("#preset", "custom")
    page.fill("#email", alice.email)
    page.fill("#name", "Alice")
    page.fill("#imap_host", settings["imap_host"])
    page.fill("#imap_port", str(settings["imap_port"]))
    page.select_option("#imap_security", "none")
    page.fill("#smtp_host", settings["smtp_host"])
    page.fill("#smtp_port", str(settings["smtp_port"]))
    page.select_option("#smtp_security", "none")
    page.fill("#password", "not-the-password")
    page.click("text=Test and save")
    expect(page.locator(".flash-error")).to_be_visible()
    shot(page, tmp_path, "02-imap-error")
    assert "not-the-password" not in page.content()
    page.fill("#password", password)
    page.click("text=Test and save")
    expect(page.locator(".flash-ok")).to_contain_text("IMAP and SMTP sign-in both work")
    card = page.locator(f'li.account[data-email="{alice.email}"]')
    expect(card.locator(".badge")).to_have_text("Working")
    shot(page, tmp_path, "03-accounts")

    # Defaults: the browser's zone was taken on first run; the bump text previews live.
    page.click("nav >> text=Defaults")
    expect(page.locator("#timezone")).to_have_value("Europe/Berlin")
    page.fill("#delay", "3d")
    page.fill("#template", "Hi {first_name}, any news on {subject}?")
    expect(page.locator("#preview")).to_have_text("Hi Sam, any news on Proposal for Q3?")
    page.fill("#template", "Hi {frist_name}")
    expect(page.locator("#preview-error")).to_contain_text("Unknown placeholder {frist_name}")
    page.fill("#template", "Hi {first_name}, any news on {subject}?")
    shot(page, tmp_path, "04-defaults")
    page.click("text=Save defaults")
    expect(page.locator(".flash-ok")).to_contain_text("Defaults saved")
    expect(page.locator("#timezone")).to_have_value("Europe/Berlin")

    # Two follow-ups on messages alice sent.
    mid1 = mail_world.send(alice, [bob], "Proposal", "Here is the proposal.")
    mid2 = mail_world.send(alice, [bob], "Invoice 42", "Invoice attached.")
    ids = []
    for mid in (mid1, mid2):
        page.click("nav >> text=Follow-ups")
        page.click("text=Follow up on a sent message")
        expect(page.locator("#after")).to_have_value("3d")
        page.locator(f'li.sent[data-message-id="{mid}"]').get_by_role(
            "button", name="Follow up"
        ).click()
        expect(page.locator(".page-head .badge")).to_have_text("Scheduled")
        expect(page.locator(".flash-ok")).to_contain_text("unless someone replies")
        ids.append(int(page.url.rsplit("/", 1)[1]))
    page.click("nav >> text=Follow-ups")
    expect(page.locator("#followup-list .row")).to_have_count(2)
    shot(page, tmp_path, "05-followups")

    # Bob replies; one watcher pass (in-process, the same clock) stops the first.
    mail_world.send(
        bob, [alice], "Re: Proposal", "Looks good!", in_reply_to=mid1, references=[mid1]
    )
    report = Engine(
        live.app.extensions["replywatch"]["store"],
        live.app.extensions["replywatch"]["config"],
        clock=clock.now,
    ).run_pass()
    assert not report.faults, report.faults
    page.goto(f"{live.url}/settings/followups/{ids[0]}")
    expect(page.locator(".page-head .badge")).to_have_text("Stopped by reply")
    expect(page.locator("#history")).to_contain_text(bob.email)
    shot(page, tmp_path, "06-detail-replied")
    page.goto(f"{live.url}/settings/followups?show=replied")
    expect(page.locator("#followup-list .row")).to_have_count(1)

    # Cancel the other one.
    page.goto(f"{live.url}/settings/followups/{ids[1]}")
    page.click("text=Stop this follow-up")
    page.locator("#cancel-dialog").get_by_role("button", name="Stop the follow-up").click()
    expect(page.locator(".page-head .badge")).to_have_text("Cancelled")
    expect(page.locator("#history")).to_contain_text("cancelled by you")

    # Disconnect, keeping the history.
    page.click("nav >> text=Accounts")
    card.locator("text=Disconnect").click()
    page.check("input[value=keep]")
    page.click("button:has-text('Disconnect')")
    expect(page.locator(".flash-ok")).to_contain_text("Disconnected")
    expect(card.locator(".badge")).to_have_text("Disconnected")
    shot(page, tmp_path, "07-disconnected")
    page.goto(f"{live.url}/settings/followups?show=all")
    expect(page.locator("#followup-list .row")).to_have_count(2)
    assert password not in page.content()
    assert errors == [], errors
    context.close()


STYLE_CHECK = """() => {
  const css = getComputedStyle(document.body);
  const card = document.querySelector('.card, .rows');
  const main = document.querySelector('main').getBoundingClientRect();
  const top = document.querySelector('header.top').getBoundingClientRect();
  const rules = Array.from(document.styleSheets).reduce((n, s) => n + s.cssRules.length, 0);
  return {
    background: css.backgroundColor,
    font: css.fontFamily,
    cardRadius: card ? getComputedStyle(card).borderTopLeftRadius : null,
    cardBackground: card ? getComputedStyle(card).backgroundColor : null,
    mainHeight: main.height,
    headerHeight: top.height,
    rules: rules,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  };
}"""


def _signed_in_page(browser, live, **context_args):
    make_user(live.app, "me@example.test")
    context = browser.new_context(**context_args)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(live.url + "/settings/signin")
    page.fill("#email", "me@example.test")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(re.compile(r"/settings/followups$"))
    return context, page


def test_pages_render_styled_and_fit_a_phone(browser, live, tmp_path, clock):
    uid = make_user(live.app, "me@example.test")
    _, followup_id = seed_followup(live.app, uid, email="me@example.test", now=clock.now())
    pages = {
        "followups": "/settings/followups",
        "detail": f"/settings/followups/{followup_id}",
        "accounts": "/settings/accounts",
        "defaults": "/settings/defaults",
        "imap": "/settings/accounts/imap",
    }
    for width, height, label in ((1280, 900, "desktop"), (390, 844, "phone")):
        context, page = _signed_in_page(browser, live, viewport={"width": width, "height": height})
        for name, path in pages.items():
            page.goto(live.url + path)
            style = page.evaluate(STYLE_CHECK)
            # An unstyled or empty page fails here: the stylesheet loaded and applied, the
            # layout has content, and nothing runs off the side of the screen.
            assert style["rules"] > 50, (name, style)
            assert style["background"] == "rgb(246, 247, 249)", (name, style)
            assert "system-ui" in style["font"], (name, style)
            assert style["cardRadius"] == "10px", (name, style)
            assert style["cardBackground"] == "rgb(255, 255, 255)", (name, style)
            assert style["mainHeight"] > 200 and style["headerHeight"] > 40, (name, style)
            assert style["scrollWidth"] <= style["innerWidth"], (label, name, style)
            expect(page.locator("nav.nav")).to_be_visible()
            shot(page, tmp_path, f"{label}-{name}")
            assert (tmp_path / f"{label}-{name}.png").stat().st_size > 10_000
        context.close()
