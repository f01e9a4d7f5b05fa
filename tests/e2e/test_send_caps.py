"""End to end on Dovecot: the daily send cap per account (watcher.send_caps).

A bump past the cap is deferred, never dropped, to the next day of the user's zone, with an
Event naming the cap; the count runs from midnight to midnight where the user lives; the cap is
checked again in the transaction that passes the point of no return, so a cap reached meanwhile
leaves nothing half-sent. Overrides through the CLI and the Accounts page.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.e2e.test_triggers_e2e import items, plus, send_bcc
from tests.e2e.test_watcher_e2e import add_followup, bumps_sent_by, connect, events_of, state_of
from tests.support.mailboxes import WrappedMailbox
from tests.support.web import csrf_token, make_user, sign_in
from watcher import metrics, send_caps
from watcher.compose import trigger_help_message_id
from watcher.engine import Engine
from watcher.errors import TransientError
from watcher.models import Account, FollowUp, SendRecord, Stage, StageState


def due_of(store, followup_id) -> datetime:
    with store.session() as s:
        return s.get(FollowUp, followup_id).due_at


def sent_today(store, email, now) -> int:
    with store.session() as s:
        account = s.query(Account).filter_by(email=email).one()
        return send_caps.status(s, account, now).sent


def set_cap(cli, user, value) -> str:
    code, out, err = cli("account", "send-cap", user.email, str(value))
    assert code == 0, err
    return out


def window(cli, user, zone, days="mon-fri", hours="09:00-17:00"):
    code, _, err = cli(
        "defaults", "--user", user.email, "--timezone", zone, "--days", days, "--hours", hours
    )
    assert code == 0, err


@pytest.fixture
def alice(mail_world, cli):
    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    code, _, err = cli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    return user


def deferrals() -> float:
    return metrics.SEND_CAP_DEFERRALS._value.get()


@pytest.mark.now("2026-11-24T10:00:00+01:00")  # Tuesday in Berlin
def test_past_the_cap_a_bump_waits_for_the_next_day_with_an_event_and_then_goes_out(
    mail_world, cli, engine, clock
):
    alice = mail_world.new_user("alice")
    connect(cli, mail_world, alice)
    window(cli, alice, "Europe/Berlin")
    assert "at most 1 a day (your setting)" in set_cap(cli, alice, 1)
    bob = mail_world.new_user("bob")
    fids = [
        add_followup(cli, alice, mail_world.send(alice, [bob], f"Offer {i}", "?"), "--after", "1d")
        for i in range(2)
    ]
    engine.run_pass()
    before = deferrals()

    clock.advance(days=1, minutes=1)  # Wednesday 10:01: both due
    assert engine.run_pass().sent == 1
    assert deferrals() - before == 1
    (waiting,) = [f for f in fids if state_of(engine.store, f) == "active"]
    # Deferred to Thursday 09:00 Berlin, the next day's sending window.
    assert due_of(engine.store, waiting) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    (note,) = [d for k, d in events_of(engine.store, waiting) if k == "send_cap"]
    assert f"daily send cap reached: {alice.email} sent 1 of 1 today" in note
    assert "a cap of 1 a day, your setting" in note and "Thu 2026-11-26 09:00 CET" in note
    code, out, _ = cli("account", "list")
    assert code == 0 and "sent 1 of 1 today" in out

    clock.advance(hours=6)  # Wednesday 16:01: still the same day, nothing more goes out
    assert engine.run_pass().sent == 0
    assert len(bumps_sent_by(mail_world, alice)) == 1

    clock.current = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # Thursday 09:00 Berlin
    assert engine.run_pass().sent == 1
    sent = bumps_sent_by(mail_world, alice)
    assert len(sent) == 2 and len({m.message_id for m in sent}) == 2  # both, once each
    assert all(state_of(engine.store, f) == "completed" for f in fids)
    assert deferrals() - before == 1


@pytest.mark.parametrize(
    ("zone", "first", "second", "second_waits"),
    [
        # 23:30Z and 00:30Z: two UTC days, one Los Angeles day (15:30 and 16:30 on the 24th).
        ("America/Los_Angeles", "2026-11-24 15:30", "2026-11-24 16:30", True),
        # 22:30Z and 23:30Z: one UTC day, two Berlin days (23:30 on the 24th, 00:30 the 25th).
        ("Europe/Berlin", "2026-11-24 23:30", "2026-11-25 00:30", False),
    ],
)
@pytest.mark.now("2026-11-24T21:00:00+00:00")
def test_the_cap_counts_the_user_s_day_not_utc_s(
    mail_world, cli, engine, clock, zone, first, second, second_waits
):
    alice = mail_world.new_user("alice")
    connect(cli, mail_world, alice)
    window(cli, alice, zone, days="mon-sun", hours="00:00-24:00")
    set_cap(cli, alice, 1)
    bob = mail_world.new_user("bob")
    f1 = add_followup(cli, alice, mail_world.send(alice, [bob], "One", "?"), "--after", first)
    f2 = add_followup(cli, alice, mail_world.send(alice, [bob], "Two", "?"), "--after", second)
    engine.run_pass()

    clock.current = due_of(engine.store, f1)
    assert engine.run_pass().sent == 1
    clock.current = due_of(engine.store, f2)
    report = engine.run_pass()
    if second_waits:
        assert report.sent == 0 and state_of(engine.store, f2) == "active"
        # Midnight in Los Angeles on the 25th (08:00Z), not UTC's midnight that just passed.
        assert due_of(engine.store, f2) == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
        assert any(k == "send_cap" for k, _ in events_of(engine.store, f2))
    else:
        assert report.sent == 1 and state_of(engine.store, f2) == "completed"
    assert sent_today(engine.store, alice.email, clock.now()) == 1
    assert len(bumps_sent_by(mail_world, alice)) == (1 if second_waits else 2)


class CapUsedUpMeanwhile(WrappedMailbox):
    """Another sender of the account (say, a second watcher) uses up today's cap after this
    pass's first look at it and before this bump's point of no return."""

    store = None
    at = None

    def send(self, bump, before_commit=None):
        with self.store.session() as s:
            account = s.query(Account).filter_by(email=bump.sender).one()
            s.add(
                SendRecord(account_id=account.id, message_id="<other@x>", kind="bump", at=self.at)
            )
        return self.inner.send(bump, before_commit)


@pytest.mark.now("2026-11-24T10:00:00+01:00")
def test_a_cap_reached_at_the_point_of_no_return_sends_nothing_and_defers(
    mail_world, cli, engine, config, clock
):
    alice = mail_world.new_user("alice")
    connect(cli, mail_world, alice)
    window(cli, alice, "Europe/Berlin")
    set_cap(cli, alice, 1)
    bob = mail_world.new_user("bob")
    fid = add_followup(cli, alice, mail_world.send(alice, [bob], "Offer", "?"), "--after", "1d")
    engine.run_pass()
    clock.advance(days=1, minutes=1)
    CapUsedUpMeanwhile.store, CapUsedUpMeanwhile.at = engine.store, clock.now()
    racing = Engine(engine.store, config, clock=clock.now, mailbox_factory=CapUsedUpMeanwhile)
    assert racing.run_pass().sent == 0
    # SMTP DATA was written but never committed: the server dropped it; nothing half-sent.
    assert bumps_sent_by(mail_world, alice) == []
    with engine.store.session() as s:
        (stage,) = s.query(Stage).filter_by(followup_id=fid).all()
        assert stage.state == StageState.PENDING
        counted = {r.message_id for r in s.query(SendRecord)}
    assert counted == {"<other@x>"}  # the bump that did not go out is not counted
    assert due_of(engine.store, fid) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert any(k == "send_cap" for k, _ in events_of(engine.store, fid))

    clock.current = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert engine.run_pass().sent == 1
    assert len(bumps_sent_by(mail_world, alice)) == 1


class RefusedAfterTheHandOver(WrappedMailbox):
    """The server answers 4xx to the final '.': surely not taken (the engine resets)."""

    def send(self, bump, before_commit=None):
        before_commit()
        raise TransientError("451 try again later")


def test_a_send_that_surely_failed_does_not_count(mail_world, alice, cli, engine, config, clock):
    bob = mail_world.new_user("bob")
    fid = add_followup(cli, alice, mail_world.send(alice, [bob], "Offer", "?"), "--after", "1d")
    engine.run_pass()
    clock.advance(days=1, minutes=1)
    failing = Engine(
        engine.store,
        config.with_overrides(retry_attempts=1),
        clock=clock.now,
        mailbox_factory=RefusedAfterTheHandOver,
    )
    assert failing.run_pass().sent == 0
    with engine.store.session() as s:
        assert s.query(Stage).filter_by(followup_id=fid).one().state == StageState.PENDING
    assert sent_today(engine.store, alice.email, clock.now()) == 0
    clock.advance(minutes=10)  # the account's back-off is over
    assert engine.run_pass().sent == 1
    assert sent_today(engine.store, alice.email, clock.now()) == 1


def test_the_cli_overrides_the_cap_and_refuses_nonsense(mail_world, alice, cli):
    code, out, _ = cli("account", "list")
    assert code == 0 and "sent 0 of 100 today" in out  # a server of one's own: 100
    assert "at most 250 a day (your setting)" in set_cap(cli, alice, 250)
    code, out, _ = cli("account", "list")
    assert "sent 0 of 250 today" in out
    for bad in ("lots", "0", "-3", "100001"):
        code, out, err = cli("account", "send-cap", alice.email, bad)
        assert code == 2 and "a daily send cap is a whole number from 1 to 100,000" in err
    code, out, _ = cli("account", "list")
    assert "sent 0 of 250 today" in out  # nothing changed
    assert "the default for other providers" in set_cap(cli, alice, "default")
    code, out, _ = cli("account", "list")
    assert "sent 0 of 100 today" in out


def test_the_accounts_page_shows_today_s_count_and_takes_an_override(
    mail_world, alice, cli, engine, clock
):
    from app import create_app

    bob = mail_world.new_user("bob")
    add_followup(cli, alice, mail_world.send(alice, [bob], "Offer", "?"), "--after", "1d")
    engine.run_pass()
    clock.advance(days=1, minutes=1)
    assert engine.run_pass().sent == 1
    app = create_app(engine.config, clock=clock.now)
    with engine.store.session() as s:
        account_id = s.query(Account).filter_by(email=alice.email).one().id
    make_user(app, alice.email)
    client = sign_in(app, alice.email)
    page = client.get("/settings/accounts").get_data(as_text=True)
    assert f'id="sent-today-{account_id}">sent 1 of 100 today' in page
    token = csrf_token(client, "/settings/accounts")
    answer = client.post(
        f"/settings/accounts/{account_id}/send-cap", data={"csrf_token": token, "cap": "40"}
    )
    assert answer.status_code == 303
    page = client.get("/settings/accounts").get_data(as_text=True)
    assert "at most 40 messages a day (your setting)" in page
    assert f'id="sent-today-{account_id}">sent 1 of 40 today' in page
    # Nonsense changes nothing; no CSRF token is refused; someone else's account is not found.
    client.post(f"/settings/accounts/{account_id}/send-cap", data={"csrf_token": token, "cap": "x"})
    page = client.get("/settings/accounts").get_data(as_text=True)
    assert "Nothing changed: a daily send cap is a whole number" in page
    assert "sent 1 of 40 today" in page
    assert (
        client.post(f"/settings/accounts/{account_id}/send-cap", data={"cap": "9"}).status_code
        == 400
    )
    make_user(app, "mallory@example.test")
    mallory = sign_in(app, "mallory@example.test")
    token = csrf_token(mallory, "/settings/accounts")
    answer = mallory.post(
        f"/settings/accounts/{account_id}/send-cap", data={"csrf_token": token, "cap": "1"}
    )
    assert answer.status_code == 404
    with engine.store.session() as s:
        assert s.get(Account, account_id).daily_send_cap == 40
    answer = client.post(
        f"/settings/accounts/{account_id}/send-cap",
        data={"csrf_token": csrf_token(client, "/settings/accounts"), "cap": ""},
    )
    assert answer.status_code == 303
    with engine.store.session() as s:
        assert s.get(Account, account_id).daily_send_cap is None
    app.extensions["replywatch"]["store"].dispose()


@pytest.mark.now("2026-11-24T12:00:00+00:00")
def test_a_help_email_counts_and_waits_for_the_next_day_past_the_cap(
    mail_world, alice, cli, engine, clock
):
    set_cap(cli, alice, 1)
    bob = mail_world.new_user("bob")
    engine.run_pass()
    first, second = plus(alice, "2x"), plus(alice, "3x")
    m1 = send_bcc(mail_world, alice, [bob], "Notes 1", bcc=[first])
    engine.run_pass()
    h1 = trigger_help_message_id(m1, first, alice.email)
    assert mail_world.sink.count(h1) == 1
    with engine.store.session() as s:
        assert [(r.message_id, r.kind) for r in s.query(SendRecord)] == [(h1, "help")]

    m2 = send_bcc(mail_world, alice, [bob], "Notes 2", bcc=[second])
    engine.run_pass()
    h2 = trigger_help_message_id(m2, second, alice.email)
    assert mail_world.sink.count(h2) == 0  # today's one is used up: it waits
    assert [i.state for i in items(engine.store)] == ["ignored", "pending"]

    clock.advance(days=1)
    engine.run_pass()
    engine.run_pass()
    assert mail_world.sink.count(h2) == 1  # the next day, once
    assert sent_today(engine.store, alice.email, clock.now()) == 1
