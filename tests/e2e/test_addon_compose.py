"""Follow up while composing: the compose card puts the plus-address tag in the draft's Bcc
(Google's draft-update response, checked against Google's published shape); the message is
sent in the Gmail emulator; its Sent copy sets exactly one follow-up through the plus-address
trigger, with the delay chosen on the card."""

from __future__ import annotations

import email.policy
import json
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from app import create_app
from tests.e2e.test_addon import World
from tests.support.addon import (
    addon_overrides,
    buttons,
    card_text,
    draft_update,
    text,
    trigger_card,
    when,
)
from watcher.engine import Engine
from watcher.models import FollowUp

COMPOSE_SCOPE = "https://www.googleapis.com/auth/gmail.addons.current.action.compose"
METADATA = "https://www.googleapis.com/auth/gmail.addons.current.message.metadata"


@pytest.fixture
def world(gmail_config, google, clock):
    config = gmail_config.with_overrides(**addon_overrides())
    app = create_app(config, clock=clock.now)
    store = app.extensions["replywatch"]["store"]
    world = World(app, store, google, clock.now)
    world.engine = Engine(store, config, clock=clock.now)
    yield world
    store.dispose()


def draft(google, sender, to, subject="Proposal"):
    msg = EmailMessage()
    msg["From"] = f"{sender.name} <{sender.email}>"
    msg["To"] = to.email
    msg["Subject"] = subject
    msg.set_content("Here is the proposal.")
    saved = google.gmail.create_draft(sender.email, msg.as_bytes(policy=email.policy.SMTP))
    [draft_id] = [d for d, m in google.gmail.drafts_of(sender.email).items() if m.id == saved.id]
    return draft_id


def followups(store):
    with store.session() as s:
        return [
            (f.origin, f.mode, [st.delay for st in f.stages], f.thread_ref, f.anchor_message_id)
            for f in s.query(FollowUp).order_by(FollowUp.id)
        ]


@pytest.mark.parametrize(
    "form, tag, delay, mode",
    [
        ({"when": text("2w"), "mode": text("send")}, "2w", "2w", "send"),
        ({"when": text("1w"), "mode": text("remind")}, "1w-remind", "1w", "remind"),
        ({"when": text("date"), "mode": text("send")}, "10d", "10d", "send"),
    ],
)
def test_compose_card_tag_in_bcc_then_sent_copy_sets_one_followup(
    world, clock, form, tag, delay, mode
):
    alice, bob, carol = (world.google.new_user(n) for n in ("alice", "bob", "carol"))
    world.connect(alice)
    world.engine.run_pass()  # the watcher knows the mailbox before anything is sent
    if "date" in str(form["when"]):  # ten days on, at noon in her zone (Europe/Berlin)
        zone = ZoneInfo("Europe/Berlin")
        day = clock.now().astimezone(zone).date() + timedelta(days=10)
        form["at"] = when(int(datetime.combine(day, time(12), zone).timestamp() * 1000))

    opened = world.addon.compose_event(alice.email, to=(bob.email,), bcc=(carol.email,))
    assert opened["gmail"] == {"toRecipients": [bob.email], "bccRecipients": [carol.email]}
    card = trigger_card(world.addon.post("compose", opened).get_json())
    assert {b["text"] for b in buttons(card)} == {"Add to Bcc", "Send later instead"}

    chosen = world.addon.compose_event(alice.email, form=form, bcc=(carol.email,))
    bcc, [shown], note = draft_update(world.addon.post("compose-tag", chosen).get_json())
    local, domain = alice.email.split("@")
    address = f"{local}+{tag}@{domain}"
    assert bcc == [carol.email, address]  # her own Bcc kept, the tag added
    assert address in card_text(shown) and "delete that address from Bcc" in card_text(shown)
    assert note == f"Added {address} to Bcc"
    assert followups(world.store) == []  # nothing until the message is sent

    draft_id = draft(world.google, alice, bob)
    world.google.gmail.update_draft(
        alice.email,
        draft_id,
        {"updateBccRecipients": {"bccRecipients": [{"email": a} for a in bcc]}},
    )
    sent = world.google.gmail.send_draft(alice.email, draft_id)
    assert address in sent.header("Bcc") and "SENT" in sent.labels
    assert world.google.gmail.find(carol.email, sent.message_id)  # Carol got it too

    world.engine.run_pass()
    world.engine.run_pass()  # a second pass adds nothing
    [(origin, got_mode, delays, thread_ref, anchor)] = followups(world.store)
    assert (origin, got_mode, delays) == (f"plus-address {address}", mode, [delay])
    assert (thread_ref, anchor) == (sent.thread_id, sent.message_id)


def test_choosing_again_replaces_the_tag_and_remove_takes_it_out(world):
    alice, carol = world.google.new_user("alice"), world.google.new_user("carol")
    world.connect(alice)
    local, domain = alice.email.split("@")
    first = f"{local}+2w@{domain}"
    event = world.addon.compose_event(
        alice.email,
        form={"when": text("3d"), "mode": text("send")},
        bcc=(carol.email, first),
    )
    bcc, _, _ = draft_update(world.addon.post("compose-tag", event).get_json())
    assert bcc == [carol.email, f"{local}+3d@{domain}"]

    event = world.addon.compose_event(alice.email, bcc=(carol.email, f"{local}+3d@{domain}"))
    bcc, [card], note = draft_update(world.addon.post("compose-untag", event).get_json())
    assert bcc == [carol.email] and note == "Follow-up tag removed"
    assert "no follow-up" in card_text(card)


def test_compose_asks_for_the_compose_scope_when_it_was_not_granted(world):
    alice = world.google.new_user("alice")
    world.connect(alice)
    event = world.addon.compose_event(alice.email)
    event["authorizationEventObject"]["authorizedScopes"] = [
        "https://www.googleapis.com/auth/gmail.addons.execute",
        "https://www.googleapis.com/auth/userinfo.email",
    ]
    for name in ("compose", "compose-choose"):
        body = world.addon.post(name, event).get_json()
        assert body == {"requesting_google_scopes": {"scopes": [COMPOSE_SCOPE]}}, name
    for name in ("compose-tag", "compose-untag"):  # these replace the Bcc: they need it sent
        body = world.addon.post(name, event).get_json()
        assert body == {"requesting_google_scopes": {"scopes": [COMPOSE_SCOPE, METADATA]}}, name


def test_compose_without_a_connected_account_offers_to_connect(world):
    alice = world.google.new_user("alice")
    card = trigger_card(
        world.addon.post("compose", world.addon.compose_event(alice.email)).get_json()
    )
    assert "Connect Google account" in card_text(card)


def test_a_date_today_or_a_missing_choice_is_a_notification_and_no_change(world, clock):
    alice = world.google.new_user("alice")
    world.connect(alice)
    today = int(clock.now().timestamp() * 1000)
    for form in ({"when": text("date"), "at": when(today)}, {"mode": text("send")}):
        body = world.addon.post("compose-tag", world.addon.compose_event(alice.email, form=form))
        assert body.status_code == 200
        action = body.get_json()["renderActions"]
        assert set(action) == {"action"} and "notification" in action["action"]  # no Bcc change


def test_send_later_from_the_compose_card_then_the_closed_draft_goes_out_on_time(
    world, clock, gcli
):
    """Google's compose event has no draft id or text, so "Send later instead" puts the
    send-later tag in Bcc; the user closes the draft; the watcher finds it in Drafts."""
    alice, bob, carol = (world.google.new_user(n) for n in ("alice", "bob", "carol"))
    world.connect(alice)
    code, _, err = gcli("account", "triggers", alice.email, "on")  # drafts are read on opt-in
    assert code == 0, err
    code, _, err = gcli("defaults", "--user", alice.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err  # any day, any hour: the time depends on the delay alone
    world.engine.run_pass()
    local, domain = alice.email.split("@")
    old_tag = f"{local}+2w@{domain}"  # an earlier "Add to Bcc": the choice replaces it
    chosen = world.addon.compose_event(
        alice.email, form={"when": text("3d"), "mode": text("send")}, bcc=(carol.email, old_tag)
    )
    bcc, [shown], note = draft_update(world.addon.post("compose-later", chosen).get_json())
    address = f"{local}+later-3d@{domain}"
    assert bcc == [carol.email, address]
    assert "do not press Send" in card_text(shown) and "in 3 days" in card_text(shown)
    assert note == f"Added {address} to Bcc: close the draft"

    # She closes the compose window: Gmail saves the draft as the window shows it (a saved
    # version is a new message in Gmail's history; the emulator's update_draft edits in place).
    msg = EmailMessage()
    msg["From"] = f"{alice.name} <{alice.email}>"
    msg["To"] = bob.email
    msg["Bcc"] = ", ".join(bcc)
    msg["Subject"] = "Catching up"
    msg.set_content("Following up on our call: how is it going?")
    world.google.gmail.create_draft(alice.email, msg.as_bytes(policy=email.policy.SMTP))
    world.engine.run_pass()  # the closed draft is found and scheduled
    assert followups(world.store) == []
    clock.advance(days=3, hours=1)
    world.engine.run_pass()
    [sent] = [m for m in world.google.gmail.messages(alice.email, "SENT")]
    assert sent.header("Subject") == "Catching up" and address not in sent.header("Bcc")
    assert world.google.gmail.find(bob.email, sent.message_id)
    assert world.google.gmail.find(carol.email, sent.message_id)  # her own Bcc kept
    assert world.google.gmail.drafts_of(alice.email) == {}

    again = world.addon.compose_event(alice.email, bcc=(carol.email, address))
    bcc, _, _ = draft_update(world.addon.post("compose-untag", again).get_json())
    assert bcc == [carol.email]  # "Remove" takes a send-later tag out too


def test_send_later_on_an_account_whose_drafts_are_not_read_says_so_and_adds_nothing(world):
    alice, carol = world.google.new_user("alice"), world.google.new_user("carol")
    world.connect(alice)  # Replywatch labels off: drafts are not read
    chosen = world.addon.compose_event(
        alice.email, form={"when": text("1w"), "mode": text("send")}, bcc=(carol.email,)
    )
    body = world.addon.post("compose-later", chosen).get_json()
    assert "hostAppAction" not in body["renderActions"]  # the Bcc is left as it is
    assert "Turn them on under Accounts" in json.dumps(body)
