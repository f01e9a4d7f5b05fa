"""The settings page's flows in headless Chromium, done the way a user does them: reconnecting an
account after a password change, and adding a follow-up by picking a sent message from the
list (and by searching it). Mail is real: Dovecot and the SMTP sink.

Screenshots go to /tmp/shots-flows/ at 1280 and 390 px; they are looked at by eye when the
pages change.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from tests.e2e.test_rules_e2e import CLIENT, QUESTION
from tests.e2e.test_rules_http import connect
from tests.e2e.test_settings_browser import STYLE_CHECK, _signed_in_page, expect
from tests.support.web import make_user, seed_followup
from watcher.engine import Engine
from watcher.models import FollowUp

SHOTS = Path("/tmp/shots-flows")


def shoot(page, name: str) -> None:
    """The page at 1280 and 390 px (full length), into SHOTS; nothing runs off the side."""
    SHOTS.mkdir(exist_ok=True)
    size = page.viewport_size
    for width, label in ((1280, "desktop"), (390, "phone")):
        page.set_viewport_size({"width": width, "height": 900})
        style = page.evaluate(STYLE_CHECK)
        assert style["scrollWidth"] <= style["innerWidth"], (name, label, style)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(size)


def _store(live):
    return live.app.extensions["replywatch"]["store"]


def _user_id(live, email="me@example.test") -> int:
    with _store(live).session() as s:
        return _store(live).user_by_email(s, email).id


def _account(live, account_id):
    with _store(live).session() as s:
        a = _store(live).find_account(s, str(account_id))
        return a.status, a.status_reason, _store(live).account_spec(a).secret


def test_reconnect_with_a_wrong_then_the_right_password(browser, live, mail_world, clock):
    """The account's password changed: it needs attention. Accounts -> Reconnect -> the old
    password is refused next to the field and nothing changes; the new one works."""
    context, page = _signed_in_page(browser, live, viewport={"width": 1280, "height": 900})
    me = mail_world.new_user("me")
    account_id = connect(live.app, _user_id(live), mail_world, me)
    stale = json.dumps({"imap_password": "old-password", "smtp_password": "old-password"})
    with _store(live).session() as s:
        account = _store(live).find_account(s, str(account_id))
        account.secret = _store(live).box.encrypt(stale)
    _store(live).mark_account_failed(
        account_id,
        "IMAP login refused: check the user name and password",
        permanent=True,
        now=clock.now(),
        backoff=timedelta(minutes=5),
    )
    before = _account(live, account_id)
    assert before[0] == "needs_attention"

    page.click("nav.nav >> text=Accounts")
    card = page.locator(f'li.account[data-email="{me.email}"]')
    expect(card.locator(".badge")).to_have_text("Needs attention")
    card.get_by_role("link", name="Reconnect").click()
    expect(page.locator("h1")).to_have_text(f"Reconnect {me.email}")

    page.fill("#password", "still-not-it")
    page.click("button:has-text('Test and save')")
    # The message sits next to the password field, which is marked and described by it.
    expect(page.locator("#password-error")).to_contain_text("login refused")
    expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#password")).to_have_attribute(
        "aria-describedby", re.compile("password-error")
    )
    assert "still-not-it" not in page.content()
    assert _account(live, account_id) == before  # nothing saved, still needs attention
    shoot(page, "reconnect-wrong-password")

    page.fill("#password", me.password)
    page.click("button:has-text('Test and save')")
    expect(page.locator(".flash-ok")).to_contain_text("IMAP and SMTP sign-in both work")
    expect(card.locator(".badge")).to_have_text("Working")
    shoot(page, "accounts")
    status, _, secret = _account(live, account_id)
    assert status == "ok" and json.loads(secret)["imap_password"] == me.password
    context.close()


def test_follow_up_by_picking_a_sent_message_and_by_search(browser, live, mail_world, clock):
    context, page = _signed_in_page(browser, live, viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    me, bob, cleo = (mail_world.new_user(n) for n in ("me", "bob", "cleo"))
    account_id = connect(live.app, _user_id(live), mail_world, me)
    mail_world.send(me, [bob], "Proposal for Q3", "Here it is.")
    mail_world.send(me, [cleo], "Invoice 42", "Attached.")
    mail_world.send(me, [bob, cleo], "Team lunch", "Friday?")

    page.click("nav.nav >> text=Follow-ups")
    # The other ways are shown where follow-ups are set, with the user's own address.
    local, domain = me.email.split("@")
    expect(page.locator("#ways")).to_contain_text(f"{local}+3d@{domain}")
    shoot(page, "followups")
    page.click("text=Follow up on a sent message")
    rows = page.locator("#sent-list li.sent")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Team lunch")  # newest first
    expect(page.locator("#after")).to_have_value("1w")  # the user's default delay
    expect(page.locator("#ways")).to_contain_text(f"{local}+3d@{domain}")
    shoot(page, "pick-sent")

    # One click on a row: a follow-up with the defaults (Send, after 1w).
    page.locator("li.sent", has_text="Proposal for Q3").get_by_role(
        "button", name="Follow up"
    ).click()
    expect(page.locator(".flash-ok")).to_contain_text("unless someone replies")
    expect(page.locator("h1")).to_have_text("Proposal for Q3")
    expect(page.locator(".facts")).to_contain_text("Send a bump")
    expect(page.locator(".stages")).to_contain_text("after 1w")
    first_id = int(page.url.rsplit("/", 1)[1])

    # Back to the list: that message is marked as followed, with a link to its follow-up.
    page.goto(live.url + "/settings/followups/new")
    followed = page.locator("li.sent", has_text="Proposal for Q3")
    expect(followed.get_by_role("button", name="Follow up")).to_have_count(0)
    expect(followed.get_by_role("link")).to_have_attribute(
        "href", f"/settings/followups/{first_id}"
    )

    # Search, then follow one up with another delay, reminding only.
    page.fill("#sent-search", "invoice")
    page.click("form.pick-search button:has-text('Search')")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Invoice 42")
    expect(page.locator("#sent-count")).to_contain_text("1 of your 3 latest")
    shoot(page, "pick-sent-search")
    page.fill("#after", "3d")
    page.check("input[name=mode][value=remind]")
    rows.first.get_by_role("button", name="Follow up").click()
    expect(page.locator("h1")).to_have_text("Invoice 42")
    expect(page.locator(".facts")).to_contain_text("Remind me only")
    expect(page.locator(".stages")).to_contain_text("after 3d")

    with _store(live).session() as s:
        made = s.query(FollowUp).order_by(FollowUp.id).all()
        assert [(f.account_id, f.subject, f.mode) for f in made] == [
            (account_id, "Proposal for Q3", "send"),
            (account_id, "Invoice 42", "remind"),
        ]
    assert errors == [], errors
    context.close()


def test_a_bad_delay_on_the_picker_keeps_what_was_typed_and_creates_nothing(
    browser, live, mail_world
):
    context, page = _signed_in_page(browser, live, viewport={"width": 390, "height": 844})
    me, bob = mail_world.new_user("me"), mail_world.new_user("bob")
    connect(live.app, _user_id(live), mail_world, me)
    mail_world.send(me, [bob], "Proposal for Q3", "Here it is.")
    page.goto(live.url + "/settings/followups/new")
    page.fill("#after", "soon")
    page.get_by_role("button", name="Follow up").first.click()
    expect(page.locator("#after-error")).to_contain_text("'soon' is not a delay or a date")
    expect(page.locator("#after")).to_have_value("soon")
    expect(page.locator("#after")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#sent-list li.sent")).to_have_count(1)  # the list is still there
    with _store(live).session() as s:
        assert s.query(FollowUp).count() == 0
    context.close()


def test_the_zone_is_taken_from_the_browser_on_first_run(browser, live, clock):
    """A new user (UTC by default) whose browser is in New York: the first page takes that zone
    and is drawn in it; Defaults shows it; a zone chosen later is never overwritten."""
    uid = _user_id_of_new(live)
    _, followup_id = seed_followup(live.app, uid, email="me@example.test", now=clock.now())
    context, page = _signed_in_page(
        browser, live, viewport={"width": 1280, "height": 900}, timezone_id="America/New_York"
    )
    expect(page.locator(".flash-ok")).to_contain_text("Times are shown in America/New_York")
    with _store(live).session() as s:
        user = _store(live).get_user(s, uid)
        assert (user.timezone, user.timezone_source) == ("America/New_York", "browser")
    # One zone everywhere: the list and the detail page say EST/EDT, never UTC.
    expect(page.locator("#followup-list .when")).to_contain_text(re.compile(r"E[SD]T"))
    page.goto(f"{live.url}/settings/followups/{followup_id}")
    expect(page.locator(".facts")).not_to_contain_text("UTC")
    page.click("nav.nav >> text=Defaults")
    expect(page.locator("#timezone")).to_have_value("America/New_York")
    shoot(page, "defaults")

    # Chosen on Defaults ("Tokyo" is suggested as Asia/Tokyo): a browser elsewhere changes nothing.
    page.fill("#timezone", "Tokyo")
    page.click("button:has-text('Save defaults')")
    expect(page.locator("#timezone-error")).to_contain_text("did you mean Asia/Tokyo")
    expect(page.locator("#timezone")).to_have_value("Tokyo")
    page.fill("#timezone", "Asia/Tokyo")
    page.click("button:has-text('Save defaults')")
    expect(page.locator(".flash-ok")).to_contain_text("Defaults saved")
    context.close()
    context, page = _signed_in_page(
        browser, live, viewport={"width": 1280, "height": 900}, timezone_id="Europe/Paris"
    )
    page.click("nav.nav >> text=Defaults")
    expect(page.locator("#timezone")).to_have_value("Asia/Tokyo")
    with _store(live).session() as s:
        assert _store(live).get_user(s, uid).timezone_source == "you"
    context.close()


def test_three_bad_fields_show_three_marked_errors_at_once(browser, live):
    context, page = _signed_in_page(browser, live, viewport={"width": 1280, "height": 900})
    page.click("nav.nav >> text=Defaults")
    page.fill("#delay", "soon")
    page.fill("#hours_start", "18:00")
    page.fill("#hours_end", "17:00")
    page.fill("#template", "Hi {frist_name}")
    page.click("button:has-text('Save defaults')")
    for field, words in (
        ("delay", "'soon' is not a delay: use 3d, 1w"),
        ("hours_start", "must start before it ends"),
        ("template", "unknown placeholder {frist_name}"),
    ):
        box = page.locator(f"#{field}")
        expect(box).to_have_attribute("aria-invalid", "true")
        expect(box).to_have_attribute("aria-describedby", re.compile(f"{field}-error"))
        expect(page.locator(f"#{field}-error")).to_contain_text(words, ignore_case=True)
    expect(page.locator("[aria-invalid=true]")).to_have_count(3)
    expect(page.locator(".error-summary")).to_contain_text("3 fields need fixing")
    # What was typed stays; nothing was saved.
    expect(page.locator("#delay")).to_have_value("soon")
    expect(page.locator("#template")).to_have_value("Hi {frist_name}")
    with _store(live).session() as s:
        assert _store(live).user_by_email(s, "me@example.test").default_delay == "1w"
    shoot(page, "defaults-three-errors")
    context.close()


@pytest.mark.now("2026-11-24T10:00:00+01:00")  # a Tuesday
def test_snooze_quick_picks_and_never_earlier_unasked(browser, live, clock):
    uid = _user_id_of_new(live)
    with _store(live).session() as s:
        user = _store(live).get_user(s, uid)
        user.timezone, user.timezone_source = "Europe/Berlin", "you"
    _, followup_id = seed_followup(live.app, uid, email="me@example.test", now=clock.now())
    context, page = _signed_in_page(browser, live, viewport={"width": 1280, "height": 900})
    page.goto(f"{live.url}/settings/followups/{followup_id}")
    due = page.locator(".facts .next strong")
    expect(due).to_contain_text("Tue 2026-12-01")  # 1w after the anchor, in the window
    picks = page.locator("form.quick-picks:not(.sooner) button")
    # One week after the bump is a snooze; tomorrow and Monday lie before the bump, so they
    # are offered apart, as bringing it forward.
    expect(picks).to_have_count(1)
    expect(picks.first).to_contain_text("1 week later (Tue 08 Dec")
    sooner = page.locator("form.quick-picks.sooner")
    expect(sooner).to_contain_text("Or bring it forward")
    expect(sooner.locator("button")).to_have_text(
        ["Tomorrow 09:00 (Wed 25 Nov 09:00)", "Monday 09:00 (Mon 30 Nov 09:00)"]
    )
    # The hint's example date lies ahead of "now".
    expect(page.locator("#until-hint")).to_contain_text("2026-12-01")
    shoot(page, "followup-detail")
    picks.first.click()
    expect(page.locator(".flash-ok")).to_contain_text("Snoozed until Tue 2026-12-08")
    expect(due).to_contain_text("Tue 2026-12-08")

    # Typed "3d" lies before the bump: refused with the reason, until "bring it forward".
    page.fill("#until", "3d")
    page.click("form >> button:has-text('Snooze')")
    expect(page.locator("#until-error")).to_contain_text("would send it sooner")
    expect(page.locator("#until")).to_have_value("3d")
    expect(due).to_contain_text("Tue 2026-12-08")
    page.check("input[type=checkbox][name=earlier]")
    page.click("form >> button:has-text('Snooze')")
    expect(page.locator(".flash-ok")).to_contain_text("Brought forward to Fri 2026-11-27")

    sooner.get_by_role("button", name=re.compile("Tomorrow")).click()
    expect(page.locator(".flash-ok")).to_contain_text("Brought forward to Wed 2026-11-25 09:00")

    # The cancel dialog's buttons say what they do; "Keep it" keeps it.
    page.click("text=Stop this follow-up")
    dialog = page.locator("#cancel-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".page-head .badge")).to_have_text("Scheduled")
    context.close()


def _user_id_of_new(live) -> int:
    return make_user(live.app, "me@example.test")


def test_recipients_berlin_is_suggested_and_rows_read_as_words(browser, live, clock):
    context, page = _signed_in_page(browser, live, viewport={"width": 1280, "height": 900})
    page.click("nav.nav >> text=Recipients")
    # Someone not heard from: "Berlin" is not refused bare, Europe/Berlin is offered.
    page.fill("#address", "dana@example.test")
    page.fill("#zone", "Berlin")
    page.click("#new-recipient button:has-text('Save')")
    expect(page.locator("#zone-error")).to_contain_text("did you mean Europe/Berlin")
    expect(page.locator("#zone")).to_have_value("Berlin")  # what was typed stays
    expect(page.locator("#address")).to_have_value("dana@example.test")
    page.get_by_role("button", name="Use Europe/Berlin").click()
    expect(page.locator(".flash-ok")).to_contain_text("dana@example.test now counts as living in")
    row = page.locator('li.recipient[data-address="dana@example.test"]')
    expect(row.locator(".zone")).to_have_text("Europe/Berlin")
    expect(row).to_contain_text("set by you")
    expect(row).to_contain_text("public holidays of DE")
    expect(row).not_to_contain_text("unknown")
    expect(row).not_to_contain_text("never")

    # The same on a listed row: the typed text stays in that row, with the suggestion.
    row.get_by_role("combobox").fill("new york")
    row.get_by_role("button", name="Set").click()
    row = page.locator('li.recipient[data-address="dana@example.test"]')
    expect(row.get_by_role("combobox")).to_have_value("new york")
    expect(row.locator(".row-error")).to_contain_text("did you mean America/New_York")
    row.get_by_role("button", name="Use America/New_York").click()
    expect(row.locator(".zone")).to_have_text("America/New_York")
    shoot(page, "recipients")
    context.close()


def test_a_rule_defaults_to_send_has_a_bump_text_can_be_edited_and_removal_asks(
    browser, live, mail_world, clock
):
    context, page = _signed_in_page(browser, live, viewport={"width": 1280, "height": 900})
    me = mail_world.new_user("me")
    connect(live.app, _user_id(live), mail_world, me)
    engine = Engine(
        live.app.extensions["replywatch"]["store"],
        live.app.extensions["replywatch"]["config"],
        clock=clock.now,
    )
    engine.run_pass()  # the watcher knows the mailbox from here on
    page.click("nav.nav >> text=Rules")
    # Like a single follow-up, a new rule sends (the user chose to follow up).
    expect(page.locator("#new-rule input[name=mode][value=send]")).to_be_checked()
    page.fill("#name", "Client questions")
    page.fill("#delays", "3d")
    page.fill("#text", "Hi {frist_name}")
    page.click("button:has-text('Add rule')")
    expect(page.locator("#text-error")).to_contain_text("Unknown placeholder {frist_name}")
    expect(page.locator("#name")).to_have_value("Client questions")
    page.fill("#text", "Hi {first_name}, any thoughts on {subject}?")
    page.click("button:has-text('Add rule')")
    rule = page.locator("li.rule")
    expect(rule).to_contain_text("Send bumps after 3d if nobody replies")
    expect(rule).to_contain_text("its own bump text")

    # Edited on the page: two bumps now.
    rule.get_by_role("link", name="Edit").click()
    expect(page.locator("#rule-card h2")).to_have_text("Edit the rule")
    expect(page.locator("#text")).to_have_value("Hi {first_name}, any thoughts on {subject}?")
    page.fill("#delays", "2d, 1w")
    page.click("button:has-text('Save the rule')")
    expect(page.locator(".flash-ok")).to_contain_text("Rule 'Client questions' saved")
    expect(rule).to_contain_text("Send bumps after 2d, then 1w if nobody replies")
    shoot(page, "rules")

    # Mail sent now gets a follow-up with the rule's text on every bump.
    clock.advance(minutes=1)
    mail_world.send(me, [f"Dana <dana@{CLIENT}>"], "Contract", QUESTION)
    assert not engine.run_pass().faults
    with _store(live).session() as s:
        (f,) = s.query(FollowUp).all()
        assert [(st.delay, st.text) for st in f.stages] == [
            ("2d", "Hi {first_name}, any thoughts on {subject}?"),
            ("1w", "Hi {first_name}, any thoughts on {subject}?"),
        ]
        followup_id = f.id
    # The follow-up page shows that text as Dana will read it, and no internal names.
    page.goto(f"{live.url}/settings/followups/{followup_id}")
    expect(page.locator(".stages pre.bump").first).to_have_text(
        "Hi Dana, any thoughts on Contract?"
    )
    expect(page.locator(".facts")).to_contain_text("your rule “Client questions”")
    expect(page.locator("main")).not_to_contain_text("(#")

    # Remove asks first; "Keep it" keeps it, "Remove the rule" removes it.
    page.click("nav.nav >> text=Rules")
    rule.get_by_role("button", name="Remove").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("Remove the rule “Client questions”?")
    dialog.get_by_role("button", name="Keep it").click()
    expect(rule).to_have_count(1)
    rule.get_by_role("button", name="Remove").click()
    page.locator("dialog[open]").get_by_role("button", name="Remove the rule").click()
    expect(page.locator(".flash-ok")).to_contain_text("removed")
    expect(page.locator("li.rule")).to_have_count(0)
    context.close()
