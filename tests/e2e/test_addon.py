"""The Gmail add-on end to end: Google's signed events in, Card v1 out, follow-ups in the store.

The open message is read through the Gmail emulator with the add-on's per-message token; every
card is validated against google.apps.card.v1.Card; every write is checked in the database.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from tests.support.addon import (
    Addon,
    action_parts,
    addon_overrides,
    buttons,
    card_text,
    draft_update,
    sub_of,
    text,
    trigger_card,
    when,
    widgets,
)
from watcher.models import AccountStatus, Event, FollowUp, User


@pytest.fixture
def world(gmail_config, google, clock):
    # Everyone at the emulator's domain may use this deployment (the default is the owner only).
    config = gmail_config.with_overrides(**addon_overrides(), allowed_users=(f"@{google.domain}",))
    app = create_app(config, clock=clock.now)
    store = app.extensions["replywatch"]["store"]
    yield World(app, store, google, clock.now)
    store.dispose()


class World:
    def __init__(self, app, store, google, clock):
        self.app, self.store, self.google = app, store, google
        self.clock = clock  # the app's "now": expected times are counted from it
        self.addon = Addon(app.test_client(), google)

    def connect(self, who, timezone="Europe/Berlin"):
        with self.store.session() as s:
            user = self.store.get_or_create_user(s, who.email)
            user.timezone = timezone
            user.google_sub = sub_of(
                who.email
            )  # linked, as Connect Google on the settings page does
            self.store.add_account(
                s,
                user,
                kind="gmail",
                email=who.email,
                settings={},
                secret=json.dumps({"refresh_token": self.google.refresh_token(who)}),
                display_name=who.name,
                now=self.clock(),
            )

    def sent(self, sender, to, subject="Proposal"):
        message_id = self.google.send(sender, to, subject, "Here is the proposal.")
        return self.google.gmail.find(sender.email, message_id)[0]

    def followups(self):
        with self.store.session() as s:
            return [
                (f.id, f.state, f.due_at, f.mode, len(f.stages))
                for f in s.query(FollowUp).order_by(FollowUp.id)
            ]

    def snapshot(self):
        with self.store.session() as s:
            rows = [(f.id, f.state, f.due_at, f.mode) for f in s.query(FollowUp)]
            return rows, s.query(Event).count()


def _create_form(preset="1w", **extra):
    form = {"when": text(preset), "mode": text("send"), "then_1": text(""), "then_2": text("")}
    form.update(extra)
    return form


# -- triggers -------------------------------------------------------------------------------


def test_not_connected_gets_an_authorization_prompt_not_an_error(world):
    alice, bob = world.google.new_user("alice"), world.google.new_user("bob")
    msg = world.sent(alice, [bob])
    response = world.addon.post("on-message", world.addon.event(alice.email, msg=msg))
    assert response.status_code == 200
    card = trigger_card(response.get_json())
    links = [b["onClick"]["openLink"]["url"] for b in buttons(card) if "openLink" in b["onClick"]]
    assert links == ["https://replywatch.test/settings/connect/google"]
    assert world.google.gmail.calls(alice.email)["messages.get"] == 0  # nothing read
    home = trigger_card(world.addon.post("homepage", world.addon.event(alice.email)).get_json())
    assert "Connect Google account" in card_text(home)


def test_message_open_shows_the_form_then_create_then_the_follow_up(world):
    alice, bob = world.google.new_user("alice"), world.google.new_user("bob")
    world.connect(alice)
    msg = world.sent(alice, [bob], "Quarterly <numbers>")
    event = world.addon.event(alice.email, msg=msg)
    card = trigger_card(world.addon.post("on-message", event).get_json())
    shown = card_text(card)
    assert "Quarterly &lt;numbers&gt;" in shown and "bob-" in shown  # who and what, escaped
    names = {
        w[k]["name"]
        for w in widgets(card)
        for k in ("selectionInput", "dateTimePicker", "textInput")
        if k in w
    }
    assert names == {"when", "at", "then_1", "then_2", "mode", "text"}
    text_input = next(w["textInput"] for w in widgets(card) if "textInput" in w)
    assert text_input["value"].startswith("Hi Bob,")  # the user's template, filled in
    assert world.google.gmail.calls(alice.email)["messages.get"] == 1

    form = _create_form("2w", then_1=text("1w"), text=text("Hi Bob, any news? {sic}"))
    body = world.addon.post("create", world.addon.event(alice.email, msg=msg, form=form)).get_json()
    cards_, note = action_parts(body)
    assert note.startswith("Follow-up set: will send a bump")
    [(fid, state, due, mode, n)] = world.followups()
    assert (state, mode, n) == ("active", "send", 2)
    assert due > world.clock() + timedelta(days=13)
    with world.store.session() as s:
        f = s.get(FollowUp, fid)
        assert f.thread_ref == msg.thread_id and f.anchor_message_id == msg.message_id
        assert f.stages[0].text == "Hi Bob, any news? {{sic}}"  # kept literally at send time
    assert "Scheduled" in card_text(cards_[0])

    # Opening the thread again shows the follow-up with cancel / snooze / edit.
    again = trigger_card(world.addon.post("on-message", event).get_json())
    labels = {b["text"] for b in buttons(again)}
    assert {"Snooze 1 day", "Snooze 1 week", "Snooze until this date", "Edit"} <= labels
    assert "created" in card_text(again)  # the history


def test_sequence_date_and_remind_only(world):
    alice, bob = world.google.new_user("alice"), world.google.new_user("bob")
    world.connect(alice)
    msg = world.sent(alice, [bob])
    at = world.clock().replace(microsecond=0) + timedelta(days=5)
    form = _create_form(
        "date",
        at=when(int(at.timestamp() * 1000)),
        then_1=text("3d"),
        then_2=text("2w"),
        mode=text("remind"),
    )
    body = world.addon.post("create", world.addon.event(alice.email, msg=msg, form=form)).get_json()
    _, note = action_parts(body)
    assert "remind you" in note
    [(_, state, due, mode, n)] = world.followups()
    assert (state, due, mode, n) == ("active", at, "remind", 3)


def test_homepage_pages_follow_ups_and_puts_attention_first(world):
    alice, bob = world.google.new_user("alice"), world.google.new_user("bob")
    world.connect(alice)
    for n in range(23):
        msg = world.sent(alice, [bob], f"Topic {n}")
        form = _create_form("3d")
        event = world.addon.event(alice.email, msg=msg, form=form)
        action_parts(world.addon.post("create", event).get_json())
    with world.store.session() as s:
        account = world.store.find_account(s, alice.email)
        account.status = AccountStatus.NEEDS_ATTENTION
        account.status_reason = "Google refused access: reconnect the account"
    card = trigger_card(world.addon.post("homepage", world.addon.event(alice.email)).get_json())
    assert card["sections"][0]["header"] == "Needs your attention"
    assert "reconnect" in card_text(card["sections"][0])
    listed = card["sections"][-1]
    assert listed["header"] == "Scheduled follow-ups (1-20 of 23)"
    pager = [b for b in buttons(card) if b["text"] == "Next"]
    assert pager and pager[0]["onClick"]["action"]["parameters"] == [
        {"key": "offset", "value": "20"}
    ]
    page2 = world.addon.event(alice.email, params={"offset": "20"})
    [card2], _ = action_parts(world.addon.post("page", page2).get_json())
    assert card2["sections"][-1]["header"] == "Scheduled follow-ups (21-23 of 23)"

    # Cancel from the list: the list comes back without it.
    first = next(b for b in buttons(card) if b["text"] == "Cancel")
    params = {p["key"]: p["value"] for p in first["onClick"]["action"]["parameters"]}
    body = world.addon.post("cancel", world.addon.event(alice.email, params=params)).get_json()
    [after], note = action_parts(body)
    assert note == "Follow-up cancelled"
    assert after["sections"][-1]["header"] == "Scheduled follow-ups (1-20 of 22)"


def test_snooze_edit_and_save(world):
    alice, bob = world.google.new_user("alice"), world.google.new_user("bob")
    world.connect(alice)
    msg = world.sent(alice, [bob])
    event = world.addon.event(alice.email, msg=msg, form=_create_form("3d"))
    action_parts(world.addon.post("create", event).get_json())
    [(fid, *_)] = world.followups()
    params = {"id": str(fid), "until": "1w"}
    body = world.addon.post("snooze", world.addon.event(alice.email, params=params)).get_json()
    _, note = action_parts(body)
    assert note.startswith("Snoozed until")
    [(_, _, snoozed, _, _)] = world.followups()
    assert snoozed > world.clock() + timedelta(days=6, hours=23)

    target = world.clock().replace(microsecond=0) + timedelta(days=10)
    params = {"id": str(fid), "until": "date"}
    form = {"snooze_at": when(int(target.timestamp() * 1000))}
    event = world.addon.event(alice.email, params=params, form=form)
    action_parts(world.addon.post("snooze", event).get_json())
    assert world.followups()[0][2] == target

    [edit_card], _ = action_parts(
        world.addon.post("edit", world.addon.event(alice.email, params={"id": str(fid)})).get_json()
    )
    assert "Hi Bob," in card_text(edit_card)
    form = {"mode": text("remind"), "text": text("Ping {me}")}
    event = world.addon.event(alice.email, params={"id": str(fid)}, form=form)
    body = world.addon.post("save", event).get_json()
    _, note = action_parts(body)
    assert note == "Follow-up saved" and body["renderActions"]["action"]["navigations"][0] == {
        "pop": True
    }
    with world.store.session() as s:
        f = s.get(FollowUp, fid)
        assert f.mode == "remind" and f.stages[0].text == "Ping {{me}}"


def test_mistakes_come_back_as_notifications_and_change_nothing(world):
    alice, bob, eve = (world.google.new_user(n) for n in ("alice", "bob", "eve"))
    world.connect(alice)
    world.connect(eve)
    msg = world.sent(alice, [bob])
    event = world.addon.event(alice.email, msg=msg, form=_create_form("3d"))
    action_parts(world.addon.post("create", event).get_json())
    [(fid, *_)] = world.followups()
    before = world.snapshot()
    past = int((world.clock() - timedelta(days=1)).timestamp() * 1000)
    cases = [
        ("create", world.addon.event(alice.email, msg=msg, form=_create_form("3d"))),  # again
        (
            "create",
            world.addon.event(alice.email, msg=msg, form=_create_form("date", at=when(past))),
        ),
        (
            "create",
            world.addon.event(alice.email, msg=msg, form=_create_form(text=text("x" * 6000))),
        ),
        ("snooze", world.addon.event(alice.email, params={"id": "99999", "until": "1d"})),
        ("cancel", world.addon.event(eve.email, params={"id": str(fid)})),  # not eve's
        ("snooze", world.addon.event(eve.email, params={"id": str(fid), "until": "1w"})),
        (
            "save",
            world.addon.event(eve.email, params={"id": str(fid)}, form={"mode": text("send")}),
        ),
        (
            "snooze",
            world.addon.event(
                alice.email,
                params={"id": str(fid), "until": "date"},
                form={"snooze_at": when(past)},
            ),
        ),
    ]
    for name, event in cases:
        response = world.addon.post(name, event)
        assert response.status_code == 200, (name, response.get_data(as_text=True))
        cards_, note = action_parts(response.get_json())
        assert note and not cards_, (name, note)
    assert world.snapshot() == before


def test_a_message_from_someone_else_is_not_followed_up(world):
    alice, bob = world.google.new_user("alice"), world.google.new_user("bob")
    world.connect(alice)
    world.sent(bob, [alice], "Question")
    inbox = world.google.gmail.messages(alice.email)[-1]
    card = trigger_card(
        world.addon.post("on-message", world.addon.event(alice.email, msg=inbox)).get_json()
    )
    assert "Nothing to follow up" in card_text(card)


# -- who may call ---------------------------------------------------------------------------


def test_requests_without_proof_are_refused_and_change_nothing(world):
    from tests.support.addon import ADDON_CLIENT_ID, OTHER_PROJECT, foreign_signer

    alice, bob = world.google.new_user("alice"), world.google.new_user("bob")
    world.connect(alice)
    msg = world.sent(alice, [bob])
    event = world.addon.event(alice.email, msg=msg, form=_create_form("3d"))
    kid = world.google.oauth.kid
    sys_token = world.addon.system_token
    cases = {
        "missing": (None, 401),
        "not bearer": ("", 401),
        "garbage": ("not-a-jwt", 401),
        "forged": (sys_token("create", signer=foreign_signer(kid)), 401),
        "expired": (sys_token("create", exp=1_600_000_000, iat=1_599_996_400), 401),
        "other endpoint": (sys_token("homepage"), 401),
        "query added": (sys_token("create", aud="https://replywatch.test/addon/create?x=1"), 401),
        "other issuer": (sys_token("create", iss="https://evil.example"), 401),
        "other project": (sys_token("create", email=OTHER_PROJECT), 403),
        "unverified": (sys_token("create", email_verified=False), 403),
        "user token as system token": (world.addon.user_token(alice.email), 401),
    }
    for what, (token, status) in cases.items():
        response = world.addon.post("create", event, token=token)
        assert response.status_code == status, (what, response.get_data(as_text=True))
    forged_user = dict(event)
    forged_user["authorizationEventObject"] = dict(
        event["authorizationEventObject"],
        userIdToken=world.addon.user_token(alice.email, signer=foreign_signer(kid)),
    )
    wrong_aud = dict(event)
    wrong_aud["authorizationEventObject"] = dict(
        event["authorizationEventObject"],
        userIdToken=world.addon.user_token(alice.email, aud="someone-else"),
    )
    assert ADDON_CLIENT_ID not in json.dumps(wrong_aud["authorizationEventObject"]["userIdToken"])
    for body in (forged_user, wrong_aud):
        assert world.addon.post("create", body).status_code == 401
    assert world.followups() == []


# -- malformed events -----------------------------------------------------------------------


def test_structurally_malformed_events_get_400(world):
    alice = world.google.new_user("alice")
    world.connect(alice)
    good = world.addon.event(alice.email)
    cases = [
        b"",
        b"not json",
        b"[]",
        b'{"commonEventObject": 3}',
        json.dumps({**good, "gmail": {"messageId": 1234567}}).encode(),  # not a string
        json.dumps({**good, "gmail": {"messageId": "msg-f:1\n2"}}).encode(),  # no Gmail id
        json.dumps({**good, "authorizationEventObject": {}}).encode(),
    ]
    for raw in cases:
        response = world.addon.post("homepage", None, raw=raw)
        assert response.status_code == 400, raw
    huge = json.dumps({**good, "pad": "x" * 400_000}).encode()
    assert world.addon.post("homepage", None, raw=huge).status_code == 413
    bad_id = world.addon.event(alice.email, params={"id": "12abc"})
    assert world.addon.post("cancel", bad_id).status_code == 400


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
ENDPOINTS = [
    "homepage",
    "on-message",
    "create",
    "cancel",
    "snooze",
    "save",
    "page",
    "compose",
    "compose-tag",
    "compose-untag",
]
_names = st.sampled_from(ENDPOINTS)
_fields = st.sampled_from(["when", "at", "then_1", "then_2", "mode", "text", "snooze_at"])
_odd_text = st.sampled_from(
    [
        "",
        "1",
        "3d",
        "1w",
        "2w",
        "date",
        "send",
        "remind",
        "home:0",
        "home:x",
        "-1",
        "99999999",
        "{",
        "{first_name",
        "\u0000",
        "x" * 6000,
        "1e999",
        "NaN",
        "٣",
    ]
) | st.text(max_size=12)
_number = st.integers() | st.floats() | _odd_text
_inputs = st.one_of(
    st.builds(lambda v: {"stringInputs": {"value": v}}, st.lists(_odd_text, max_size=2)),
    st.builds(lambda ms, t: {"dateTimeInput": {"msSinceEpoch": ms, "hasTime": t}}, _number, _json),
    st.builds(lambda ms: {"dateInput": {"msSinceEpoch": ms}}, _number),
    st.builds(lambda v: {"": v}, _json),
    _json,
)
_params = st.dictionaries(st.sampled_from(["id", "until", "offset", "view"]), _odd_text | _json)


@pytest.fixture
def malformed_world(world):
    """Alice has a follow-up. The events come from Eve, whose open message is Bob's (so no
    create can succeed and no generated id can be hers): any write would be a bug."""
    alice, bob, eve = (world.google.new_user(n) for n in ("alice", "bob", "eve"))
    world.connect(alice)
    world.connect(eve)
    msg = world.sent(alice, [bob])
    event = world.addon.event(alice.email, msg=msg, form=_create_form("3d"))
    action_parts(world.addon.post("create", event).get_json())
    world.sent(bob, [eve], "For Eve")
    return world, eve, world.google.gmail.messages(eve.email)[-1]


def test_thousands_of_malformed_events_never_500_never_write(malformed_world):
    world, eve, msg = malformed_world
    tokens = world.google.gmail.addon_tokens(eve.email, msg.id)
    base = world.addon.event(eve.email, msg=msg, tokens=tokens, form=_create_form("3d"))
    names = ENDPOINTS
    system = {name: world.addon.system_token(name) for name in names}
    before = world.snapshot()
    seen: dict = {"count": 0}

    @settings(
        max_examples=1500,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(
        name=_names,
        mutation=st.one_of(
            st.tuples(st.just("form"), st.dictionaries(_fields, _inputs, max_size=4)),
            st.tuples(st.just("form"), st.dictionaries(_fields, _inputs, max_size=4)),
            st.tuples(st.just("params"), _params),
            st.tuples(st.just("params"), _params),
            st.tuples(st.just("zone"), _json | _odd_text),
            st.tuples(st.just("common"), _json),
            st.tuples(st.just("gmail"), _json),
            st.tuples(st.just("auth"), _json),
            st.tuples(st.just("body"), _json),
        ),
    )
    def post(name, mutation):
        where, value = mutation
        event = json.loads(json.dumps(base))
        common = event["commonEventObject"]
        if where == "common":
            event["commonEventObject"] = value
        elif where == "form":
            common["formInputs"] = value
        elif where == "params":
            common["parameters"] = value
        elif where == "zone":
            common["timeZone"] = {"id": value, "offset": value}
        elif where == "gmail":
            event["gmail"] = value
        elif where == "auth":
            event["authorizationEventObject"] = value
        else:
            event = value
        raw = json.dumps(event, allow_nan=True).encode()
        response = world.addon.post(name, None, token=system[name], raw=raw)
        seen["count"] += 1
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (name, event, response.get_data(as_text=True))
        if response.status_code == 200:
            body = response.get_json()
            if "action" in body:
                trigger_card(body)
            elif "hostAppAction" in body.get("renderActions", {}):
                draft_update(body)
            else:
                action_parts(body)

    post()
    assert seen["count"] >= 1000
    assert seen.get(200, 0) >= 200  # many got past the shape checks into the handlers
    rows, _events = world.snapshot()
    assert rows == before[0]  # no follow-up created, cancelled or moved


def test_missing_granular_consent_asks_for_the_message_scope(world):
    alice, bob = world.google.new_user("alice"), world.google.new_user("bob")
    world.connect(alice)
    msg = world.sent(alice, [bob])
    event = world.addon.event(alice.email, msg=msg)
    event["authorizationEventObject"]["authorizedScopes"] = [
        "https://www.googleapis.com/auth/gmail.addons.execute"
    ]
    body = world.addon.post("on-message", event).get_json()
    assert body == {
        "requesting_google_scopes": {
            "scopes": ["https://www.googleapis.com/auth/gmail.addons.current.message.metadata"]
        }
    }
    assert world.google.gmail.calls(alice.email)["messages.get"] == 0


def test_allow_list_keeps_out_addresses_not_on_it(gmail_config, google, clock):
    """REPLYWATCH_ALLOWED_USERS: a verified Google user not on it gets a card that says so
    (HTTP 200: Gmail shows any other status as a generic error) and no user row."""
    config = gmail_config.with_overrides(**addon_overrides(), allowed_users=("@corp.example",))
    app = create_app(config, clock=clock.now)
    store = app.extensions["replywatch"]["store"]
    world = World(app, store, google, clock.now)
    outsider = google.new_user("mallory")
    response = world.addon.post("homepage", world.addon.event(outsider.email))
    assert response.status_code == 200
    card = trigger_card(response.get_json())
    assert f"{outsider.email} may not use this Replywatch deployment" in card_text(card)
    cancel = world.addon.event(outsider.email, params={"id": "1"})
    [card], note = action_parts(world.addon.post("cancel", cancel).get_json())
    assert note is None and "REPLYWATCH_ALLOWED_USERS" in card_text(card)
    compose = world.addon.post("compose", world.addon.compose_event(outsider.email))
    assert "may not use" in card_text(trigger_card(compose.get_json()))
    with store.session() as s:
        assert store.list_accounts(s) == []
        assert s.query(User).count() == 0
    store.dispose()


# -- Gmail's id forms (msg-a:r… for sent, msg-f:… for received) -------------------------------


@pytest.fixture
def timed_world(gmail_config, google, clock):
    """The add-on and the watcher on one database and one injected clock."""
    from watcher.engine import Engine

    config = gmail_config.with_overrides(**addon_overrides())
    app = create_app(config, clock=clock.now)
    store = app.extensions["replywatch"]["store"]
    world = World(app, store, google, clock.now)
    world.engine = Engine(store, config, clock=clock.now)
    yield world
    store.dispose()


def test_sent_and_received_ids_card_followup_bump_in_the_same_thread(timed_world, clock):
    """Bob writes (msg-f:… / thread-f:…), Alice answers (msg-a:r… in thread-f:…): the card on
    her answer sets the follow-up; on Bob's message the card snoozes and edits it; the bump
    goes out in that thread. Every id the add-on passed is one Gmail's add-on gives."""
    world = timed_world
    alice, bob = world.google.new_user("alice"), world.google.new_user("bob")
    world.connect(alice)
    with world.store.session() as s:
        user = world.store.get_or_create_user(s, alice.email)
        user.send_days, user.send_hours = "mon-sun", "00:00-24:00"
    first_id = world.google.send(bob, [alice], "Offer", "Would you like the offer?")
    [received] = world.google.gmail.find(alice.email, first_id)
    answer_id = world.google.send(
        alice, [bob], "Re: Offer", "Here are my questions.", in_reply_to=first_id
    )
    [answer] = world.google.gmail.find(alice.email, answer_id)
    assert answer.thread_id == received.thread_id
    sent_ids = world.google.gmail.addon_ids(alice.email, answer)
    received_ids = world.google.gmail.addon_ids(alice.email, received)
    assert sent_ids[0].startswith("msg-a:r") and received_ids[0].startswith("msg-f:")
    assert sent_ids[1] == received_ids[1] and received_ids[1].startswith("thread-f:")

    on_answer = world.addon.event(alice.email, msg=answer)
    assert on_answer["gmail"]["messageId"] == sent_ids[0]
    card = trigger_card(world.addon.post("on-message", on_answer).get_json())
    assert "Follow up if no reply" in card_text(card)
    create = world.addon.event(alice.email, msg=answer, form=_create_form("3d"))
    _, note = action_parts(world.addon.post("create", create).get_json())
    assert note.startswith("Follow-up set")
    with world.store.session() as s:
        [f] = s.query(FollowUp).all()
        # Stored as Gmail's REST answer names them, never the add-on's forms.
        assert (f.thread_ref, f.anchor_message_id) == (answer.thread_id, answer_id)
        fid = f.id

    on_received = world.addon.event(alice.email, msg=received)
    card = trigger_card(world.addon.post("on-message", on_received).get_json())
    assert {"Snooze 1 day", "Edit", "Cancel follow-up"} <= {b["text"] for b in buttons(card)}
    snooze = world.addon.event(alice.email, msg=received, params={"id": str(fid), "until": "1w"})
    _, note = action_parts(world.addon.post("snooze", snooze).get_json())
    assert note.startswith("Snoozed until")
    edit = world.addon.event(alice.email, msg=received, params={"id": str(fid)})
    [edit_card], _ = action_parts(world.addon.post("edit", edit).get_json())
    assert "Edit follow-up" in card_text(edit_card)
    save = world.addon.event(
        alice.email, msg=received, params={"id": str(fid)}, form={"text": text("Any news?")}
    )
    _, note = action_parts(world.addon.post("save", save).get_json())
    assert note == "Follow-up saved"

    clock.advance(days=2)
    world.engine.run_pass()
    assert world.followups()[0][1] == "active"  # snoozed from day 3 to day 7
    clock.advance(days=6)
    world.engine.run_pass()
    mine = world.google.gmail.thread_of(alice.email, answer.thread_id)
    [bump] = [m for m in mine if "Any news?" in m.text()]
    assert "SENT" in bump.labels and bump.header("In-Reply-To") == answer_id


def test_cancel_on_a_sent_message_card(world):
    alice, bob = world.google.new_user("alice"), world.google.new_user("bob")
    world.connect(alice)
    msg = world.sent(alice, [bob])
    event = world.addon.event(alice.email, msg=msg, form=_create_form("1w"))
    action_parts(world.addon.post("create", event).get_json())
    [(fid, *_)] = world.followups()
    cancel = world.addon.event(alice.email, msg=msg, params={"id": str(fid), "view": "followup"})
    assert cancel["gmail"]["messageId"].startswith("msg-a:r")
    _, note = action_parts(world.addon.post("cancel", cancel).get_json())
    assert note == "Follow-up cancelled" and world.followups()[0][1] == "cancelled"


@pytest.mark.parametrize(
    "message_id, says",
    [
        ("msg-z:some-form-nobody-knows", "Invalid id value"),  # Gmail: 400
        ("msg-a:r-1234567890", "no longer has this message"),  # a known form naming nothing: 404
    ],
)
def test_an_id_gmail_does_not_take_comes_back_as_a_card(world, message_id, says):
    """Never refused by us: the id goes to Gmail, and Gmail's 400 or 404 becomes a card."""
    alice, bob = world.google.new_user("alice"), world.google.new_user("bob")
    world.connect(alice)
    msg = world.sent(alice, [bob])
    event = world.addon.event(alice.email, msg=msg)
    event["gmail"]["messageId"] = message_id
    response = world.addon.post("on-message", event)
    assert response.status_code == 200
    card = trigger_card(response.get_json())
    assert says in card_text(card)
    assert world.google.gmail.calls(alice.email)["messages.get"] == 1  # Gmail was asked


def test_a_thread_gmail_no_longer_accepts_gets_the_bump_unthreaded_with_an_event(
    timed_world, clock
):
    world = timed_world
    alice, bob = world.google.new_user("alice"), world.google.new_user("bob")
    world.connect(alice)
    with world.store.session() as s:
        user = world.store.get_or_create_user(s, alice.email)
        user.send_days, user.send_hours = "mon-sun", "00:00-24:00"
    msg = world.sent(alice, [bob], "Old thread")
    event = world.addon.event(alice.email, msg=msg, form=_create_form("3d"))
    action_parts(world.addon.post("create", event).get_json())
    world.google.gmail.reject_thread(alice.email, msg.thread_id)
    clock.advance(days=4)
    world.engine.run_pass()
    [(fid, state, *_)] = world.followups()
    assert state == "completed"
    with world.store.session() as s:
        [sent] = [e.detail for e in s.query(Event).filter_by(followup_id=fid, kind="sent")]
    assert "new conversation" in sent and "Invalid thread_id value" in sent
    [bump] = [m for m in world.google.gmail.messages(bob.email) if m.header("In-Reply-To")]
    assert bump.header("In-Reply-To") == msg.message_id  # still a reply for Bob


@pytest.mark.parametrize(
    "name, granted, asked",
    [
        # userinfo.email left unticked: Google sends no userIdToken; ask for it, no 400.
        ("homepage", [], ["https://www.googleapis.com/auth/userinfo.email"]),
        (
            "create",
            [],
            [
                "https://www.googleapis.com/auth/userinfo.email",
                "https://www.googleapis.com/auth/gmail.addons.current.message.metadata",
            ],
        ),
        (
            "create",
            ["https://www.googleapis.com/auth/userinfo.email"],
            ["https://www.googleapis.com/auth/gmail.addons.current.message.metadata"],
        ),
    ],
)
def test_every_endpoint_asks_for_the_scopes_it_lacks(world, name, granted, asked):
    alice, bob = world.google.new_user("alice"), world.google.new_user("bob")
    world.connect(alice)
    msg = world.sent(alice, [bob])
    event = world.addon.event(alice.email, msg=msg, form=_create_form("3d"))
    auth = event["authorizationEventObject"]
    auth["authorizedScopes"] = ["https://www.googleapis.com/auth/gmail.addons.execute", *granted]
    if "https://www.googleapis.com/auth/userinfo.email" not in granted:
        del auth["userIdToken"]  # Google sends it only with that scope
    response = world.addon.post(name, event)
    assert response.status_code == 200
    assert response.get_json() == {"requesting_google_scopes": {"scopes": asked}}
    assert world.followups() == [] and world.google.gmail.calls(alice.email)["messages.get"] == 0
