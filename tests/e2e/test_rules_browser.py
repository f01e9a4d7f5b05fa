"""The Rules view in headless Chromium: a rule added through the form, its dry-run over the real
mailbox (Dovecot) shown as a table, turned off, and laid out on a desktop and a phone."""

from __future__ import annotations

from tests.e2e.test_rules_e2e import CLIENT, QUESTION, STATEMENT, _hours_ago
from tests.e2e.test_rules_http import connect
from tests.e2e.test_settings_browser import STYLE_CHECK, _signed_in_page, expect, shot


def test_rule_added_dry_run_shown_and_turned_off_on_desktop_and_phone(
    browser, live, mail_world, tmp_path
):
    context, page = _signed_in_page(browser, live, viewport={"width": 1280, "height": 900})
    store = live.app.extensions["replywatch"]["store"]
    with store.session() as s:
        uid = store.user_by_email(s, "me@example.test").id
    me, carl = mail_world.new_user("me"), mail_world.new_user("carl")
    connect(live.app, uid, mail_world, me)
    mail_world.send(me, [f"Dana <dana@{CLIENT}>"], "Budget 2027", QUESTION, date=_hours_ago(3))
    mail_world.send(me, [carl], "Team lunch", QUESTION, date=_hours_ago(2))
    mail_world.send(me, [f"dana@{CLIENT}"], "October report", STATEMENT, date=_hours_ago(1))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.click("nav.nav >> text=Rules")
    expect(page.get_by_text("No rules yet.")).to_be_visible()
    page.fill("#name", "Client questions")
    page.fill("#delays", "2x")
    page.click("button:has-text('Add rule')")
    expect(page.locator(".flash-error")).to_contain_text("'2x' is not a delay")
    page.fill("#delays", "3d")
    page.check("#question_only")
    page.fill("#exclude_domains", "partner.test")
    page.click("button:has-text('Add rule')")
    expect(page.locator(".flash-ok")).to_contain_text("Rule 'Client questions' is on")
    rule = page.locator("li.rule")
    expect(rule).to_contain_text("Send bumps after 3d if nobody replies")  # as single ones
    expect(rule).to_contain_text("questions only; not domain partner.test")

    rule.get_by_role("button", name="Dry run").click()
    table = page.locator("#dry-run-table")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("tr.would")).to_have_count(1)
    expect(table.locator("tr.would")).to_contain_text("Budget 2027")
    expect(table.locator("tr", has_text="Team lunch")).to_contain_text("internal")
    expect(page.locator(".dry-run .summary")).to_contain_text("1 of 3 would get a follow-up")
    shot(page, tmp_path, "desktop-rules-dry-run")

    for width, height, label in ((1280, 900, "desktop"), (390, 844, "phone")):
        page.set_viewport_size({"width": width, "height": height})
        style = page.evaluate(STYLE_CHECK)
        assert style["scrollWidth"] <= style["innerWidth"], (label, style)
        assert style["cardRadius"] == "10px", style
    shot(page, tmp_path, "phone-rules-dry-run")

    page.locator("li.rule").get_by_role("button", name="Turn off").click()
    expect(page.locator(".flash-ok")).to_contain_text("Rule 'Client questions' is off")
    expect(page.locator("li.rule .badge")).to_have_text("Off")
    assert errors == [], errors
    context.close()
