"""The daily send cap on the Accounts page in headless Chromium: today's count, an override
typed into the form, nonsense refused, and back to the provider's default."""

from __future__ import annotations

from tests.e2e.test_settings_browser import _signed_in_page, expect, shot
from tests.support.web import seed_followup
from watcher.models import Account


def test_the_cap_is_shown_and_changed_on_the_accounts_page(browser, live, tmp_path):
    context, page = _signed_in_page(browser, live, viewport={"width": 1280, "height": 900})
    store = live.app.extensions["replywatch"]["store"]
    with store.session() as s:
        uid = store.user_by_email(s, "me@example.test").id
    account_id, _ = seed_followup(live.app, uid, email="me@example.test")
    page.goto(live.url + "/settings/accounts")
    count = page.locator(f"#sent-today-{account_id}")
    expect(count).to_have_text("sent 0 of 100 today")
    field = page.locator(f"#cap-{account_id}")
    expect(field).to_have_attribute("placeholder", "100")

    field.fill("25")
    page.click("form.send-cap button:has-text('Save')")
    expect(page.locator(".flash-ok")).to_contain_text("at most 25 messages a day (your setting)")
    expect(count).to_have_text("sent 0 of 25 today")
    expect(field).to_have_value("25")
    shot(page, tmp_path, "accounts-send-cap")

    field.fill("many")
    page.click("form.send-cap button:has-text('Save')")
    expect(page.locator(".flash-error")).to_contain_text("Nothing changed")
    expect(count).to_have_text("sent 0 of 25 today")

    page.locator(f"#cap-{account_id}").fill("")
    page.click("form.send-cap button:has-text('Save')")
    expect(page.locator(".flash-ok")).to_contain_text("the default for other providers")
    expect(page.locator(f"#sent-today-{account_id}")).to_have_text("sent 0 of 100 today")
    with store.session() as s:
        assert s.get(Account, account_id).daily_send_cap is None
    context.close()
