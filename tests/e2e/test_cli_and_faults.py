"""The CLI as a user meets it: clear one-line errors, nothing saved on bad input, and one
account's fault never stopping the others."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.e2e.test_watcher_e2e import (
    add_followup,
    add_imap,
    bumps_sent_by,
    connect,
    events_of,
    state_of,
)
from tests.servers.dovecot import free_port
from watcher.models import Account, FollowUp


def no_accounts(cli) -> bool:
    code, out, _ = cli("account", "list")
    return code == 0 and "no accounts yet" in out


def test_wrong_password_is_one_clear_line_and_saves_nothing(mail_world, cli, caplog):
    alice = mail_world.new_user("alice")
    caplog.set_level(logging.DEBUG)
    code, out, err = add_imap(cli, mail_world, alice, "not-her-password-123")
    assert code == 2
    assert err.startswith("error: IMAP login refused for") and err.count("\n") == 1
    assert "not-her-password-123" not in out + err + caplog.text
    assert no_accounts(cli)


def test_unreachable_server_is_a_clear_error_and_saves_nothing(mail_world, cli):
    alice = mail_world.new_user("alice")
    code, _, err = add_imap(cli, mail_world, alice, alice.password, imap_port=free_port())
    assert code == 2
    assert "cannot reach" in err and err.count("\n") == 1
    assert alice.password not in err
    assert no_accounts(cli)


def test_wrong_smtp_server_is_caught_before_saving(mail_world, cli):
    alice = mail_world.new_user("alice")
    code, _, err = add_imap(cli, mail_world, alice, alice.password, smtp_port=free_port())
    assert code == 2 and "cannot reach" in err
    assert no_accounts(cli)


def test_password_is_never_taken_from_argv(mail_world, cli):
    alice = mail_world.new_user("alice")
    code, _, err = add_imap(cli, mail_world, alice, None)  # no env, no terminal
    assert code == 2 and "REPLYWATCH_IMAP_PASSWORD" in err
    with pytest.raises(SystemExit):
        cli("account", "add-imap", "--email", alice.email, "--password", "x")
    assert no_accounts(cli)


def test_connecting_twice_is_refused(mail_world, cli):
    alice = mail_world.new_user("alice")
    connect(cli, mail_world, alice)
    code, _, err = add_imap(cli, mail_world, alice, alice.password)
    assert code == 2 and "already connected" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--after", "3x"], "is not a delay", id="bad-delay"),
        pytest.param(["--after", "2027-02-29"], "", id="impossible-date"),
        pytest.param(["--after", "2020-01-01 09:00"], "future", id="past-date"),
        pytest.param(["--after", "1w", "--text", "Hi {firstname}"], "firstname", id="bad-template"),
        pytest.param(
            ["--after", "1w", "--stage", "1w", "--text", "a", "--text", "b", "--text", "c"],
            "--text",
            id="text-count",
        ),
    ],
)
def test_bad_followup_input_is_refused_and_saves_nothing(mail_world, cli, args, message):
    alice = mail_world.new_user("alice")
    bob = mail_world.new_user("bob")
    connect(cli, mail_world, alice)
    mid = mail_world.send(alice, [bob], "Hi", "?")
    code, _, err = cli("followup", "add", "--account", alice.email, "--message-id", mid, *args)
    assert code == 2, err
    assert err.startswith("error: ") and message in err
    code, out, _ = cli("followup", "list")
    assert out.strip() == "no follow-ups"


def test_followup_needs_a_message_the_user_sent(mail_world, cli):
    alice = mail_world.new_user("alice")
    bob = mail_world.new_user("bob")
    connect(cli, mail_world, alice)
    code, _, err = cli(
        "followup", "add", "--account", alice.email, "--message-id", "<nope@example.test>"
    )
    assert code == 2 and "no message <nope@example.test>" in err
    from_bob = mail_world.send(bob, [alice], "Offer", "Buy now")
    code, _, err = cli("followup", "add", "--account", alice.email, "--message-id", from_bob)
    assert code == 2 and f"sent by {bob.email}" in err


def test_one_active_followup_per_message(mail_world, cli):
    alice = mail_world.new_user("alice")
    bob = mail_world.new_user("bob")
    connect(cli, mail_world, alice)
    mid = mail_world.send(alice, [bob], "Hi", "?")
    add_followup(cli, alice, mid, "--after", "1w")
    code, _, err = cli("followup", "add", "--account", alice.email, "--message-id", mid)
    assert code == 2 and "already an active follow-up" in err


def test_list_show_snooze_cancel(mail_world, cli, engine):
    alice = mail_world.new_user("alice")
    bob = mail_world.new_user("bob")
    connect(cli, mail_world, alice)
    mid = mail_world.send(alice, [bob], "Budget", "Numbers?")
    fid = add_followup(cli, alice, mid, "--after", "1w")

    code, out, _ = cli("followup", "list")
    assert code == 0 and f"{fid:>4}  active" in out and bob.email in out and "'Budget'" in out

    code, _, err = cli("followup", "snooze", str(fid), "--until", "yesterday")
    assert code == 2 and err.startswith("error: ")
    code, out, err = cli("followup", "snooze", str(fid), "--until", "3w")
    assert code == 0, err
    with engine.store.session() as s:
        due = s.get(FollowUp, fid).due_at
        created = s.get(FollowUp, fid).created_at
    assert due - created > timedelta(days=20)

    code, out, _ = cli("followup", "cancel", str(fid))
    assert code == 0 and state_of(engine.store, fid) == "cancelled"
    code, _, err = cli("followup", "cancel", str(fid))
    assert code == 2 and "not active" in err
    code, _, err = cli("followup", "show", "999")
    assert code == 2 and "no follow-up 999" in err

    code, out, _ = cli("followup", "show", str(fid))
    kinds = [k for k, _ in events_of(engine.store, fid)]
    assert kinds == ["created", "snoozed", "cancelled"]
    assert "snoozed until" in out and "cancelled by you" in out


def test_a_refused_login_needs_attention_and_the_others_go_on(
    mail_world, cli, engine, clock, dovecot
):
    alice = mail_world.new_user("alice")
    carol = mail_world.new_user("carol")
    bob = mail_world.new_user("bob")
    for user in (alice, carol):
        connect(cli, mail_world, user)
        cli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    alice_mid = mail_world.send(alice, [bob], "From Alice", "?")
    carol_mid = mail_world.send(carol, [bob], "From Carol", "?")
    alice_fu = add_followup(cli, alice, alice_mid, "--after", "3d")
    carol_fu = add_followup(cli, carol, carol_mid, "--after", "3d")
    engine.run_pass()

    dovecot.set_password(alice.email, "changed-at-the-provider")
    clock.advance(days=3, minutes=1)
    report = engine.run_pass()
    assert report.account_faults == 1
    assert state_of(engine.store, carol_fu) == "completed"  # Carol's bump went out
    assert len(bumps_sent_by(mail_world, carol)) == 1
    assert bumps_sent_by(mail_world, alice) == []
    assert state_of(engine.store, alice_fu) == "active"  # waiting, not lost
    code, out, _ = cli("account", "list")
    assert "needs_attention" in out and "login refused" in out
    assert "changed-at-the-provider" not in out

    dovecot.set_password(alice.email, alice.password)  # the user fixes it
    code, out, err = cli("account", "check", alice.email)
    assert code == 0, err
    engine.run_pass()
    assert len(bumps_sent_by(mail_world, alice)) == 1
    assert state_of(engine.store, alice_fu) == "completed"


def test_a_server_that_is_down_backs_off_and_resumes(mail_world, cli, engine, clock):
    alice = mail_world.new_user("alice")
    bob = mail_world.new_user("bob")
    connect(cli, mail_world, alice)
    cli("defaults", "--user", alice.email, "--days", "mon-sun", "--hours", "0-24")
    mid = mail_world.send(alice, [bob], "Ping", "?")
    fid = add_followup(cli, alice, mid, "--after", "1d")
    engine.run_pass()

    with engine.store.session() as s:
        account = s.scalar(select(Account))
        real_port = account.settings["imap_port"]
        account.settings = {**account.settings, "imap_port": free_port()}
    clock.advance(days=1, minutes=1)
    report = engine.run_pass()
    assert report.account_faults == 1
    with engine.store.session() as s:
        account = s.get(Account, account.id)
        assert account.status == "ok" and "cannot reach" in account.status_reason
        assert account.next_check_at > clock.now()
        account.settings = {**account.settings, "imap_port": real_port}
    assert engine.run_pass().accounts == 0  # backing off: not tried again yet
    clock.advance(minutes=10)
    engine.run_pass()
    assert state_of(engine.store, fid) == "completed"
    assert len(bumps_sent_by(mail_world, alice)) == 1


def test_removed_account_forgets_its_password_and_is_not_polled(mail_world, cli, engine):
    alice = mail_world.new_user("alice")
    connect(cli, mail_world, alice)
    code, out, _ = cli("account", "remove", alice.email)
    assert code == 0 and "disconnected" in out
    with engine.store.session() as s:
        account = s.scalar(select(Account))
        assert account.secret is None and account.status == "disabled"
    assert engine.run_pass().accounts == 0


def _due_followup(mail_world, cli, clock, *args):
    alice = mail_world.new_user("alice")
    bob = mail_world.new_user("bob")
    connect(cli, mail_world, alice)
    cli("defaults", "--user", alice.email, "--days", "mon-sun", "--hours", "0-24")
    mid = mail_world.send(alice, [bob], "Hi", "?")
    fid = add_followup(cli, alice, mid, "--after", "1d", *args)
    return alice, mid, fid


def test_refused_recipient_fails_that_followup_only(mail_world, cli, engine, clock):
    _, _, fid = _due_followup(mail_world, cli, clock)
    engine.run_pass()
    clock.advance(days=1, minutes=1)
    mail_world.sink.reject_next(550, "5.1.1 no such user", on="rcpt")
    report = engine.run_pass()
    assert report.account_faults == 0 and report.failed == 1
    assert state_of(engine.store, fid) == "failed"
    assert any("refused the bump" in d for k, d in events_of(engine.store, fid) if k == "failed")
    with engine.store.session() as s:
        assert s.scalar(select(Account)).status == "ok"


def test_remind_when_the_thread_is_gone_fails_that_followup_only(
    mail_world, cli, engine, clock, dovecot
):
    alice, mid, fid = _due_followup(mail_world, cli, clock, "--remind-only")
    engine.run_pass()
    with mail_world._imap(alice) as c:  # the user deletes the message from Sent
        c.select_folder("Sent")
        c.delete_messages(c.search(["HEADER", "Message-ID", mid]))
        c.expunge()
    clock.advance(days=1, minutes=1)
    report = engine.run_pass()
    assert report.account_faults == 0
    assert state_of(engine.store, fid) == "failed"
    with engine.store.session() as s:
        assert s.scalar(select(Account)).status == "ok"
