"""Who may sign in and for how long (issue 16): first-run setup, fail-closed Google sign-in,
sessions that really end, local passwords, linking a Google identity, and the start-up lines.

Google's side is the OAuth emulator (tests/emulators/oauth.py) behind the real client libraries.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app import create_app, startup_lines
from tests.support.web import PASSWORD, csrf_token, make_user, sign_in, through_google
from watcher.models import User


@pytest.fixture
def app(config, clock):
    app = create_app(config, clock=clock.now)
    yield app
    app.extensions["replywatch"]["store"].dispose()


@pytest.fixture
def google_app(gmail_config, clock, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the emulator speaks plain HTTP
    app = create_app(gmail_config, clock=clock.now)
    yield app
    app.extensions["replywatch"]["store"].dispose()


def _store(app):
    return app.extensions["replywatch"]["store"]


def _users(app) -> dict[str, tuple]:
    with _store(app).session() as s:
        return {u.email: (u.password_hash, u.google_sub) for u in s.scalars(select(User))}


def _google_sign_in(app, who, client=None, start="/settings/signin/google"):
    client = client or app.test_client()
    done = client.get(through_google(client, start, who.email))
    return client, done


def _fresh_csrf_token(app, client) -> str:
    """A valid CSRF token in `client`'s session, as any visitor can get one."""
    from flask import session
    from flask_wtf.csrf import generate_csrf

    with app.test_request_context():
        token = generate_csrf()
        data = dict(session)
    with client.session_transaction() as stored:
        stored.update(data)
    return token


def _copy_session(src, dst) -> None:
    with src.session_transaction() as old, dst.session_transaction() as new:
        new.update(old)


# -- Medium: first-run setup --------------------------------------------------------------------


def test_setup_stays_closed_once_any_user_exists_and_never_hands_over_one(
    google_app, google, gmail_config, clock
):
    """Everyone signed in with Google (no password user); the Google settings are later unset.
    Setup used to open again and attach the stranger's password to the existing user."""
    owner = google.new_user("owner")
    _, done = _google_sign_in(google_app, owner)
    assert done.status_code == 303
    before = _users(google_app)
    bare = create_app(gmail_config.with_overrides(google_client_id="", google_client_secret=""))
    try:
        stranger = bare.test_client()
        assert stranger.get("/settings/setup").status_code == 302  # closed
        answer = stranger.post(
            "/settings/setup",
            data={
                "csrf_token": _fresh_csrf_token(bare, stranger),  # no page shows a form now
                "email": owner.email,
                "password": PASSWORD,
                "confirm": PASSWORD,
            },
        )
        assert answer.status_code == 302 and answer.headers["Location"] == "/settings/signin"
        assert _users(bare) == before  # no password attached, no user added
        assert stranger.get("/settings/followups").status_code == 302  # not signed in
        # The sign-in page says how the operator gives the owner a password.
        page = stranger.get("/settings/signin").get_data(as_text=True)
        assert "python -m watcher user set-password" in page
    finally:
        bare.extensions["replywatch"]["store"].dispose()


# -- Medium: fail-closed registration -----------------------------------------------------------


def test_with_no_allow_list_only_the_owner_may_sign_in_with_google(google_app, google):
    owner, stranger = google.new_user("owner"), google.new_user("stranger")
    client, done = _google_sign_in(google_app, owner)  # the first user ever: the owner
    assert done.status_code == 303 and client.get("/settings/followups").status_code == 200
    other, refused = _google_sign_in(google_app, stranger)
    assert refused.status_code == 303 and refused.headers["Location"] == "/settings/signin"
    assert "REPLYWATCH_ALLOWED_USERS" in other.get("/settings/signin").get_data(as_text=True)
    assert other.get("/settings/followups").status_code == 302
    assert set(_users(google_app)) == {owner.email}  # no row for the stranger
    # The owner comes back any time.
    _, again = _google_sign_in(google_app, owner)
    assert again.status_code == 303 and again.headers["Location"] == "/settings/followups"


def test_an_allow_list_lets_its_addresses_in(gmail_config, clock, google, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    owner, colleague = google.new_user("owner"), google.new_user("colleague")
    app = create_app(
        gmail_config.with_overrides(allowed_users=(owner.email, colleague.email)), clock=clock.now
    )
    try:
        for who in (owner, colleague):
            client, _ = _google_sign_in(app, who)
            assert client.get("/settings/followups").status_code == 200, who.email
    finally:
        _store(app).dispose()


def test_the_start_up_lines_say_who_may_sign_in_and_hide_the_database_password(config):
    from watcher.store import Store

    store = Store.from_config(config)
    default = "\n".join(startup_lines(config, store))
    assert "only the owner (the first user)" in default and "REPLYWATCH_ALLOWED_USERS" in default
    listed = config.with_overrides(
        allowed_users=("@corp.test",),
        database_url="postgresql+psycopg://rw:hunter2-db-pw@db.internal/replywatch",
    )
    text = "\n".join(startup_lines(listed, store))
    assert "Who may sign in with Google: @corp.test" in text
    assert "hunter2-db-pw" not in text and "postgresql+psycopg://rw:***@db.internal" in text
    store.dispose()


# -- Low: sessions end --------------------------------------------------------------------------


def test_sign_out_ends_a_copied_session_cookie_too(app):
    make_user(app, "me@example.test")
    laptop = sign_in(app, "me@example.test")
    thief = app.test_client()
    _copy_session(laptop, thief)  # a cookie copied before sign-out
    assert thief.get("/settings/followups").status_code == 200
    out = laptop.post(
        "/settings/signout", data={"csrf_token": csrf_token(laptop, "/settings/followups")}
    )
    assert out.status_code == 303
    assert thief.get("/settings/followups").status_code == 302
    assert laptop.get("/settings/followups").status_code == 302
    assert sign_in(app, "me@example.test").get("/settings/followups").status_code == 200


def test_cli_sign_out_everywhere_ends_every_session(app, cli):
    make_user(app, "me@example.test")
    phone, laptop = sign_in(app, "me@example.test"), sign_in(app, "me@example.test")
    code, out, err = cli("user", "sign-out-everywhere", "--user", "Me@Example.test")
    assert code == 0, err
    assert "every session of me@example.test was signed out" in out
    for client in (phone, laptop):
        assert client.get("/settings/followups").status_code == 302
    code, _, err = cli("user", "sign-out-everywhere", "--user", "nobody@example.test")
    assert code == 2 and "no user nobody@example.test" in err
    code, out, _ = cli("user", "list")
    assert code == 0 and "me@example.test  owner password" in out
    assert "only the owner (the first user)" in out


def test_taking_an_address_off_the_allow_list_ends_its_session_at_once(
    gmail_config, clock, google, monkeypatch
):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    owner, colleague = google.new_user("owner"), google.new_user("colleague")
    config = gmail_config.with_overrides(allowed_users=(owner.email, colleague.email))
    app = create_app(config, clock=clock.now)
    try:
        client, _ = _google_sign_in(app, colleague)
        assert client.get("/settings/followups").status_code == 200
        # The operator removes the colleague and restarts with the new list.
        app.extensions["replywatch"]["config"] = config.with_overrides(allowed_users=(owner.email,))
        assert client.get("/settings/followups").status_code == 302
    finally:
        _store(app).dispose()


# -- Low: a way to change a local password ------------------------------------------------------


def test_a_local_password_can_be_changed_and_other_sessions_end(app):
    make_user(app, "me@example.test")
    client, other = sign_in(app, "me@example.test"), sign_in(app, "me@example.test")
    page = client.get("/settings/password")
    assert page.status_code == 200 and "Current password" in page.get_data(as_text=True)
    assert 'href="/settings/password"' in client.get("/settings/followups").get_data(as_text=True)
    token = csrf_token(client, "/settings/password")
    new = "a brand new passphrase"
    wrong = client.post(
        "/settings/password",
        data={"csrf_token": token, "current": "not it", "password": new, "confirm": new},
    )
    assert wrong.status_code == 400 and "not your current password" in wrong.get_data(as_text=True)
    short = client.post(
        "/settings/password",
        data={"csrf_token": token, "current": PASSWORD, "password": "short", "confirm": "short"},
    )
    assert short.status_code == 400
    done = client.post(
        "/settings/password",
        data={"csrf_token": token, "current": PASSWORD, "password": new, "confirm": new},
    )
    assert done.status_code == 303
    assert client.get("/settings/followups").status_code == 200  # this browser stays in
    assert other.get("/settings/followups").status_code == 302  # every other session ends
    stale = app.test_client()
    answer = stale.post(
        "/settings/signin",
        data={"csrf_token": csrf_token(stale), "email": "me@example.test", "password": PASSWORD},
    )
    assert answer.status_code == 401
    assert sign_in(app, "me@example.test", new).get("/settings/followups").status_code == 200


def test_the_operator_sets_a_password_with_the_cli(app, cli):
    make_user(app, "me@example.test")
    client = sign_in(app, "me@example.test")
    code, out, err = cli(
        "user",
        "set-password",
        "--user",
        "me@example.test",
        env={"REPLYWATCH_NEW_PASSWORD": "set by the operator"},
    )
    assert code == 0, err
    assert "password set for me@example.test" in out and "set by the operator" not in out
    assert client.get("/settings/followups").status_code == 302  # old sessions ended
    assert sign_in(app, "me@example.test", "set by the operator")
    code, _, err = cli(
        "user", "set-password", "--user", "me@example.test", env={"REPLYWATCH_NEW_PASSWORD": "x"}
    )
    assert code == 2 and "at least 10" in err


# -- Low: a Google identity is pinned and linked only with proof --------------------------------


def test_google_sign_in_links_an_existing_local_user_only_with_proof(google_app, google):
    """The owner made a password at first run with an address Google does not host (the
    emulator's domain: no `hd` claim, not gmail.com). Someone who controls a Google account
    for that address must not become that user; the signed-in owner may link it."""
    owner = google.new_user("owner")
    make_user(google_app, owner.email)
    _, refused = _google_sign_in(google_app, owner)
    assert refused.headers["Location"] == "/settings/signin"
    assert _users(google_app)[owner.email][1] is None  # not linked
    # Signed in with the password first, the same Google sign-in links the two.
    client = sign_in(google_app, owner.email)
    _, linked = _google_sign_in(google_app, owner, client=client)
    assert linked.status_code == 303 and linked.headers["Location"] == "/settings/followups"
    assert _users(google_app)[owner.email][1] is not None


def test_google_sign_in_links_by_address_when_google_vouches_for_the_domain(google_app, google):
    owner = google.new_user("owner")
    make_user(google_app, owner.email)
    google.oauth.id_token_overrides = {"hd": owner.email.split("@")[1]}  # a Workspace domain
    client, done = _google_sign_in(google_app, owner)
    assert done.headers["Location"] == "/settings/followups"
    assert client.get("/settings/followups").status_code == 200
    assert _users(google_app)[owner.email][1] is not None


def test_google_sign_in_asks_online_access_only(google_app, google):
    start = google_app.test_client().get("/settings/signin/google")
    params = parse_qs(urlsplit(start.headers["Location"]).query)
    assert params["access_type"] == ["online"]  # no refresh token minted and thrown away


# -- Low: paging parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["\u00b2", "\u0661\u0662", "\uff11", "9" * 5000, "9" * 30, "-1", "1e9", ""],
    ids=[
        "superscript",
        "arabic-indic",
        "fullwidth",
        "5000-digits",
        "30-digits",
        "neg",
        "exp",
        "empty",
    ],
)
def test_odd_page_numbers_fall_back_to_a_real_page(app, raw):
    make_user(app, "me@example.test")
    client = sign_in(app, "me@example.test")
    for path in ("/settings/followups", "/settings/recipients"):
        answer = client.get(path, query_string={"page": raw})
        assert answer.status_code == 200, (path, answer.status_code)
