"""The CLI tried the way a user tries it (issue 19), against Dovecot and the SMTP sink: a pass
does not count Replywatch's own bump as news, `once` names an account another watcher holds,
an unconfirmed bump names the command that settles it, an ended follow-up has no "pending"
bumps, one word for one thing, every bump time on `followup add`, and `once --help` says what
it does. Time is the test's clock (the `cli` fixture follows it)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.e2e.test_watcher_e2e import add_followup, connect, state_of
from tests.support.mailboxes import DiesAfterRecordingTheHandOver
from watcher.__main__ import build_parser
from watcher.engine import Engine


@pytest.fixture
def alice(mail_world, cli):
    """Alice connected through the CLI, in UTC, with a window that is always open."""
    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    code, _, err = cli(
        "defaults",
        "--user",
        user.email,
        "--days",
        "mon-sun",
        "--hours",
        "0-24",
        "--timezone",
        "UTC",
    )
    assert code == 0, err
    return user


def test_the_pass_after_a_bump_does_not_count_it_as_new_mail(mail_world, alice, cli, clock):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Quote", "Any news?")
    add_followup(cli, alice, mid, "--after", "1d")
    code, out, _ = cli("once")
    assert code == 0 and "0 bump(s) sent" in out
    clock.advance(days=2)
    code, out, _ = cli("once")
    assert code == 0 and "1 bump(s) sent" in out, out
    code, out, _ = cli("once")  # the bump is back through Sent: Replywatch's own, no news
    assert code == 0
    assert "0 new message(s) (and 1 sent by Replywatch itself)" in out, out


def test_once_names_the_account_a_dead_watchers_lease_holds(mail_world, alice, cli, engine, clock):
    # A watcher took the account and died: its lease runs for ten more minutes.
    assert engine.store.claim_account("watcher-that-died", clock.now(), timedelta(minutes=10))
    code, out, _ = cli("once")
    assert code == 0
    assert out.startswith("0 account(s) checked")
    until = (clock.now() + timedelta(minutes=10)).strftime("%a %Y-%m-%d %H:%M UTC")
    assert (
        f"not checked: account 1 ({alice.email}) is held by watcher 'watcher-that-died' "
        f"until {until}"
    ) in out, out
    clock.advance(minutes=11)  # the lease ran out: the account is checked again, no excuse
    code, out, _ = cli("once")
    assert out.startswith("1 account(s) checked") and "not checked" not in out, out


def test_an_unconfirmed_bump_says_so_and_names_the_command(
    mail_world, alice, cli, config, engine, clock
):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Lost at the dot", "Hello?")
    fid = add_followup(cli, alice, mid, "--after", "1d")
    clock.advance(days=2)
    dying = Engine(
        engine.store, config, clock=clock.now, mailbox_factory=DiesAfterRecordingTheHandOver
    )
    assert dying.run_pass().account_faults == 1
    clock.advance(hours=1)
    engine.run_pass()  # recovery: not in Sent, and Replywatch will not guess
    command = f"python -m watcher followup unconfirmed {fid} --went-out"

    code, out, _ = cli("followup", "list")
    assert code == 0 and f"{fid:>4}  completed" in out
    assert "unconfirmed: bump 1 may or may not have gone out" in out and command in out
    assert "--resend if it did not" in out

    code, out, _ = cli("followup", "show", str(fid))
    assert code == 0
    assert re.search(r"to do +bump 1 may or may not have gone out", out), out
    assert command in out and "--resend" in out
    assert re.search(r"stage 1 +1d +unconfirmed", out), out

    code, out, _ = cli("followup", "unconfirmed", str(fid), "--went-out")
    assert code == 0, out
    code, out, _ = cli("followup", "show", str(fid))
    assert "to do" not in out and "followup unconfirmed" not in out


def test_an_ended_followup_has_no_pending_bumps_and_one_word_for_a_reply(
    mail_world, alice, cli, clock
):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Contract", "Signed?")
    fid = add_followup(cli, alice, mid, "--after", "3d", "--stage", "1w")
    cli("once")
    mail_world.send(bob, [alice], "Re: Contract", "Yes", in_reply_to=mid, references=[mid])
    code, out, _ = cli("once")
    assert "1 stopped by reply" in out, out

    code, out, _ = cli("followup", "show", str(fid))
    assert code == 0
    assert re.search(rf"state +replied \(reply from {re.escape(bob.email)}\)", out), out
    assert re.search(rf"replied +reply from {re.escape(bob.email)}, message ", out), out
    assert "stopped: reply" not in out  # the same word in the state and in the history
    assert re.search(r"stage 1 +3d +not sent", out) and re.search(r"stage 2 +1w +not sent", out)
    assert "pending" not in out
    assert re.search(r"next +- \(ended\)", out), out

    code, out, _ = cli("followup", "cancel", str(fid))
    assert code == 2  # ended already; the list says so without a next time
    code, out, _ = cli("followup", "list")
    assert re.search(rf"{fid:>4}  replied +next - ", out), out


def test_an_active_followup_still_lists_its_bumps_as_pending(mail_world, alice, cli):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Draft", "Thoughts?")
    fid = add_followup(cli, alice, mid, "--after", "3d", "--stage", "1w")
    code, out, _ = cli("followup", "show", str(fid))
    assert code == 0 and re.search(r"stage 2 +1w +pending", out) and "not sent" not in out, out


@pytest.mark.now("2026-11-24T10:00:00+00:00")
def test_followup_add_prints_every_bump_time(mail_world, alice, cli, engine):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Offer", "Interested?")
    code, out, err = cli(
        "followup", "add", "--account", alice.email, "--message-id", mid,
        "--after", "3d", "--stage", "1w", "--stage", "2w",
    )  # fmt: skip
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].endswith("will bump at Fri 2026-11-27 10:00 UTC unless someone replies")
    assert lines[1:] == [
        "  bump 2 at Fri 2026-12-04 10:00 UTC if still no reply",
        "  bump 3 at Fri 2026-12-18 10:00 UTC if still no reply",
    ]
    fid = int(lines[0].split()[1].rstrip(":"))
    assert state_of(engine.store, fid) == "active"


def test_once_help_says_what_it_does(capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["once", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "stop follow-ups that got a reply, send the bumps that are due" in text
    assert "another watcher holds" in text
