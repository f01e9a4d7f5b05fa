"""Who the add-on lets in and as whom (issue 16): fail closed with no allow-list, Google's
account id (`sub`) pinned on first use, linking to a local user only when Google vouches, and
no 500 for a deeply nested body. Tokens are signed by the OAuth emulator's key."""

from __future__ import annotations

import pytest

from app import create_app
from tests.support.addon import Addon, addon_overrides, card_text, sub_of, trigger_card
from watcher.models import User


@pytest.fixture
def make_world(gmail_config, google):
    made = []

    def make(**overrides):
        app = create_app(gmail_config.with_overrides(**addon_overrides(), **overrides))
        made.append(app)
        return app, Addon(app.test_client(), google)

    yield make
    for app in made:
        app.extensions["replywatch"]["store"].dispose()


def _users(app) -> dict[str, str | None]:
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:
        return {u.email: u.google_sub for u in s.query(User)}


def refusal(answer) -> str:
    """A refused identity gets a card that says why, with HTTP 200: Gmail shows any other
    status as a generic error (issue 17)."""
    assert answer.status_code == 200
    card = card_text(trigger_card(answer.get_json()))
    assert "Not available to you" in card
    return card


def _event_as(addon: Addon, email: str, **claims) -> dict:
    event = addon.event(email)
    event["authorizationEventObject"]["userIdToken"] = addon.user_token(email, **claims)
    return event


def test_with_no_allow_list_only_the_owner_gets_in_and_nobody_else_gets_a_row(make_world, google):
    app, addon = make_world()
    owner, stranger = google.new_user("owner"), google.new_user("stranger")
    assert addon.post("homepage", addon.event(owner.email)).status_code == 200  # the first user
    refused = addon.post("homepage", addon.event(stranger.email))
    assert "REPLYWATCH_ALLOWED_USERS" in refusal(refused)
    assert set(_users(app)) == {owner.email}
    assert addon.post("homepage", addon.event(owner.email)).status_code == 200


def test_the_google_account_id_is_pinned_on_first_use(make_world, google):
    app, addon = make_world(allowed_users=(f"@{google.domain}",))
    alice = google.new_user("alice")
    assert addon.post("homepage", addon.event(alice.email)).status_code == 200
    assert _users(app)[alice.email] == sub_of(alice.email)  # recorded
    # The address later belongs to another Google account (re-created, recycled): refused.
    other = addon.post("homepage", _event_as(addon, alice.email, sub="999000999000"))
    assert "different Google account" in refusal(other)
    assert _users(app)[alice.email] == sub_of(alice.email)


def test_a_local_user_is_linked_only_when_google_vouches_for_the_domain(make_world, google):
    from web.auth import hash_password

    app, addon = make_world()
    owner = google.new_user("owner")
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:  # first-run setup made the owner with a password
        store.get_or_create_user(s, owner.email).password_hash = hash_password("a long password")
    # No `hd` claim and not @gmail.com: a Google account for that address proves nothing.
    refused = addon.post("homepage", addon.event(owner.email))
    assert "sign in with it first" in refusal(refused)
    assert _users(app)[owner.email] is None
    # A Workspace domain Google hosts: the `hd` claim names it.
    domain = owner.email.split("@")[1]
    assert addon.post("homepage", _event_as(addon, owner.email, hd=domain)).status_code == 200
    assert _users(app)[owner.email] == sub_of(owner.email)


def test_a_deeply_nested_body_with_a_valid_token_is_a_400_on_every_endpoint(make_world, google):
    app, addon = make_world(allowed_users=(f"@{google.domain}",))
    body = b"[" * 50_000
    for name in ("homepage", "on-message", "create", "show", "page", "cancel", "snooze", "save"):
        answer = addon.post(name, None, raw=body)
        assert answer.status_code == 400, (name, answer.status_code)
    assert _users(app) == {}


def test_an_odd_view_offset_falls_back_instead_of_failing(make_world, google):
    """cancel/snooze come back to the list page named in `view`; "home:²" passed isdigit()."""
    from datetime import UTC, datetime

    from watcher import followups as fu_ops
    from watcher.mailbox import MessageSummary
    from watcher.schedule import parse_delay

    app, addon = make_world(allowed_users=(f"@{google.domain}",))
    alice = google.new_user("alice")
    store, now = app.extensions["replywatch"]["store"], datetime.now(UTC)
    # (view, answer): a small odd offset falls back to the first page; a 5,000-digit one is
    # refused by the event parser as bad input before anything changes.
    views = ("home:\u00b2", "home:\u0661", "home:99999999999", "home:" + "9" * 5000)
    expected = (200, 200, 200, 400)
    with store.session() as s:
        user = store.get_or_create_user(s, alice.email)
        user.google_sub = sub_of(alice.email)
        account = store.add_account(
            s, user, kind="gmail", email=alice.email, settings={}, secret="{}", now=now
        )
        ids = []
        for i, _ in enumerate(views):
            anchor = MessageSummary(
                ref=f"m{i}",
                message_id=f"<odd-{i}@gmail.test>",
                subject=f"Odd {i}",
                from_addr=alice.email,
                to=("bob@example.test",),
                date=now,
                in_sent=True,
            )
            stages = [fu_ops.StageSpec(delay=parse_delay("1w"))]
            followup = fu_ops.create_followup(
                store, s, account=account, anchor=anchor, stages=stages, now=now
            )
            ids.append(followup.id)
    for followup_id, view, status in zip(ids, views, expected, strict=True):
        event = addon.event(alice.email, params={"id": str(followup_id), "view": view})
        answer = addon.post("cancel", event)
        assert answer.status_code == status, (view[:20], answer.status_code)
        with store.session() as s:
            state = store.get_followup(s, followup_id).state
        assert state == ("cancelled" if status == 200 else "active")
