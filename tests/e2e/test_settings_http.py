"""The settings page over HTTP (Flask's test client): sign-in, CSRF, scoping, rate limits,
Google's flows against the OAuth emulator, IMAP connection tests against Dovecot, and no
secret in a page or a log."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from app import cookie_must_be_secure, create_app
from tests.support.web import PASSWORD, csrf_token, make_user, seed_followup, sign_in
from watcher import followups as fu_ops
from watcher.mailbox import MessageSummary
from watcher.models import Account, Event, FollowUp, LoginAttempt, Stage, User
from watcher.schedule import parse_delay


@pytest.fixture
def app(config, clock):
    app = create_app(config, clock=clock.now)
    yield app
    app.extensions["replywatch"]["store"].dispose()


# -- first run and sign-in ----------------------------------------------------------------------


def test_first_run_names_missing_google_settings_and_creates_a_local_sign_in(app):
    client = app.test_client()
    page = client.get("/", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert page.request.path == "/settings/setup"
    assert "REPLYWATCH_GOOGLE_CLIENT_ID" in text and "REPLYWATCH_GOOGLE_CLIENT_SECRET" in text

    token = csrf_token(client, "/settings/setup")
    short = client.post(
        "/settings/setup",
        data={
            "csrf_token": token,
            "email": "me@example.test",
            "password": "short",
            "confirm": "short",
        },
    )
    assert short.status_code == 400 and "at least 10" in short.get_data(as_text=True)

    done = client.post(
        "/settings/setup",
        data={
            "csrf_token": token,
            "email": "Me@Example.test",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert done.status_code == 303 and done.headers["Location"] == "/settings/accounts"
    assert client.get("/settings/accounts").status_code == 200  # signed in
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:
        user = store.user_by_email(s, "me@example.test")
        assert user.password_hash and PASSWORD not in user.password_hash
    # First run is over: nobody else can claim the instance.
    assert app.test_client().get("/settings/setup").status_code == 302
    stranger = app.test_client()
    answer = stranger.post(
        "/settings/setup",
        data={
            "csrf_token": csrf_token(stranger),
            "email": "x@example.test",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert answer.status_code == 302
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1


def test_wrong_password_is_refused_and_sign_out_ends_the_session(app):
    make_user(app, "me@example.test")
    client = app.test_client()
    token = csrf_token(client)
    bad = client.post(
        "/settings/signin",
        data={"csrf_token": token, "email": "me@example.test", "password": "nope"},
    )
    assert bad.status_code == 401 and "do not match" in bad.get_data(as_text=True)
    client = sign_in(app, "me@example.test")
    assert client.get("/settings/followups").status_code == 200
    out = client.post(
        "/settings/signout", data={"csrf_token": csrf_token(client, "/settings/followups")}
    )
    assert out.status_code == 303
    assert client.get("/settings/followups").status_code == 302


def test_sign_in_redirects_only_to_local_paths(app):
    make_user(app, "me@example.test")
    for target, expected in [
        ("/settings/defaults", "/settings/defaults"),
        ("https://evil.example/", "/settings/followups"),
        ("//evil.example/x", "/settings/followups"),
        ("/\\evil.example", "/settings/followups"),
    ]:
        client = app.test_client()
        answer = client.post(
            "/settings/signin?next=" + requests.utils.quote(target, safe=""),
            data={
                "csrf_token": csrf_token(client),
                "email": "me@example.test",
                "password": PASSWORD,
            },
        )
        assert answer.headers["Location"] == expected, target


def test_failed_sign_ins_slow_that_client_down_more_and_more_but_lock_nobody_out(app, clock):
    """Counted per (address, client): after 3 failures each try waits 1 s, 2 s, 4 s ... The
    real user on another client is not locked out, and neither is another address."""
    make_user(app, "me@example.test")
    make_user(app, "colleague@example.test")
    guesser = app.test_client()
    token = csrf_token(guesser)
    form = {"csrf_token": token, "email": "me@example.test", "password": "wrong"}
    home = {"REMOTE_ADDR": "198.51.100.7"}

    def attempt(data, environ=None):
        return guesser.post("/settings/signin", data=data, environ_base=environ or {})

    assert [attempt(form).status_code for _ in range(3)] == [401] * 3
    waits = []
    for _ in range(4):
        refused = attempt({**form, "password": PASSWORD})  # even the right one waits
        assert refused.status_code == 429, refused.status_code
        waits.append(int(refused.get_data(as_text=True).split("Wait ")[1].split(" ")[0]))
        clock.advance(seconds=waits[-1])
        assert attempt(form).status_code == 401  # after the wait one more guess is weighed
    assert waits == [1, 2, 4, 8]
    # The same address from the real user's own client, and another address: no wait at all.
    real = app.test_client()
    answer = real.post(
        "/settings/signin",
        data={"csrf_token": csrf_token(real), "email": "me@example.test", "password": PASSWORD},
        environ_base=home,
    )
    assert answer.status_code == 303
    neighbour = app.test_client()  # behind the guesser's address: not slowed down either
    other = {"csrf_token": csrf_token(neighbour), "email": "colleague@example.test"}
    answer = neighbour.post("/settings/signin", data={**other, "password": PASSWORD})
    assert answer.status_code == 303
    # The waits grow to at most 5 minutes, never a lock: an hour later they are forgotten.
    clock.advance(hours=1, seconds=1)
    assert attempt({**form, "password": PASSWORD}).status_code == 303


@pytest.mark.parametrize("trusted_proxies, counted_as", [(0, "10.0.0.1"), (1, "203.0.113.7")])
def test_a_forwarded_client_address_counts_only_behind_a_trusted_proxy(
    config, clock, trusted_proxies, counted_as
):
    app = create_app(config.with_overrides(trusted_proxies=trusted_proxies), clock=clock.now)
    try:
        make_user(app, "me@example.test")
        client = app.test_client()
        proxy = {"REMOTE_ADDR": "10.0.0.1"}  # every request arrives from the proxy
        forwarded = {
            "X-Forwarded-For": "203.0.113.7",
            "X-Forwarded-Proto": "https",
            "Referer": "https://localhost/settings/signin",  # CSRF checks it on https
        }
        token = csrf_token(client)
        form = {"csrf_token": token, "email": "me@example.test", "password": "wrong"}
        answer = client.post("/settings/signin", data=form, headers=forwarded, environ_base=proxy)
        assert answer.status_code == 401
        store = app.extensions["replywatch"]["store"]
        with store.session() as s:
            keys = set(s.scalars(select(LoginAttempt.key)))
        # Without a trusted proxy the header is anyone's to forge: the proxy's address counts.
        assert keys == {f"signin:me@example.test|{counted_as}"}
    finally:
        app.extensions["replywatch"]["store"].dispose()


# -- cookies, headers, CSRF ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "secure"),
    [
        ("http://127.0.0.1:8080", False),  # plain-http localhost: browsers would drop Secure
        ("http://localhost:8080", False),
        ("http://[::1]:8080", False),
        ("http://mail.example.org", True),  # never silently insecure elsewhere
        ("https://replywatch.example.org", True),
    ],
)
def test_session_cookie_is_secure_except_on_plain_http_localhost(base_url, secure):
    assert cookie_must_be_secure(base_url) is secure


def test_session_cookie_flags_and_security_headers(config, clock):
    app = create_app(config.with_overrides(base_url="https://rw.example.org"), clock=clock.now)
    make_user(app, "me@example.test")
    client = app.test_client()
    page = client.get("/settings/signin", base_url="https://rw.example.org")
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    headers = page.headers
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    app.extensions["replywatch"]["store"].dispose()


def _post_routes(account_id: int, followup_id: int) -> list[tuple[str, dict]]:
    return [
        ("/settings/signout", {}),
        ("/settings/followups/new", {"account": account_id, "message_id": "<x@y>"}),
        (f"/settings/followups/{followup_id}/cancel", {}),
        (f"/settings/followups/{followup_id}/unconfirmed", {"went_out": "no"}),
        (f"/settings/followups/{followup_id}/snooze", {"until": "3d"}),
        (
            f"/settings/followups/{followup_id}/edit",
            {"replier_policy": "domain", "stage-1-when": "2d"},
        ),
        (f"/settings/accounts/{account_id}/check", {}),
        (f"/settings/accounts/{account_id}/triggers", {"switch": "on"}),
        (f"/settings/accounts/{account_id}/send-cap", {"cap": "5"}),
        (f"/settings/accounts/{account_id}/disconnect", {"followups": "delete"}),
        (f"/settings/accounts/{account_id}/reconnect", {"password": "x"}),
        ("/settings/accounts/imap", {"email": "a@b.c", "password": "x", "preset": "fastmail"}),
        (
            "/settings/defaults",
            {
                "delay": "2d",
                "template": "x",
                "days": "mon",
                "hours_start": "09:00",
                "hours_end": "17:00",
                "timezone": "UTC",
                "window_mode": "mine",
                "replier_policy": "anyone",
                "ooo_policy": "pause",
                "own_message_policy": "restart",
            },
        ),
    ]


def _snapshot(app) -> dict:
    """Everything a POST could change, as plain values."""
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:
        return {
            "followups": [
                (f.id, f.state, f.due_at, f.replier_policy, f.account_id)
                for f in s.scalars(select(FollowUp).order_by(FollowUp.id))
            ],
            "stages": [(st.id, st.delay, st.text, st.state) for st in s.scalars(select(Stage))],
            "accounts": [
                (a.id, a.status, a.secret, a.settings, a.user_id, a.trigger_folders)
                for a in s.scalars(select(Account).order_by(Account.id))
            ],
            "users": [
                (u.id, u.default_delay, u.bump_template, u.timezone, u.password_hash)
                for u in s.scalars(select(User).order_by(User.id))
            ],
            "events": s.scalar(select(func.count()).select_from(Event)),
        }


def test_every_form_needs_a_csrf_token(app):
    uid = make_user(app, "me@example.test")
    account_id, followup_id = seed_followup(app, uid, email="me@example.test")
    client = sign_in(app, "me@example.test")
    before = _snapshot(app)
    for path, data in _post_routes(account_id, followup_id):
        answer = client.post(path, data=data)
        assert answer.status_code == 400, path
        assert "has expired" in answer.get_data(as_text=True)
    assert _snapshot(app) == before
    assert client.get("/settings/followups").status_code == 200  # still signed in


def test_a_second_user_gets_404_on_every_route_and_changes_nothing(app):
    alice = make_user(app, "alice@example.test")
    account_id, followup_id = seed_followup(app, alice, email="alice@example.test")
    make_user(app, "mallory@example.test")
    mallory = sign_in(app, "mallory@example.test")
    before = _snapshot(app)
    gets = [
        f"/settings/followups/{followup_id}",
        f"/settings/accounts/{account_id}/reconnect",
        f"/settings/accounts/{account_id}/disconnect",
    ]
    for path in gets:
        assert mallory.get(path).status_code == 404, path
    token = csrf_token(mallory, "/settings/followups")
    for path, data in _post_routes(account_id, followup_id):
        if path in ("/settings/signout", "/settings/accounts/imap", "/settings/defaults"):
            continue  # not about another user's objects
        answer = mallory.post(path, data={**data, "csrf_token": token})
        # Creating a follow-up on someone else's account: the account is not among the
        # choices (400 on the form), the others are plain 404s.
        expected = 400 if path == "/settings/followups/new" else 404
        assert answer.status_code == expected, path
    assert _snapshot(app) == before
    # Lists show nothing of alice's.
    for path in ("/settings/followups?show=all", "/settings/accounts"):
        text = mallory.get(path).get_data(as_text=True)
        assert "alice@example.test" not in text and "Quarterly numbers" not in text
    # And alice still sees her own.
    alice_client = sign_in(app, "alice@example.test")
    assert alice_client.get(f"/settings/followups/{followup_id}").status_code == 200


def test_followup_snooze_edit_and_cancel_write_history(app, clock):
    uid = make_user(app, "me@example.test")
    _, followup_id = seed_followup(app, uid, email="me@example.test", now=clock.now())
    client = sign_in(app, "me@example.test")
    token = csrf_token(client, "/settings/followups")
    url = f"/settings/followups/{followup_id}"
    bad = client.post(url + "/snooze", data={"csrf_token": token, "until": "yesterday"})
    assert bad.status_code == 400 and "use 3d" in bad.get_data(as_text=True)
    # The bump is due in a week: "3d" would bring it forward, which is said, not done...
    earlier = client.post(url + "/snooze", data={"csrf_token": token, "until": "3d"})
    assert earlier.status_code == 400 and "would send it sooner" in earlier.get_data(as_text=True)
    # ...until the user says so.
    forward = {"csrf_token": token, "until": "3d", "earlier": "yes"}
    assert client.post(url + "/snooze", data=forward).status_code == 303
    edited = client.post(
        url + "/edit",
        data={
            "csrf_token": token,
            "replier_policy": "recipients",
            "mode": "remind",
            "stage-1-when": "2w",
            "stage-1-text": "Hi {first_name}, any thoughts on {subject}?",
        },
    )
    assert edited.status_code == 303
    detail = client.get(url).get_data(as_text=True)
    assert "Remind me only" in detail and "only the recipients" in detail and "after 2w" in detail
    wrong = client.post(
        url + "/edit",
        data={
            "csrf_token": token,
            "replier_policy": "anyone",
            "stage-1-when": "1w",
            "stage-1-text": "Hi {nme}",
        },
    )
    assert (
        wrong.status_code == 400
        and "unknown placeholder {nme}" in wrong.get_data(as_text=True).lower()
    )
    assert client.post(url + "/cancel", data={"csrf_token": token}).status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert "Cancelled" in page
    for kind in ("created", "snoozed", "edited", "cancelled"):
        assert f'event-{kind}"' in page, kind
    listed = client.get("/settings/followups?show=cancelled").get_data(as_text=True)
    assert "Quarterly numbers" in listed
    assert "Quarterly numbers" not in client.get("/settings/followups").get_data(as_text=True)


def test_defaults_are_validated_and_previewed(app):
    make_user(app, "me@example.test")
    client = sign_in(app, "me@example.test")
    token = csrf_token(client, "/settings/defaults")
    form = {
        "csrf_token": token,
        "delay": "3d",
        "template": "Hi {first_name}, about {subject}",
        "days": ["mon", "wed", "fri"],
        "hours_start": "08:30",
        "hours_end": "00:00",
        "timezone": "Europe/Berlin",
        "holiday_country": "de",
        "window_mode": "recipient",
        "replier_policy": "domain",
        "ooo_policy": "ignore",
        "own_message_policy": "stop",
    }
    assert client.post("/settings/defaults", data=form).status_code == 303
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:
        user = store.user_by_email(s, "me@example.test")
        assert (user.default_delay, user.send_days, user.send_hours) == (
            "3d",
            "mon,wed,fri",
            "08:30-24:00",
        )
        assert (user.timezone, user.holiday_country, user.replier_policy) == (
            "Europe/Berlin",
            "DE",
            "domain",
        )
        assert (user.ooo_policy, user.own_message_policy) == ("ignore", "stop")
        assert user.window_mode == "recipient"
    for field, value, message in [
        ("timezone", "Mars/Olympus", "Mars/Olympus"),
        ("delay", "soon", "use 3d"),
        ("template", "Hi {first}", "unknown placeholder {first}"),
        ("hours_start", "18:00", "must start before it ends"),
    ]:
        answer = client.post(
            "/settings/defaults", data={**form, field: value, "hours_end": "17:00"}
        )
        assert answer.status_code == 400, field
        assert message.lower() in answer.get_data(as_text=True).lower(), field
    preview = client.get("/settings/defaults/preview", query_string={"template": "Hi {first_name}"})
    assert preview.get_json() == {"text": "Hi Sam"}
    broken = client.get("/settings/defaults/preview", query_string={"template": "Hi {x}"})
    assert broken.status_code == 400 and "Unknown placeholder {x}" in broken.get_json()["error"]


# -- IMAP connections (Dovecot) -----------------------------------------------------------------


def _imap_form(world_settings: dict, email: str, password: str) -> dict:
    return {
        "preset": "custom",
        "email": email,
        "name": "Alice",
        "password": password,
        "imap_host": world_settings["imap_host"],
        "imap_port": world_settings["imap_port"],
        "imap_security": "none",
        "smtp_host": world_settings["smtp_host"],
        "smtp_port": world_settings["smtp_port"],
        "smtp_security": "none",
    }


def test_imap_connect_is_tested_first_and_saves_nothing_on_failure(app, mail_world, caplog):
    caplog.set_level(logging.DEBUG)
    alice = mail_world.new_user("alice")
    settings, password = mail_world.imap_settings(alice)
    make_user(app, alice.email)
    client = sign_in(app, alice.email)
    token = csrf_token(client, "/settings/accounts/imap")
    wrong = client.post(
        "/settings/accounts/imap",
        data={**_imap_form(settings, alice.email, "wrong-secret-pw"), "csrf_token": token},
    )
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 400
    assert "password" in text.lower() and "wrong-secret-pw" not in text
    no_host = client.post(
        "/settings/accounts/imap",
        data={**_imap_form(settings, alice.email, password), "imap_host": "", "csrf_token": token},
    )
    assert no_host.status_code == 400 and "Enter the IMAP server" in no_host.get_data(as_text=True)
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:
        assert store.list_accounts(s) == []

    ok = client.post(
        "/settings/accounts/imap",
        data={**_imap_form(settings, alice.email, password), "csrf_token": token},
    )
    assert ok.status_code == 303
    with store.session() as s:
        (account,) = store.list_accounts(s)
        assert account.kind == "imap" and password not in account.secret
        assert json.loads(store.box.decrypt(account.secret))["imap_password"] == password
        account_id = account.id
    pages = "".join(
        client.get(p).get_data(as_text=True)
        for p in (
            "/settings/accounts",
            f"/settings/accounts/{account_id}/reconnect",
            "/settings/followups",
        )
    )
    assert password not in pages and "wrong-secret-pw" not in pages
    assert password not in caplog.text and "wrong-secret-pw" not in caplog.text

    # Reconnect with a new password lands on the same record; disconnect deletes the secret.
    recon = client.post(
        f"/settings/accounts/{account_id}/reconnect",
        data={**_imap_form(settings, alice.email, password), "csrf_token": token},
    )
    assert recon.status_code == 303
    gone = client.post(
        f"/settings/accounts/{account_id}/disconnect",
        data={"csrf_token": token, "followups": "keep"},
    )
    assert gone.status_code == 303
    with store.session() as s:
        (account,) = store.list_accounts(s)
        assert account.id == account_id and account.status == "disabled" and account.secret is None


# -- Google (OAuth emulator) --------------------------------------------------------------------


@pytest.fixture
def google_app(gmail_config, clock, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the emulator speaks plain HTTP
    app = create_app(gmail_config, clock=clock.now)
    yield app
    app.extensions["replywatch"]["store"].dispose()


def _through_google(client, start: str, login: str) -> str:
    """Follow our redirect to the emulated Google and back; returns the callback URL."""
    answer = client.get(start)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    location = answer.headers["Location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert params["code_challenge_method"] == "S256" and params["code_challenge"]
    assert params["state"]
    google = requests.get(location + f"&login_hint={login}", allow_redirects=False, timeout=5)
    assert google.status_code == 302
    back = google.headers["Location"]
    return back[back.index("/settings/") :]


def test_google_sign_in_verifies_the_id_token_and_links_by_subject(google_app, google):
    alice = google.new_user("alice")
    client = google_app.test_client()
    page = client.get("/settings/signin").get_data(as_text=True)
    assert "Sign in with Google" in page and "REPLYWATCH_GOOGLE_CLIENT_ID" not in page
    start = client.get("/settings/signin/google?next=/settings/defaults")
    params = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["Location"]).query).items()}
    assert set(params["scope"].split()) == {
        "openid",
        "https://www.googleapis.com/auth/userinfo.email",
    }
    callback = _through_google(
        client, "/settings/signin/google?next=/settings/defaults", alice.email
    )
    done = client.get(callback)
    assert done.status_code == 303 and done.headers["Location"] == "/settings/defaults"
    assert alice.email in client.get("/settings/defaults").get_data(as_text=True)
    store = google_app.extensions["replywatch"]["store"]
    with store.session() as s:
        user = store.user_by_email(s, alice.email)
        assert user.google_sub and user.password_hash is None

    # A replayed callback (state already used) or a forged state changes nothing.
    replay = google_app.test_client().get(callback)
    assert replay.status_code == 303 and replay.headers["Location"] == "/settings/signin"
    other = google_app.test_client()
    cb = _through_google(other, "/settings/signin/google", alice.email)
    forged = cb.replace("state=", "state=x")
    assert other.get(forged).headers["Location"] == "/settings/signin"
    assert other.get("/settings/followups").status_code == 302  # not signed in


def test_google_connect_stores_an_encrypted_refresh_token_and_disconnect_revokes_it(
    google_app, google, gmail_config, caplog
):
    caplog.set_level(logging.DEBUG)
    alice = google.new_user("alice")
    client = google_app.test_client()
    # From the add-on's prompt: signed out, straight to /settings/connect/google.
    start = client.get("/settings/connect/google")
    params = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["Location"]).query).items()}
    assert params["access_type"] == "offline"
    assert "https://www.googleapis.com/auth/gmail.modify" in params["scope"].split()
    done = client.get(_through_google(client, "/settings/connect/google", alice.email))
    assert done.status_code == 303 and done.headers["Location"] == "/settings/accounts"
    store = google_app.extensions["replywatch"]["store"]
    with store.session() as s:
        (account,) = store.list_accounts(s)
        token = json.loads(store.box.decrypt(account.secret))["refresh_token"]
        assert (
            account.kind == "gmail" and account.email == alice.email and token not in account.secret
        )
        first_id = account.id
    page = client.get("/settings/accounts").get_data(as_text=True)
    assert alice.email in page and token not in page and "Working" in page

    # Connected again (reconnect, or again from the add-on): the same record, a new grant.
    again = client.get(f"/settings/accounts/{first_id}/reconnect").headers["Location"]
    assert again.startswith("/settings/connect/google?login_hint=")
    client.get(_through_google(client, again, alice.email))
    with store.session() as s:
        (account,) = store.list_accounts(s)
        new_token = json.loads(store.box.decrypt(account.secret))["refresh_token"]
        assert account.id == first_id and new_token != token

    # Key rotation (crypto.py): a new key in front, the old one still listed, then every
    # secret re-encrypted; the app on the rotated keys still reads (and so revokes) the token.
    from cryptography.fernet import Fernet

    from watcher.store import Store

    keys = (Fernet.generate_key().decode(), *gmail_config.encryption_keys)
    rotated = Store(gmail_config.database_url, keys)
    with rotated.session() as s:
        for a in rotated.list_accounts(s):
            a.secret = rotated.box.rotate(a.secret)
    rotated.dispose()
    app2 = create_app(gmail_config.with_overrides(encryption_keys=keys[:1]))  # old key dropped
    client2 = app2.test_client()
    with client.session_transaction() as old, client2.session_transaction() as new:
        new.update(old)
    token_form = {"csrf_token": csrf_token(client2, "/settings/accounts"), "followups": "delete"}
    gone = client2.post(f"/settings/accounts/{first_id}/disconnect", data=token_form)
    assert gone.status_code == 303
    assert "Google revoked" in client2.get("/settings/accounts").get_data(as_text=True)
    app2.extensions["replywatch"]["store"].dispose()
    with store.session() as s:
        (account,) = store.list_accounts(s)
        assert account.status == "disabled" and account.secret is None
    refused = requests.post(
        gmail_config.google_token_uri,
        data={
            "grant_type": "refresh_token",
            "refresh_token": new_token,
            "client_id": gmail_config.google_client_id,
            "client_secret": gmail_config.google_client_secret,
        },
        timeout=5,
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert token not in caplog.text and new_token not in caplog.text


def test_google_flow_denied_or_unconfigured_says_what_to_do(google_app, google, config):
    alice = google.new_user("alice")
    client = google_app.test_client()
    google.oauth.deny_next = True
    callback = _through_google(client, "/settings/connect/google", alice.email)
    assert "error=access_denied" in callback
    client.get(callback)
    page = client.get("/settings/signin").get_data(as_text=True)
    assert "you declined" in page
    bare = create_app(config)
    answer = bare.test_client().get("/settings/connect/google", follow_redirects=True)
    assert "REPLYWATCH_GOOGLE_CLIENT_ID" in answer.get_data(as_text=True)
    bare.extensions["replywatch"]["store"].dispose()


def test_an_account_needing_attention_says_what_to_fix_and_flags_its_followups(app, clock):
    from datetime import timedelta

    uid = make_user(app, "me@example.test")
    account_id, _ = seed_followup(app, uid, email="me@example.test", now=clock.now())
    store = app.extensions["replywatch"]["store"]
    store.mark_account_failed(
        account_id,
        "IMAP login refused for me@example.test: check the user name and password",
        permanent=True,
        now=clock.now(),
        backoff=timedelta(minutes=5),
    )
    client = sign_in(app, "me@example.test")
    listed = client.get("/settings/followups?show=attention").get_data(as_text=True)
    assert "Quarterly numbers" in listed
    # Which account, why, and the one click that fixes it: on the notice and on the row.
    assert "me@example.test needs attention: IMAP login refused" in listed
    assert "Waiting for me@example.test: IMAP login refused" in listed
    reconnect = f'href="/settings/accounts/{account_id}/reconnect">Reconnect me@example.test</a>'
    assert listed.count(reconnect) == 2
    accounts = client.get("/settings/accounts").get_data(as_text=True)
    assert "IMAP login refused" in accounts and "To fix:" in accounts
    assert "secret-imap-pw" not in accounts
    # The add-on exempts its JSON endpoints through the same CSRFProtect instance.
    assert app.extensions["csrf"].__class__.__name__ == "CSRFProtect"


def test_sign_in_page_warns_when_plain_http_would_drop_the_cookie(config, clock):
    app = create_app(config.with_overrides(base_url="http://nas.example.lan:8080"), clock=clock.now)
    make_user(app, "me@example.test")
    page = app.test_client().get("/settings/signin").get_data(as_text=True)
    assert "will not keep the" in page and "HTTPS" in page
    app.extensions["replywatch"]["store"].dispose()


def test_google_sign_in_refuses_an_id_token_minted_for_another_sign_in(google_app, google):
    alice = google.new_user("alice")
    client = google_app.test_client()
    start = client.get("/settings/signin/google")
    sent = parse_qs(urlsplit(start.headers["Location"]).query)["nonce"][0]
    assert len(sent) >= 24  # a fresh random nonce goes with every sign-in
    google.oauth.id_token_overrides = {"nonce": "minted-for-someone-else"}
    done = client.get(_through_google(client, "/settings/signin/google", alice.email))
    assert done.status_code == 303 and done.headers["Location"] == "/settings/signin"
    page = client.get("/settings/signin").get_data(as_text=True)
    assert "not made for this sign-in" in page
    assert client.get("/settings/followups").status_code == 302  # not signed in
    store = google_app.extensions["replywatch"]["store"]
    with store.session() as s:
        assert store.user_by_email(s, alice.email) is None


def test_google_sign_in_refuses_addresses_off_the_allow_list(
    gmail_config, clock, monkeypatch, google
):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    app = create_app(gmail_config.with_overrides(allowed_users=("@corp.test",)), clock=clock.now)
    mallory = google.new_user("mallory")
    client = app.test_client()
    done = client.get(_through_google(client, "/settings/signin/google", mallory.email))
    assert done.status_code == 303 and done.headers["Location"] == "/settings/signin"
    page = client.get("/settings/signin").get_data(as_text=True)
    assert "REPLYWATCH_ALLOWED_USERS" in page
    assert client.get("/settings/followups").status_code == 302  # not signed in
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:
        assert store.user_by_email(s, mallory.email) is None
    store.dispose()


def test_background_requests_leave_the_session_cookie_alone(app):
    """The live preview runs while the user types; if its answer set the session cookie, a
    late one could overwrite the cookie of the form post that follows (and lose its flash)."""
    make_user(app, "me@example.test")
    client = sign_in(app, "me@example.test")
    answer = client.get("/settings/defaults/preview?template=Hi+{first_name}")
    assert answer.status_code == 200 and answer.get_json()["text"].startswith("Hi ")
    assert "Set-Cookie" not in answer.headers


def test_replywatch_folders_are_switched_on_and_off_per_account_with_an_event(app):
    uid = make_user(app, "me@example.test")
    account_id, _ = seed_followup(app, uid, email="me@example.test")
    client = sign_in(app, "me@example.test")
    page = client.get("/settings/accounts").get_data(as_text=True)
    assert "me+2w@example.test" in page and "Turn Replywatch folders on" in page
    token = csrf_token(client, "/settings/accounts")
    path = f"/settings/accounts/{account_id}/triggers"
    answer = client.post(path, data={"csrf_token": token, "switch": "on"})
    assert answer.status_code == 303
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:
        assert s.get(Account, account_id).trigger_folders is True
        assert store.account_events(s, account_id, limit=1)[0].kind == "trigger_folders"
    page = client.get("/settings/accounts").get_data(as_text=True)
    assert "Replywatch folders are on" in page and "Turn Replywatch folders off" in page
    client.post(path, data={"csrf_token": token, "switch": "off"})
    with store.session() as s:
        assert s.get(Account, account_id).trigger_folders is False
    assert client.post(path, data={"switch": "on"}).status_code == 400  # no CSRF token
    with store.session() as s:
        assert s.get(Account, account_id).trigger_folders is False


def test_the_list_is_paged_soonest_first_and_the_counts_cover_every_page(app, clock):
    uid = make_user(app, "me@example.test")
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:
        # Any hour of any day: each due time is its anchor + 1 week, none pulled to one slot.
        user = store.get_user(s, uid)
        user.send_days, user.send_hours = "mon-sun", "00:00-24:00"
    account_id, _ = seed_followup(app, uid, email="me@example.test", now=clock.now())
    with store.session() as s:
        account = s.get(Account, account_id)
        for i in range(1, 120):  # 120 in all, the i-th due i hours after the first
            anchor = MessageSummary(
                ref=f"Sent/1/{i + 1}",
                message_id=f"<paged-{i}@example.test>",
                subject=f"Paged {i:03d}",
                from_addr="me@example.test",
                to=("bob@example.test",),
                date=clock.now() + timedelta(hours=i),
                in_sent=True,
            )
            fu_ops.create_followup(
                store,
                s,
                account=account,
                anchor=anchor,
                stages=[fu_ops.StageSpec(delay=parse_delay("1w"))],
                now=clock.now(),
            )
    client = sign_in(app, "me@example.test")
    first = client.get("/settings/followups").get_data(as_text=True)
    assert first.count('class="row"') == 50
    assert "1\u201350 of 120" in first and "page 1 of 3" in first and 'rel="next"' in first
    assert "Quarterly numbers" in first and "Paged 049" in first and "Paged 050" not in first
    last = client.get("/settings/followups?page=3").get_data(as_text=True)
    assert last.count('class="row"') == 20 and "101\u2013120 of 120" in last
    assert "Paged 119" in last and 'rel="next"' not in last
    # Out of range or nonsense: the nearest real page, never an error.
    assert "101\u2013120 of 120" in client.get("/settings/followups?page=99").get_data(as_text=True)
    assert "1\u201350 of 120" in client.get("/settings/followups?page=x").get_data(as_text=True)


def test_list_and_detail_say_which_trigger_set_a_followup(app):
    uid = make_user(app, "me@example.test")
    _, by_hand = seed_followup(app, uid, email="me@example.test")
    _, by_rule = seed_followup(app, uid, email="me+work@example.test")
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:
        s.get(FollowUp, by_rule).origin = "rule 'Cold outreach' (#3)"
    client = sign_in(app, "me@example.test")
    listing = client.get("/settings/followups").get_data(as_text=True)
    # Said in words: the rule's name, not its database id.
    assert listing.count("set by your rule “Cold outreach”") == 1
    detail = client.get(f"/settings/followups/{by_rule}").get_data(as_text=True)
    assert "your rule “Cold outreach”" in detail and "(#3)" not in detail
    assert "you, by hand" in client.get(f"/settings/followups/{by_hand}").get_data(as_text=True)


def test_an_unconfirmed_bump_asks_the_user_and_acts_on_the_answer(app):
    uid = make_user(app, "me@example.test")
    _, fid = seed_followup(app, uid, email="me@example.test")
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:  # what the engine leaves after a hand-over broke off
        f = s.get(FollowUp, fid)
        f.stages[0].state, f.stages[0].message_id = "unconfirmed", "<rw.x.1@example.test>"
        f.end("completed", "every stage done, no reply")
    client = sign_in(app, "me@example.test")
    page = client.get(f"/settings/followups/{fid}").get_data(as_text=True)
    assert "Did bump 1 arrive?" in page and "send it again" in page
    assert f"followups/{fid}" in client.get("/settings/followups?show=attention").get_data(
        as_text=True
    )
    token = csrf_token(client, f"/settings/followups/{fid}")
    path = f"/settings/followups/{fid}/unconfirmed"
    assert client.post(path, data={"went_out": "no"}).status_code == 400  # no CSRF token
    assert client.post(path, data={"csrf_token": token, "went_out": "x"}).status_code == 400
    answer = client.post(path, data={"csrf_token": token, "went_out": "no"})
    assert answer.status_code == 303
    with store.session() as s:
        f = s.get(FollowUp, fid)
        assert (f.state, f.current_stage, f.stages[0].state) == ("active", 1, "pending")
        assert f.due_at is not None and f.events[-1].kind == "resend"
    assert "Did bump 1 arrive?" not in client.get(f"/settings/followups/{fid}").get_data(
        as_text=True
    )
