"""A user's data: export as JSON and delete everything, on the settings page and in the CLI.

Two users with rows in every table; after one is deleted, no row in any table of the metadata
refers to them (directly, or through their accounts and follow-ups), their Gmail grant is
revoked at the OAuth emulator, their encrypted passwords are gone from the database file, and
the other user's rows are exactly as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from tests.support.web import csrf_token, make_user, sign_in
from watcher import followups as fu_ops
from watcher import send_caps
from watcher.mailbox import MessageSummary
from watcher.models import Base, ScheduledSend, TriggerItem
from watcher.rules import RuleFields
from watcher.schedule import parse_delay
from watcher.store import Store

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.now(NOW.isoformat())  # the app and the CLI run on this "now"


def seed(store: Store, email: str, google=None) -> dict:
    """A user with an IMAP account (and a Gmail one if `google`), a follow-up with history,
    a cursor, a rule, a trigger item, a known correspondent and a throttled sign-in."""
    local = email.split("@")[0]
    with store.session() as s:
        user = store.get_or_create_user(s, email)
        imap = store.add_account(
            s, user, kind="imap", email=email,
            settings={"imap_host": "imap.example.test", "imap_username": email},
            secret=json.dumps({"imap_password": f"pw-of-{local}", "smtp_password": "x"}),
            now=NOW,
        )  # fmt: skip
        accounts = [imap]
        token = None
        if google is not None:
            token = google.oauth.issue_refresh_token(f"{local}@gmail.test")
            gmail = store.add_account(
                s, user, kind="gmail", email=f"{local}@gmail.test", settings={},
                secret=json.dumps({"refresh_token": token}), now=NOW,
            )  # fmt: skip
            accounts.append(gmail)
        anchor = MessageSummary(
            ref="Sent/1/1", message_id=f"<anchor-{local}@example.test>",
            subject=f"Offer for {local}", from_addr=email, to=(f"client-of-{local}@else.test",),
            date=NOW, in_sent=True,
        )  # fmt: skip
        followup = fu_ops.create_followup(
            store, s, account=imap, anchor=anchor,
            stages=[fu_ops.StageSpec(delay=parse_delay(d)) for d in ("1w", "2w")],
            now=NOW,
        )  # fmt: skip
        store.track(s, followup.id, [f"<reply-{local}@else.test>"])
        store.set_cursor(s, imap.id, '{"INBOX": [1, 5]}', NOW, expected=None)
        store.add_rule(
            s, imap,
            RuleFields(name=f"Rule of {local}", mode="remind", delays=["3d"], exclude_domains=[],
                       exclude_addresses=[], exclude_subjects=[]),
            external_only=True, question_only=False, now=NOW,
        )  # fmt: skip
        s.add(
            TriggerItem(
                user_id=user.id, account_id=imap.id, key=f"<plus-{local}@example.test>",
                kind="plus", spec=f"{local}+2w@example.test", followup_id=followup.id,
                summary={"message_id": f"<plus-{local}@example.test>"}, created_at=NOW,
            )
        )  # fmt: skip
        s.add(
            ScheduledSend(
                user_id=user.id, account_id=imap.id, draft_key=f"<draft-{local}@example.test>",
                draft_ref="Drafts/1/1", draft_seen_at=NOW, tag_address=f"{local}+later-2w@x.test",
                recipients=[f"client-of-{local}@else.test"], send_at=NOW, scheduled_at=NOW,
                message_id=f"<rw-later.{local}@example.test>", followup_id=followup.id,
            )
        )  # fmt: skip
        store.observe_offset(s, user.id, f"client-of-{local}@else.test", NOW, 60)
        store.add_event(s, user_id=user.id, account_id=imap.id, kind="trigger", detail="x", at=NOW)
        store.record_login_failure(s, [f"signin:{email}|127.0.0.1"], NOW)
        send_caps.claim(s, imap.id, f"<rw.bump-{local}@example.test>", "bump", NOW)
        secrets = [a.secret for a in accounts]
        return {
            "user_id": user.id,
            "email": email,
            "account_ids": {a.id for a in accounts},
            "followup_ids": {followup.id},
            "token": token,
            "secrets": secrets,
        }


def all_rows(store: Store) -> dict[str, list[dict]]:
    with store.engine.connect() as conn:
        return {
            t.name: [dict(r._mapping) for r in conn.execute(select(t))]
            for t in Base.metadata.sorted_tables
        }


def refers_to(table: str, row: dict, who: dict) -> bool:
    """Whether a row is theirs: by user, by one of their accounts or follow-ups, or by naming
    their address anywhere in it (a sign-in throttle key, a JSON summary)."""
    if table == "users" and row["id"] == who["user_id"]:
        return True
    if table == "accounts" and row["id"] in who["account_ids"]:
        return True
    if table == "followups" and row["id"] in who["followup_ids"]:
        return True
    if row.get("user_id") == who["user_id"]:
        return True
    if row.get("account_id") in who["account_ids"] or row.get("followup_id") in who["followup_ids"]:
        return True
    local = who["email"].split("@")[0]
    return any(local in json.dumps(v, default=str) for v in row.values() if v is not None)


def theirs(store: Store, who: dict) -> dict[str, list[dict]]:
    return {
        table: found
        for table, rows in all_rows(store).items()
        if (found := [r for r in rows if refers_to(table, r, who)])
    }


def assert_every_table_is_seeded(store: Store, alice: dict, bob: dict) -> None:
    for who in (alice, bob):
        seeded = theirs(store, who)
        missing = {t.name for t in Base.metadata.sorted_tables} - set(seeded)
        assert not missing, f"the test seeds no {who['email']} rows in {missing}"


def assert_deleted(store: Store, config, alice: dict, google) -> None:
    assert theirs(store, alice) == {}
    for path in Path(config.instance_dir).glob("replywatch.db*"):  # the file, WAL included
        data = path.read_bytes()
        for secret in alice["secrets"]:
            assert secret.encode() not in data, f"an encrypted password is left in {path.name}"
    with google.oauth.lock:
        assert google.oauth.state.refresh[alice["token"]].revoked


@pytest.fixture
def app(gmail_config, clock):
    app = create_app(gmail_config, clock=clock.now)
    yield app
    app.extensions["replywatch"]["store"].dispose()


@pytest.fixture
def two_users(app, google):
    store = app.extensions["replywatch"]["store"]
    bob = seed(store, "bob@example.test", google=google)  # first: the owner stays
    alice = seed(store, "alice@example.test", google=google)
    make_user(app, alice["email"])
    assert_every_table_is_seeded(store, alice, bob)
    return store, alice, bob


def test_the_settings_page_exports_then_deletes_everything_of_the_user(
    app, two_users, gmail_config, google
):
    store, alice, bob = two_users
    bob_before = theirs(store, bob)
    client = sign_in(app, alice["email"])

    page = client.get("/settings/my-data").get_data(as_text=True)
    assert "Download my data" in page
    for named in ("alice@example.test", "alice@gmail.test", "1 follow-up(s)", "1 rule(s)"):
        assert named in page  # the confirmation says what goes
    assert "revoke" in page and "bob@" not in page

    answer = client.get("/settings/my-data/export.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert "attachment" in answer.headers["Content-Disposition"]
    raw = answer.get_data(as_text=True)
    data = json.loads(raw)
    assert data["user"]["email"] == "alice@example.test"
    assert {a["email"] for a in data["accounts"]} == {"alice@example.test", "alice@gmail.test"}
    (followup,) = data["followups"]
    assert followup["subject"] == "Offer for alice"
    assert [st["position"] for st in followup["stages"]] == [1, 2]
    assert any(e["kind"] == "created" for e in followup["events"])
    assert "<reply-alice@else.test>" in followup["thread_message_ids"]
    assert [r["name"] for r in data["rules"]] == ["Rule of alice"]
    assert [r["address"] for r in data["recipients"]] == ["client-of-alice@else.test"]
    assert data["account_events"] and data["trigger_items"]
    for secret in ("pw-of-alice", alice["token"], *alice["secrets"], "scrypt", "bob"):
        assert secret not in raw  # no passwords, tokens, hashes, nor anyone else

    no_csrf = client.post("/settings/my-data/delete", data={"address": "alice@example.test"})
    assert no_csrf.status_code == 400
    wrong = client.post(
        "/settings/my-data/delete",
        data={"csrf_token": csrf_token(client, "/settings/my-data"), "address": "bob@example.test"},
    )
    assert wrong.status_code == 400 and "nothing was deleted" in wrong.get_data(as_text=True)
    assert theirs(store, alice)  # still all there

    done = client.post(
        "/settings/my-data/delete",
        data={
            "csrf_token": csrf_token(client, "/settings/my-data"),
            "address": "Alice@Example.test",
        },
    )
    assert done.status_code == 303 and done.headers["Location"] == "/settings/signin"
    assert_deleted(store, gmail_config, alice, google)
    assert theirs(store, bob) == bob_before  # the other user's data is untouched
    with google.oauth.lock:
        assert not google.oauth.state.refresh[bob["token"]].revoked
    assert client.get("/settings/my-data").status_code == 302  # signed out


def test_the_cli_exports_and_deletes_only_on_the_repeated_address(
    two_users, gcli, gmail_config, google, tmp_path
):
    store, alice, bob = two_users
    bob_before = theirs(store, bob)
    out_file = tmp_path / "alice.json"
    code, out, err = gcli(
        "user", "export", "--user", "alice@example.test", "--output", str(out_file)
    )
    assert code == 0, err
    assert out_file.stat().st_mode & 0o777 == 0o600
    data = json.loads(out_file.read_text())
    assert data["format"] == "replywatch-export/1" and len(data["followups"]) == 1
    assert "pw-of-alice" not in out_file.read_text()
    code, _, err = gcli("user", "export", "--user", "alice@example.test", "--output", str(out_file))
    assert code == 2 and "exists already" in err

    code, _, err = gcli("user", "delete", "--user", "alice@example.test")
    assert code == 2 and "nothing was deleted" in err
    assert "alice@gmail.test" in err and "1 follow-up(s)" in err
    code, _, err = gcli(
        "user", "delete", "--user", "alice@example.test", "--confirm", "bob@example.test"
    )
    assert code == 2
    assert theirs(store, alice)

    code, out, err = gcli(
        "user", "delete", "--user", "alice@example.test", "--confirm", "alice@example.test"
    )
    assert code == 0, err
    assert "deleted alice@example.test" in out and "revoked" in out
    assert_deleted(store, gmail_config, alice, google)
    assert theirs(store, bob) == bob_before
    code, _, err = gcli("user", "export", "--user", "alice@example.test")
    assert code != 0 and "no user" in err


def test_a_revocation_google_does_not_confirm_is_said_and_the_data_still_goes(
    two_users, gcli, google
):
    store, alice, _ = two_users
    code, out, err = gcli(
        "user", "delete", "--user", "alice@example.test", "--confirm", "alice@example.test",
        env={"REPLYWATCH_GOOGLE_REVOKE_URI": "http://127.0.0.1:9/revoke"},  # unreachable
    )  # fmt: skip
    assert code == 0, err
    assert "did not confirm" in out and "myaccount.google.com/permissions" in out
    assert theirs(store, alice) == {}
    with google.oauth.lock:  # Google was never reached: the page told the user what to do
        assert not google.oauth.state.refresh[alice["token"]].revoked
