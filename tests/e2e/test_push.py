"""Gmail push: Pub/Sub's signed POSTs wake the watcher; users.watch is kept alive by the engine.

Pub/Sub is played by the test: it signs OIDC tokens with the OAuth emulator's key (the one the
certificate endpoint publishes) and POSTs the documented envelope to /push/gmail. The watcher
runs in a thread with an hour between polls, so only a wake-up can make it look again.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from app import create_app
from gmail.api import GmailMailbox
from tests.e2e.test_watcher_e2e import events_of, state_of
from tests.support.addon import foreign_signer, sign
from watcher import followups as ops
from watcher import wake
from watcher.engine import Engine
from watcher.errors import ReplywatchError
from watcher.mailbox import open_mailbox
from watcher.models import Account, Event, FollowUp
from watcher.store import Store

BASE_URL = "https://replywatch.test"
AUDIENCE = f"{BASE_URL}/push/gmail"
PUSH_SA = "gmail-push@replywatch-test.iam.gserviceaccount.com"
TOPIC = "projects/replywatch-test/topics/gmail"


def push_overrides() -> dict:
    return {
        "base_url": BASE_URL,
        "gmail_pubsub_topic": TOPIC,
        "push_service_account_email": PUSH_SA,
    }


class FakeEngine:
    """Stands in for the in-process engine: records wake-ups."""

    def __init__(self):
        self.woken: list[int] = []

    def wake_account(self, account_id: int) -> None:
        self.woken.append(account_id)


def connect(store, google, who) -> int:
    with store.session() as s:
        user = store.get_or_create_user(s, who.email)
        user.send_days, user.send_hours = "mon-sun", "00:00-24:00"
        account = store.add_account(
            s,
            user,
            kind="gmail",
            email=who.email,
            settings={},
            secret=json.dumps({"refresh_token": google.refresh_token(who)}),
            display_name=who.name,
            now=datetime.now(UTC),
        )
        return account.id


def follow_up(store, config, google, account_id: int, message_id: str, delay="2w") -> int:
    with store.session() as s:
        account = s.get(Account, account_id)
        spec = store.account_spec(account)
    with GmailMailbox(spec, config) as mailbox:
        anchor = mailbox.find_message(message_id)
    now = datetime.now(UTC)
    with store.session() as s:
        account = s.get(Account, account_id)
        stage = ops.parse_stage(delay, now, "UTC")
        return ops.create_followup(
            store, s, account=account, anchor=anchor, stages=[stage], now=now
        ).id


def envelope(address: str, history_id=12345, *, urlsafe=False, raw_data=None) -> dict:
    payload = json.dumps({"emailAddress": address, "historyId": history_id}).encode()
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    data = raw_data if raw_data is not None else encode(payload).decode()
    return {
        "message": {
            "data": data,
            "messageId": "2070443601311540",
            "message_id": "2070443601311540",
            "publishTime": "2026-11-25T10:00:00.000Z",
            "publish_time": "2026-11-25T10:00:00.000Z",
        },
        "subscription": "projects/replywatch-test/subscriptions/gmail-push",
    }


class PubSub:
    """Plays Google Pub/Sub's push delivery against the app's test client."""

    def __init__(self, client, google):
        self.client, self.google = client, google

    def token(self, signer=None, **claims) -> str:
        base = {
            "aud": AUDIENCE,
            "email": PUSH_SA,
            "email_verified": True,
            "sub": "109876543210",
            "azp": "109876543210",
        }
        base.update(claims)
        return sign(signer or self.google.oauth.signer, **base)

    def post(self, body, token: str | None = "sign", raw: bytes | None = None):
        headers = {}
        if token == "sign":
            token = self.token()
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else json.dumps(body)
        return self.client.post(
            "/push/gmail", data=data, headers=headers, content_type="application/json"
        )


def wait_for(condition, message: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def idle(store, account_id: int, followup_id: int) -> bool:
    """The pass is over: the thread was read and the account's lease given back."""
    with store.session() as s:
        account = s.get(Account, account_id)
        return account.lease_owner is None and not s.get(FollowUp, followup_id).needs_check


@pytest.fixture
def push_config(gmail_config):
    return gmail_config.with_overrides(**push_overrides())


@pytest.fixture
def app_world(push_config, google):
    app = create_app(push_config)
    store = app.extensions["replywatch"]["store"]
    engine = FakeEngine()
    app.extensions["replywatch"]["engine"] = engine
    yield app, store, engine, PubSub(app.test_client(), google)
    store.dispose()


# -- the endpoint -----------------------------------------------------------------------------


def test_a_push_wakes_the_watcher_and_the_reply_stops_the_followup_at_once(push_config, google):
    """The story: an idle watcher (next poll in an hour) sees a reply seconds after Gmail's push."""
    config = push_config.with_overrides(poll_interval=3600.0)
    app = create_app(config)
    store = app.extensions["replywatch"]["store"]
    alice, bob = google.new_user("alice"), google.new_user("bob")
    account_id = connect(store, google, alice)
    mid = google.send(alice, [bob], "Quote for the roof", "Can you confirm by Friday?")
    fid = follow_up(store, config, google, account_id, mid)
    opened = threading.Event()

    def factory(spec, cfg):
        opened.set()
        return open_mailbox(spec, cfg)

    engine = Engine(store, config, mailbox_factory=factory)
    app.extensions["replywatch"]["engine"] = engine
    woken: list[int] = []
    real_wake = engine.wake_account

    def wake_account(account_id: int) -> None:
        woken.append(account_id)
        real_wake(account_id)

    engine.wake_account = wake_account
    worker = threading.Thread(target=engine.run_forever, name="test-watcher")
    worker.start()
    try:
        assert opened.wait(20), "the first pass never ran"
        wait_for(lambda: idle(store, account_id, fid), "the first pass never finished")
        assert google.gmail.calls(alice.email)["watch"] == 1  # the first pass turned push on
        opened.clear()
        google.send(bob, [alice], "Re: Quote for the roof", "Confirmed.", in_reply_to=mid)
        assert not opened.wait(0.5)  # idle: nothing looks until something wakes it
        assert state_of(store, fid) == "active"

        history = google.gmail.history_id(alice.email)
        response = PubSub(app.test_client(), google).post(envelope(alice.email, history))
        assert response.status_code == 204 and response.data == b""
        assert woken == [account_id]
        assert opened.wait(10), "the push did not wake the watcher"
        wait_for(lambda: state_of(store, fid) == "replied", "the reply was not seen")
        assert any(k == "stopped" and bob.email in d for k, d in events_of(store, fid))
    finally:
        engine.stop()
        worker.join(20)
        store.dispose()
    assert not worker.is_alive()


@pytest.mark.parametrize("urlsafe", [False, True])
@pytest.mark.parametrize("history_id", [4567, "4567"])
def test_a_valid_push_wakes_every_connected_account_of_that_address(
    app_world, google, urlsafe, history_id
):
    _, store, engine, pubsub = app_world
    alice = google.new_user("alice")
    account_id = connect(store, google, alice)
    response = pubsub.post(envelope(alice.email.upper(), history_id, urlsafe=urlsafe))
    assert response.status_code == 204
    assert engine.woken == [account_id]


def test_an_unknown_address_is_acked_and_wakes_nobody(app_world, google):
    _, store, engine, pubsub = app_world
    connect(store, google, google.new_user("alice"))
    response = pubsub.post(envelope("stranger@gmail.test"))
    assert response.status_code == 204
    assert engine.woken == []


def test_a_disconnected_account_is_not_woken(app_world, google):
    _, store, engine, pubsub = app_world
    alice = google.new_user("alice")
    account_id = connect(store, google, alice)
    with store.session() as s:
        store.disable_account(s, s.get(Account, account_id), datetime.now(UTC))
    assert pubsub.post(envelope(alice.email)).status_code == 204
    assert engine.woken == []


@pytest.mark.parametrize(
    "claims, status",
    [
        ({"aud": f"{BASE_URL}/addon/homepage"}, 401),  # another endpoint's audience
        ({"aud": "https://evil.test/push/gmail"}, 401),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, 401),  # expired
        ({"iss": "https://evil.test"}, 401),
        ({"email": "someone-else@other-project.iam.gserviceaccount.com"}, 403),
        ({"email_verified": False}, 403),
    ],
    ids=["other-audience", "foreign-audience", "expired", "issuer", "other-sa", "unverified"],
)
def test_bad_tokens_are_refused_and_wake_nobody(app_world, google, claims, status):
    _, store, engine, pubsub = app_world
    alice = google.new_user("alice")
    connect(store, google, alice)
    response = pubsub.post(envelope(alice.email), token=pubsub.token(**claims))
    assert response.status_code == status, response.get_json()
    assert engine.woken == []


def test_forged_and_missing_tokens_are_refused(app_world, google):
    _, store, engine, pubsub = app_world
    alice = google.new_user("alice")
    connect(store, google, alice)
    forged = pubsub.token(signer=foreign_signer(google.oauth.kid))
    assert pubsub.post(envelope(alice.email), token=forged).status_code == 401
    assert pubsub.post(envelope(alice.email), token=None).status_code == 401
    assert pubsub.post(envelope(alice.email), token="not.a.jwt").status_code == 401
    response = pubsub.client.post(
        "/push/gmail",
        data=json.dumps(envelope(alice.email)),
        headers={"Authorization": f"Basic {pubsub.token()}"},
        content_type="application/json",
    )
    assert response.status_code == 401
    assert engine.woken == []


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        json.dumps({"subscription": "x"}).encode(),
        json.dumps({"message": {"messageId": "1"}}).encode(),
        json.dumps(envelope("a@gmail.test", raw_data="%%% not base64 %%%")).encode(),
        json.dumps(envelope("a@gmail.test", raw_data=base64.b64encode(b"[1]").decode())).encode(),
        json.dumps(envelope("no-at-sign")).encode(),
        json.dumps(envelope("a@gmail.test", history_id="12ab")).encode(),
        json.dumps(envelope("a@gmail.test", history_id=None)).encode(),
        b"[" * 50_000,  # Python's json recursed into a RecursionError: a 500
        json.dumps(
            envelope("a@gmail.test", raw_data=base64.b64encode(b"[" * 40_000).decode())
        ).encode(),
    ],
    ids=[
        "not-json",
        "array",
        "no-message",
        "no-data",
        "not-base64",
        "not-object",
        "no-address",
        "bad-history",
        "no-history",
        "nested-50000-deep",
        "data-nested-40000-deep",
    ],
)
def test_a_malformed_envelope_is_a_400(app_world, raw):
    _, _, engine, pubsub = app_world
    response = pubsub.post(None, raw=raw)
    assert response.status_code == 400
    assert engine.woken == []


def test_a_malformed_envelope_without_a_token_is_still_a_401(app_world):
    """The token is checked first: an unauthenticated caller learns nothing about parsing."""
    _, _, engine, pubsub = app_world
    assert pubsub.post(None, token=None, raw=b"not json").status_code == 401
    assert engine.woken == []


def test_not_configured_refuses_everything(gmail_config, google):
    config = gmail_config.with_overrides(base_url=BASE_URL)  # no push service account
    app = create_app(config)
    store = app.extensions["replywatch"]["store"]
    engine = FakeEngine()
    app.extensions["replywatch"]["engine"] = engine
    alice = google.new_user("alice")
    connect(store, google, alice)
    pubsub = PubSub(app.test_client(), google)
    assert pubsub.post(envelope(alice.email)).status_code == 403
    assert pubsub.post(None, token=None, raw=b"x").status_code == 403
    assert engine.woken == []
    store.dispose()


def test_a_configured_audience_replaces_the_endpoint_url(push_config, google):
    config = push_config.with_overrides(push_audience="replywatch-push")
    assert config.push_endpoint_audience == "replywatch-push"
    app = create_app(config)
    store = app.extensions["replywatch"]["store"]
    engine = FakeEngine()
    app.extensions["replywatch"]["engine"] = engine
    alice = google.new_user("alice")
    account_id = connect(store, google, alice)
    pubsub = PubSub(app.test_client(), google)
    assert pubsub.post(envelope(alice.email)).status_code == 401  # the URL is not it now
    token = pubsub.token(aud="replywatch-push")
    assert pubsub.post(envelope(alice.email), token=token).status_code == 204
    assert engine.woken == [account_id]
    store.dispose()


def test_the_push_endpoint_only_takes_post(app_world):
    _, _, _, pubsub = app_world
    assert pubsub.client.get("/push/gmail").status_code == 405


def test_on_postgresql_a_push_notifies_watchers_in_other_processes(push_config, google, pg_url):
    config = push_config.with_overrides(database_url=pg_url)
    app = create_app(config)  # the web app alone: no engine in this process
    store = app.extensions["replywatch"]["store"]
    alice = google.new_user("alice")
    account_id = connect(store, google, alice)
    got: list[int] = []
    heard = threading.Event()

    def on_wake(account: int) -> None:
        got.append(account)
        heard.set()

    listener = wake.Listener(pg_url, on_wake).start()
    try:
        deadline = time.monotonic() + 10
        while not heard.is_set() and time.monotonic() < deadline:  # LISTEN is up when heard
            response = PubSub(app.test_client(), google).post(envelope(alice.email))
            assert response.status_code == 204
            heard.wait(0.5)
        assert heard.is_set() and set(got) == {account_id}
    finally:
        listener.stop()
        store.dispose()


# -- keeping users.watch alive ----------------------------------------------------------------


@pytest.fixture
def watch_world(push_config, google, clock):
    store = Store.from_config(push_config)
    store.migrate()
    engine = Engine(store, push_config, clock=clock.now)
    alice, bob = google.new_user("alice"), google.new_user("bob")
    account_id = connect(store, google, alice)
    yield engine, store, alice, bob, account_id
    store.dispose()


def watch_expiry(store, account_id):
    with store.session() as s:
        return s.get(Account, account_id).watch_expires_at


def account_events(store, account_id):
    with store.session() as s:
        return [(e.kind, e.detail) for e in reversed(store.account_events(s, account_id))]


def test_the_first_pass_turns_push_on_and_stores_the_expiry(watch_world, google):
    engine, store, alice, _, account_id = watch_world
    engine.run_pass()
    assert google.gmail.calls(alice.email)["watch"] == 1
    box = google.gmail.users[alice.email]
    assert box.watch == {"topicName": TOPIC, "labelIds": ["INBOX", "SENT"]}
    expires = watch_expiry(store, account_id)
    assert expires is not None
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert [k for k, _ in account_events(store, account_id)] == ["push_watch"]
    engine.run_pass()
    assert google.gmail.calls(alice.email)["watch"] == 1  # still valid: not called again


def test_the_watch_is_renewed_daily(watch_world, google, clock):
    """Google recommends calling users.watch once per day (it lasts 7)."""
    engine, store, alice, _, account_id = watch_world
    engine.run_pass()
    first = watch_expiry(store, account_id)
    clock.advance(hours=20)
    engine.run_pass()
    assert google.gmail.calls(alice.email)["watch"] == 1  # the same day: not yet
    clock.advance(hours=5)  # a day and an hour after the first call
    engine.run_pass()
    assert google.gmail.calls(alice.email)["watch"] == 2
    renewed = watch_expiry(store, account_id)
    assert renewed >= first
    # (the emulator counts its 7 days from the real time, so bring the clock back to it)
    clock.current = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=12)
    engine.run_pass()
    assert google.gmail.calls(alice.email)["watch"] == 2  # renewed less than a day ago
    clock.current = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1, hours=1)
    engine.run_pass()
    assert google.gmail.calls(alice.email)["watch"] == 3  # and again the next day
    assert [k for k, _ in account_events(store, account_id)] == ["push_watch"]  # no noise


def test_without_a_topic_nothing_is_watched(gmail_config, google, clock):
    store = Store.from_config(gmail_config)
    store.migrate()
    alice = google.new_user("alice")
    account_id = connect(store, google, alice)
    Engine(store, gmail_config, clock=clock.now).run_pass()
    assert google.gmail.calls(alice.email)["watch"] == 0
    assert watch_expiry(store, account_id) is None
    store.dispose()


def refused_watches(google, user) -> int:
    return sum(1 for m, who, _ in google.gmail.requests if m == "watch" and who == user.email)


def test_a_watch_failure_is_recorded_and_the_pass_still_serves_the_account(
    watch_world, google, clock
):
    engine, store, alice, bob, account_id = watch_world
    mid = google.send(alice, [bob], "Offer", "Still interested?")
    fid = follow_up(store, engine.config, google, account_id, mid, delay="1d")
    google.gmail.fail(
        "watch",
        403,
        reason="forbidden",
        message="User not authorized to perform this action.",
        times=10,
    )
    report = engine.run_pass()
    assert report.account_faults == 0
    assert watch_expiry(store, account_id) is None
    events = account_events(store, account_id)
    assert [k for k, _ in events] == ["push_watch_error"]
    assert "not authorized" in events[0][1] and "regular checks" in events[0][1]

    # The account's follow-ups go on: the bump goes out when due, with push still broken.
    clock.advance(days=1, minutes=1)
    report = engine.run_pass()
    assert report.sent == 1 and report.account_faults == 0
    with store.session() as s:
        account = s.get(Account, account_id)
        assert account.status == "ok" and account.failures == 0
    assert state_of(store, fid) == "completed"
    assert refused_watches(google, alice) == 2  # tried again an hour later
    engine.run_pass()  # but not on every pass: users.watch costs 100 units
    assert refused_watches(google, alice) == 2
    assert [k for k, _ in account_events(store, account_id)] == ["push_watch_error"]  # once

    google.reset()  # the topic permission is fixed
    clock.advance(hours=1, minutes=1)
    engine.run_pass()
    assert watch_expiry(store, account_id) is not None
    with store.session() as s:
        kinds = [e.kind for e in s.query(Event).filter_by(account_id=account_id, followup_id=None)]
    assert kinds[-1] == "push_watch"


def test_the_mailbox_turns_the_watch_on_and_off(gmail_config, google):
    alice = google.new_user("alice")
    with GmailMailbox(google.account_spec(alice), gmail_config) as mailbox:
        expires = mailbox.watch(TOPIC)
        assert expires.tzinfo is not None and expires > datetime.now(UTC) + timedelta(days=6)
        assert google.gmail.users[alice.email].watch["topicName"] == TOPIC
        mailbox.stop_watch()
        assert google.gmail.users[alice.email].watch is None
        with pytest.raises(ReplywatchError, match="Gmail refused"):
            mailbox.watch("not-a-topic")


def test_a_revoked_account_is_reported_once_not_also_as_a_watch_failure(watch_world, google):
    engine, store, alice, _, account_id = watch_world
    google.oauth.revoke_user(alice.email)
    report = engine.run_pass()
    assert report.account_faults == 1
    kinds = [k for k, _ in account_events(store, account_id)]
    assert kinds == ["account_error"]
