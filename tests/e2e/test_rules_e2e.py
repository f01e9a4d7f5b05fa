"""End to end: rules put follow-ups on new sent mail, on Dovecot + the SMTP sink and on the Gmail
emulator, through the CLI and the real engine pass (time from the injected clock).

Alice sets a rule ("remind me after 3 days when I ask someone outside the company a question"),
then writes mail the way she does every day. Only the external question gets a follow-up, whose
origin and history name the rule; the rest is skipped for a reason the rule's item keeps. The
dry-run over mail she sent before the rule says which of it the rule would have taken.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.e2e.test_gmail_e2e import connect as connect_gmail
from tests.e2e.test_watcher_e2e import connect as connect_imap
from tests.e2e.test_watcher_e2e import events_of
from watcher.models import Event, FollowUp, Mode, TriggerItem
from watcher.store import Store

CLIENT = "client.test"  # outside Alice's domain
QUESTION = "Hi Dana,\n\nCould you send the signed contract by Friday?\n\nThanks,\nAlice\n"
STATEMENT = "Hi Dana,\n\nHere is the report for October. Thanks for your help.\n\nAlice\n"
QUOTED_ONLY = (
    "Thanks, that settles it.\n\n"
    "On Mon, 2 Nov 2026 at 10:04, Dana <dana@client.test> wrote:\n"
    "> Do you want the PDF too?\n"
)


@dataclass
class Stage:
    """One mail system as the tests drive it: people, sending, the CLI, the engine."""

    send: Any  # (from_user, to, subject, body, **kw) -> Message-ID
    new_user: Any
    cli: Any
    engine: Any
    alice: Any
    domain: str


@pytest.fixture
def imap_stage(mail_world, cli, engine):
    alice = mail_world.new_user("alice")
    connect_imap(cli, mail_world, alice)
    _always_open(cli, alice)
    return Stage(mail_world.send, mail_world.new_user, cli, engine, alice, mail_world.domain)


@pytest.fixture
def gmail_stage(google, cli, gmail_config, clock):
    from watcher.engine import Engine

    def gcli(*argv, env=None):
        return cli(*argv, env={**google.env(), **(env or {})})

    alice = google.new_user("alice")
    connect_gmail(gcli, google, alice)
    _always_open(gcli, alice)
    store = Store.from_config(gmail_config)
    store.migrate()
    yield Stage(
        google.send,
        google.new_user,
        gcli,
        Engine(store, gmail_config, clock=clock.now),
        alice,
        google.domain,
    )
    store.dispose()


@pytest.fixture(params=["imap", "gmail"])
def stage(request):
    return request.getfixturevalue(f"{request.param}_stage")


def _always_open(cli, user) -> None:
    code, _, err = cli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err


def add_rule(cli, account: str, name: str, *args) -> int:
    code, out, err = cli("rule", "add", "--account", account, "--name", name, *args)
    assert code == 0, err
    assert out.startswith("rule ")
    return int(out.split()[1])


def followups(store: Store) -> list[FollowUp]:
    with store.session() as s:
        rows = list(s.scalars(select(FollowUp).order_by(FollowUp.id)))
        s.expunge_all()
        return rows


def item_for(store: Store, message_id: str) -> TriggerItem | None:
    with store.session() as s:
        row = s.scalar(select(TriggerItem).where(TriggerItem.key == message_id))
        if row is not None:
            s.expunge(row)
        return row


def counts(store: Store) -> tuple[int, int, int]:
    with store.session() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(model))
            for model in (FollowUp, TriggerItem, Event)
        )


def _hours_ago(hours: int) -> str:
    return email.utils.format_datetime(datetime.now(UTC) - timedelta(hours=hours))


def test_rule_follows_up_only_the_external_question(stage):
    alice, send, store = stage.alice, stage.send, stage.engine.store
    colleague = stage.new_user("carl")  # same domain as Alice
    stage.engine.run_pass()  # the watcher knows the mailbox from here on

    # Sent while the watcher was down, before the rule existed: never retroactively.
    before = send(alice, [f"dana@{CLIENT}"], "Old question", QUESTION, date=_hours_ago(2))
    rule_id = add_rule(
        stage.cli,
        alice.email,
        "Client questions",
        "--after",
        "3d",
        "--questions-only",
        "--exclude-domain",
        "partner.test",
    )
    asked = send(alice, [f"Dana <dana@{CLIENT}>"], "Contract", QUESTION)
    internal = send(alice, [colleague], "Contract draft", QUESTION)
    to_list = send(alice, [f"dev@lists.{CLIENT}"], "Release plan", QUESTION)
    excluded = send(alice, ["erin@sub.partner.test"], "Partner pricing", QUESTION)
    statement = send(alice, [f"dana@{CLIENT}"], "October report", STATEMENT)
    quoted = send(alice, [f"dana@{CLIENT}"], "Re: Format", QUOTED_ONLY)

    stage.engine.run_pass()

    [followup] = followups(store)
    origin = f"rule 'Client questions' (#{rule_id})"
    assert followup.anchor_message_id == asked
    assert followup.origin == origin
    assert followup.mode == Mode.REMIND and followup.to_addrs == [f"dana@{CLIENT}"]
    history = events_of(store, followup.id)
    assert any(k == "created" and d.endswith(f"set by {origin}") for k, d in history), history
    assert any(
        k == "rule_matched"
        and f"{origin} matched: external recipient dana@{CLIENT}; asks: 'Could you send" in d
        for k, d in history
    ), history
    done = item_for(store, asked)
    assert (done.kind, done.state, done.followup_id) == ("rule", "done", followup.id)

    # Skipped on the headers alone: no item, nothing read, nothing written.
    for mid in (before, internal, to_list, excluded):
        assert item_for(store, mid) is None
    # Skipped after reading the text: the item keeps the reason, no Event is written.
    for mid in (statement, quoted):
        row = item_for(store, mid)
        assert row.state == "ignored" and row.followup_id is None
        assert row.outcome == (
            f"{origin}: external recipient dana@{CLIENT}; no question in your text (questions only)"
        )
    with store.session() as s:
        events = s.scalars(select(Event).where(Event.message_id.in_([statement, quoted])))
        assert list(events) == []

    # Another pass changes nothing: one follow-up per message, ever.
    stage.engine.run_pass()
    assert len(followups(store)) == 1
    code, out, _ = stage.cli("rule", "list")
    assert code == 0 and f"{rule_id:>4}  on   'Client questions'" in out
    assert "[1 follow-up created]" in out
    code, out, _ = stage.cli("followup", "show", str(followup.id))
    assert code == 0 and f"set by {origin}" in out


def test_two_rules_and_a_followed_thread_give_one_followup(stage):
    alice, send, store = stage.alice, stage.send, stage.engine.store
    stage.engine.run_pass()
    first = add_rule(stage.cli, alice.email, "Everything external", "--after", "1w")
    second = add_rule(
        stage.cli, alice.email, "Questions", "--after", "2d", "--mode", "send", "--questions-only"
    )
    asked = send(alice, [f"dana@{CLIENT}"], "Offer", QUESTION)
    stage.engine.run_pass()
    [followup] = followups(store)
    assert followup.origin == f"rule 'Everything external' (#{first})"
    assert followup.mode == Mode.REMIND

    # Alice writes again in the same thread: it already has an active follow-up.
    again = send(
        alice,
        [f"dana@{CLIENT}"],
        "Re: Offer",
        "Could you also confirm the date?",
        in_reply_to=asked,
        references=[asked],
    )
    stage.engine.run_pass()
    assert len(followups(store)) == 1
    row = item_for(store, again)
    assert row.state == "ignored"
    assert row.outcome == f"its thread already has an active follow-up (#{followup.id})"

    # The first rule off: the second one acts, and says so.
    code, out, err = stage.cli("rule", "disable", str(first))
    assert code == 0 and "is off" in out, err
    later = send(alice, [f"frank@{CLIENT}"], "Visit", "Are you available on the 3rd?")
    stage.engine.run_pass()
    newest = followups(store)[-1]
    assert newest.anchor_message_id == later
    assert newest.origin == f"rule 'Questions' (#{second})" and newest.mode == Mode.SEND
    code, out, _ = stage.cli("rule", "list")
    assert "[1 follow-up created]" in out.splitlines()[0]
    assert "off" in out.splitlines()[0] and "[1 follow-up created]" in out.splitlines()[1]


def test_dry_run_lists_what_the_rule_would_have_taken_and_writes_nothing(stage):
    alice, send, store = stage.alice, stage.send, stage.engine.store
    colleague = stage.new_user("carl")
    stage.engine.run_pass()
    send(alice, [f"Dana <dana@{CLIENT}>"], "Budget 2027", QUESTION, date=_hours_ago(5))
    send(alice, [colleague], "Team lunch", QUESTION, date=_hours_ago(4))
    send(alice, [f"noreply@{CLIENT}"], "Unsubscribe me", QUESTION, date=_hours_ago(3))
    send(alice, [f"dana@{CLIENT}"], "October report", STATEMENT, date=_hours_ago(2))
    stage.engine.run_pass()  # no rule yet: nothing happens to them
    rule_id = add_rule(stage.cli, alice.email, "Client questions", "--questions-only")
    before = counts(store)

    code, out, err = stage.cli("rule", "dry-run", str(rule_id), "--days", "1")
    assert code == 0, err
    assert "nothing is created" in out
    # Columns: date (16), to (28), subject (28), follow up?, why; two spaces between.
    rows = {line[48:76].strip(): line for line in out.splitlines() if line[:2] == "20"}
    assert set(rows) == {"Budget 2027", "Team lunch", "Unsubscribe me", "October report"}
    assert " yes " in rows["Budget 2027"] and "asks: 'Could you send" in rows["Budget 2027"]
    assert " no " in rows["Team lunch"] and "internal" in rows["Team lunch"]
    assert " no " in rows["Unsubscribe me"] and "no-reply" in rows["Unsubscribe me"]
    assert " no " in rows["October report"] and "no question" in rows["October report"]
    assert "1 of 4 would get a follow-up" in out
    assert counts(store) == before  # nothing created, nothing written

    # The rule itself never reaches back: the next pass leaves those messages alone.
    stage.engine.run_pass()
    assert followups(store) == []


def test_rule_commands_validate_and_edit(imap_stage):
    cli, alice = imap_stage.cli, imap_stage.alice
    for args, message in (
        (["--after", "soon"], "'soon' is not a delay"),
        (["--exclude-address", "bob"], "'bob' is not an e-mail address"),
        (["--exclude-domain", "not a domain"], "is not a domain"),
    ):
        code, _, err = cli("rule", "add", "--account", alice.email, "--name", "R", *args)
        assert code == 2 and message in err and err.startswith("error: ")
    code, out, _ = cli("rule", "list")
    assert "no rules yet" in out  # nothing saved on bad input
    rule_id = add_rule(cli, alice.email, "R", "--exclude-domain", "@Partner.test")
    code, out, err = cli(
        "rule", "edit", str(rule_id), "--after", "2d", "--stage", "1w", "--any-recipient"
    )
    assert code == 0, err
    assert "remind you after 2d, then 1w" in out and "any recipient" in out
    assert "not domain partner.test" in out
    code, out, _ = cli("rule", "show", str(rule_id))
    assert code == 0 and "follow-ups 0 created by it" in out
    with pytest.raises(SystemExit):  # argparse names the choices
        cli("rule", "edit", str(rule_id), "--mode", "shout")
    code, _, err = cli("rule", "edit", str(rule_id), "--stage", "1w")
    assert code == 2 and "give --after with --stage" in err
    code, out, _ = cli("rule", "remove", str(rule_id))
    assert code == 0 and "removed rule 'R'" in out
    code, _, err = cli("rule", "show", str(rule_id))
    assert code == 2 and f"no rule {rule_id}" in err
