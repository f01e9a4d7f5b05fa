"""End to end: follow-ups without clicking, on Dovecot + the SMTP sink and on the Gmail emulator.

Alice puts follow-ups on her sent mail from her own mail client: a Bcc to alice+2w@…, a move
(or Gmail label) into "Replywatch/1 week", a draft filed in "Replywatch/Bumps". The real engine
pass finds them; time moves with the injected clock.
"""

from __future__ import annotations

import email.policy
import email.utils
import smtplib
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from tests.e2e.test_gmail_e2e import connect as connect_gmail
from tests.e2e.test_watcher_e2e import add_followup, connect, events_of
from tests.support.mailboxes import DiesAfterRecordingTheHandOver, WrappedMailbox
from watcher.compose import bump_message_id, trigger_help_message_id
from watcher.engine import Engine
from watcher.errors import MailboxProtocolError, MailboxUnavailable
from watcher.models import Event, FollowUp, TriggerItem
from watcher.store import Store

FILED = "Replywatch/Filed"
BUMPS = "Replywatch/Bumps"
WEEK = "Replywatch/1 week"


def plus(user, tag: str) -> str:
    local, _, domain = user.email.partition("@")
    return f"{local}+{tag}@{domain}"


def compose(sender, to, subject, body, *, bcc=(), cc=(), in_reply_to=None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = email.utils.formataddr((sender.name, sender.email))
    msg["To"] = ", ".join(str(a) for a in to)
    if cc:
        msg["Cc"] = ", ".join(str(a) for a in cc)
    if bcc:
        msg["Bcc"] = ", ".join(bcc)
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = email.utils.make_msgid(domain="example.test")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg


def followups(store: Store) -> list[FollowUp]:
    with store.session() as s:
        rows = list(s.scalars(select(FollowUp).order_by(FollowUp.id)))
        for f in rows:
            _ = [st.delay for st in f.stages]  # loaded before the session ends
        return rows


def items(store: Store) -> list[TriggerItem]:
    with store.session() as s:
        return list(s.scalars(select(TriggerItem).order_by(TriggerItem.id)))


def account_events(store: Store) -> list[tuple[str, str]]:
    with store.session() as s:
        rows = s.scalars(select(Event).where(Event.followup_id.is_(None)).order_by(Event.id))
        return [(e.kind, e.detail) for e in rows]


# -- IMAP: Dovecot + the SMTP sink -----------------------------------------------------------


@pytest.fixture
def alice(mail_world, cli):
    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    code, _, err = cli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    return user


@pytest.fixture
def folders_on(alice, cli):
    code, out, err = cli("account", "triggers", alice.email, "on")
    assert code == 0, err
    assert "folder triggers on" in out
    return alice


def send_bcc(
    world, sender, to, subject, body="Here it is.", *, bcc=(), cc=(), in_reply_to=None
) -> str:
    """Alice's mail client sends with Bcc: the envelope reaches every address, the message
    itself carries no Bcc; the copy saved in Sent keeps it."""
    msg = compose(sender, to, subject, body, bcc=bcc, cc=cc, in_reply_to=in_reply_to)
    world.deliver(sender, msg.as_bytes(policy=email.policy.SMTP), "Sent", flags=[b"\\Seen"])
    del msg["Bcc"]
    with smtplib.SMTP(world.sink.host, world.sink.port, timeout=10) as smtp:
        smtp.login(sender.email, sender.password)
        smtp.sendmail(
            sender.email,
            [str(a) for a in (*to, *cc)] + list(bcc),
            msg.as_bytes(policy=email.policy.SMTP),
        )
    return msg["Message-ID"]


def test_bcc_to_my_plus_address_sets_a_followup_and_files_the_copy(
    mail_world, alice, engine, clock
):
    bob = mail_world.new_user("bob")
    engine.run_pass()  # the watcher's baseline
    address = plus(alice, "2w")
    mid = send_bcc(mail_world, alice, [bob], "Quote for the roof", bcc=[address])
    assert mail_world.count(alice, "INBOX", mid) == 1  # the Bcc copy landed in her inbox

    engine.run_pass()
    [followup] = followups(engine.store)
    assert followup.origin == f"plus-address {address}"
    assert followup.anchor_message_id == mid and followup.state == "active"
    assert followup.to_addrs == [bob.email] and followup.cc_addrs == []
    assert [st.delay for st in followup.stages] == ["2w"]
    created = [d for k, d in events_of(engine.store, followup.id) if k == "created"]
    assert len(created) == 1 and f"set by plus-address {address}" in created[0]
    # the copy left the inbox, read, and was filed; the Sent copy stays
    assert mail_world.count(alice, "INBOX", mid) == 0
    filed = mail_world.folder_name(alice, FILED)
    assert mail_world.count(alice, filed, mid) == 1
    assert "\\Seen" in mail_world.flags(alice, filed, mid)
    assert mail_world.count(alice, "Sent", mid) == 1
    [item] = items(engine.store)
    assert (item.kind, item.state, item.followup_id) == ("plus", "done", followup.id)

    # the copy to herself is never a reply: the bump goes out, to Bob alone
    engine.run_pass()
    clock.advance(days=15)
    engine.run_pass()
    assert followups(engine.store)[0].state == "completed"
    bump_id = bump_message_id(followup.token, 1, alice.email)
    [sent] = mail_world.sink.find(bump_id)
    assert sent.rcpt_tos == [bob.email]
    assert address not in sent.content.decode()


def test_an_inbox_copy_delivered_after_a_pass_is_filed_too(mail_world, alice, engine):
    bob = mail_world.new_user("bob")
    engine.run_pass()
    address = plus(alice, "2w")
    msg = compose(alice, [bob.email], "Slow delivery", "Hello", bcc=[address])
    raw = msg.as_bytes(policy=email.policy.SMTP)
    mail_world.deliver(alice, raw, "Sent", flags=[b"\\Seen"])  # her client saved it first
    engine.run_pass()
    [followup] = followups(engine.store)
    del msg["Bcc"]
    inbox_copy = f"Delivered-To: {address}\r\n".encode() + msg.as_bytes(policy=email.policy.SMTP)
    mail_world.deliver(alice, inbox_copy, "INBOX")  # the Bcc copy lands a pass later
    engine.run_pass()
    assert mail_world.count(alice, "INBOX", msg["Message-ID"]) == 0
    assert [f.id for f in followups(engine.store)] == [followup.id]
    [item] = items(engine.store)
    assert (item.state, item.followup_id) == ("done", followup.id)
    assert followups(engine.store)[0].state == "active"  # her own copy is no reply


def test_plus_address_triggers_on_sqlite_and_postgresql(mail_world, cli, db_config, clock):
    """The processors write inside savepoints; both databases keep one follow-up per message
    and roll back a refused one cleanly."""
    env = {"DATABASE_URL": db_config.database_url}
    alice = mail_world.new_user("alice")
    settings, password = mail_world.imap_settings(alice)
    code, _, err = cli(
        "account", "add-imap", "--email", alice.email,
        "--imap-host", settings["imap_host"], "--imap-port", str(settings["imap_port"]),
        "--imap-security", "none", "--smtp-host", settings["smtp_host"],
        "--smtp-port", str(settings["smtp_port"]), "--smtp-security", "none",
        env={**env, "REPLYWATCH_IMAP_PASSWORD": password},
    )  # fmt: skip
    assert code == 0, err
    store = Store.from_config(db_config)
    engine = Engine(store, db_config, clock=clock.now)
    try:
        bob = mail_world.new_user("bob")
        engine.run_pass()
        good = send_bcc(mail_world, alice, [bob], "Good", bcc=[plus(alice, "3d")])
        # to herself only: nobody to bump, so no follow-up (and nothing half-written)
        alone = send_bcc(mail_world, alice, [], "Note to self", bcc=[plus(alice, "1w")])
        engine.run_pass()
        engine.run_pass()
        [followup] = followups(store)
        assert followup.anchor_message_id == good
        states = {i.key: (i.state, i.followup_id) for i in items(store)}
        assert states == {good: ("done", followup.id), alone: ("ignored", None)}
        [detail] = [d for k, d in account_events(store) if k == "trigger_ignored"]
        assert "no recipients other than you" in detail
        assert mail_world.count(alice, "INBOX", good) == 0
        assert mail_world.count(alice, "INBOX", alone) == 0
    finally:
        store.dispose()


def test_plus_address_in_cc_with_remind_only(mail_world, alice, engine):
    bob = mail_world.new_user("bob")
    engine.run_pass()
    address = plus(alice, "1w-remind")
    mid = mail_world.send(alice, [bob], "Invoice 7", "Attached.", cc=[address])
    engine.run_pass()
    [followup] = followups(engine.store)
    assert (followup.mode, followup.origin) == ("remind", f"plus-address {address}")
    assert [st.delay for st in followup.stages] == ["1w"]
    assert followup.cc_addrs == []  # her own plus-address never gets a bump
    assert mail_world.count(alice, "INBOX", mid) == 0


def test_plus_address_with_a_weekday(mail_world, alice, engine, clock):
    bob = mail_world.new_user("bob")
    engine.run_pass()
    send_bcc(mail_world, alice, [bob], "Friday?", bcc=[plus(alice, "fri")])
    engine.run_pass()
    [followup] = followups(engine.store)
    now = clock.now()
    ahead = (4 - now.weekday()) % 7 or 7
    friday = (now + timedelta(days=ahead)).replace(hour=0, minute=0, second=0)
    # her window is all day in UTC: the next Friday (never today) at 00:00 UTC
    assert followup.stages[0].at == friday and followup.stages[0].delay is None
    assert followup.due_at == friday


@pytest.mark.parametrize("tag, problem", [("2x", "'2x' is not a delay"), ("30y", "'30y'")])
def test_malformed_plus_address_gets_one_help_email_and_no_followup(
    mail_world, alice, engine, tag, problem
):
    bob = mail_world.new_user("bob")
    engine.run_pass()
    address = plus(alice, tag)
    mid = send_bcc(mail_world, alice, [bob], "Meeting notes", bcc=[address])
    engine.run_pass()
    engine.run_pass()  # a second pass sends nothing more
    assert followups(engine.store) == []
    help_id = trigger_help_message_id(mid, address, alice.email)
    assert mail_world.sink.count(help_id) == 1
    [sent] = mail_world.sink.find(help_id)
    assert sent.rcpt_tos == [alice.email]
    text = sent.content.decode()
    assert address in text and problem in text and plus(alice, "3d") in text
    assert mail_world.count(alice, "INBOX", mid) == 0  # the copy was filed all the same
    assert mail_world.count(alice, "INBOX", help_id) == 1  # the help reached her
    [item] = items(engine.store)  # and the help email triggered nothing itself
    assert (item.state, item.outcome) == ("ignored", "malformed plus-address: help email sent")
    [event] = [(k, d) for k, d in account_events(engine.store) if k == "trigger_help"]
    assert address in event[1] and "sent you a short email" in event[1]
    engine.run_pass()
    assert mail_world.sink.count(help_id) == 1


class DiesAfterSend(WrappedMailbox):
    """The watcher process dies right after the server took a message."""

    def send(self, bump, before_commit=None):
        self.inner.send(bump, before_commit)
        raise RuntimeError("killed right after the hand-over")


def test_a_crash_after_the_help_email_went_out_never_sends_it_twice(
    mail_world, alice, engine, clock
):
    bob = mail_world.new_user("bob")
    engine.run_pass()
    address = plus(alice, "2x")
    mid = send_bcc(mail_world, alice, [bob], "Crash", bcc=[address])
    dying = Engine(engine.store, engine.config, clock=clock.now, mailbox_factory=DiesAfterSend)
    report = dying.run_pass()
    assert report.account_faults == 1
    help_id = trigger_help_message_id(mid, address, alice.email)
    assert mail_world.sink.count(help_id) == 1
    clock.advance(hours=1)  # past the faulted account's back-off
    engine.run_pass()
    engine.run_pass()
    assert mail_world.sink.count(help_id) == 1
    assert followups(engine.store) == []
    [item] = items(engine.store)
    # The next pass settled it from Sent: done, and the user told once.
    assert (item.state, item.outcome) == ("ignored", "malformed plus-address: help email sent")
    assert [k for k, _ in account_events(engine.store)].count("trigger_help") == 1


def test_a_crash_before_the_help_email_went_out_leaves_it_unconfirmed_not_doubled(
    mail_world, alice, engine, clock
):
    bob = mail_world.new_user("bob")
    engine.run_pass()
    address = plus(alice, "2x")
    mid = send_bcc(mail_world, alice, [bob], "Crash early", bcc=[address])
    dying = Engine(
        engine.store, engine.config, clock=clock.now, mailbox_factory=DiesAfterRecordingTheHandOver
    )
    assert dying.run_pass().account_faults == 1
    [item] = items(engine.store)
    assert item.state == "answering"
    clock.advance(hours=1)  # past the faulted account's back-off
    engine.run_pass()
    engine.run_pass()
    # SMTP cannot prove it did not go out: never a second email, and the user is told why.
    assert mail_world.sink.count(trigger_help_message_id(mid, address, alice.email)) == 0
    [item] = items(engine.store)
    assert (item.state, item.outcome) == (
        "ignored",
        "malformed plus-address: help email unconfirmed",
    )
    [event] = [d for k, d in account_events(engine.store) if k == "trigger_help"]
    assert "may not have gone out" in event


class FileAwayFails(WrappedMailbox):
    """Filing the inbox copy away fails (every retry) while `failing` is set."""

    failing = True

    def file_away(self, ref):
        if FileAwayFails.failing:
            raise MailboxUnavailable("the server said BYE")
        return self.inner.file_away(ref)


def test_filing_that_fails_is_tried_again_without_a_second_followup(
    mail_world, alice, engine, clock
):
    bob = mail_world.new_user("bob")
    engine.run_pass()
    address = plus(alice, "1w")
    mid = send_bcc(mail_world, alice, [bob], "Retry", bcc=[address])
    flaky = Engine(engine.store, engine.config, clock=clock.now, mailbox_factory=FileAwayFails)
    FileAwayFails.failing = True
    flaky.run_pass()
    flaky.run_pass()
    [followup] = followups(engine.store)
    assert mail_world.count(alice, "INBOX", mid) == 1
    [item] = items(engine.store)
    assert (item.state, item.followup_id) == ("pending", followup.id)
    FileAwayFails.failing = False
    flaky.run_pass()
    assert [f.id for f in followups(engine.store)] == [followup.id]
    assert mail_world.count(alice, "INBOX", mid) == 0
    [item] = items(engine.store)
    assert (item.state, item.followup_id) == ("done", followup.id)


def test_a_newsletter_to_my_plus_address_is_no_trigger(mail_world, alice, engine):
    shop = mail_world.new_user("shop")
    engine.run_pass()
    mid = mail_world.send(shop, [plus(alice, "2w")], "Our autumn sale", "50% off")
    engine.run_pass()
    assert followups(engine.store) == [] and items(engine.store) == []
    assert len(mail_world.sink.messages) == 1  # only the newsletter: no help email either
    assert mail_world.count(alice, "INBOX", mid) == 1  # left where it was


def test_moving_a_sent_message_into_a_folder_sets_a_followup(mail_world, folders_on, engine):
    alice = folders_on
    bob = mail_world.new_user("bob")
    engine.run_pass()  # creates the Replywatch folders and takes the baseline
    for logical in ("Replywatch/3 days", WEEK, "Replywatch/2 weeks", BUMPS):
        assert mail_world.folder_name(alice, logical) in mail_world.folders(alice)
    mid = mail_world.send(alice, [bob], "Contract draft", "Please sign.")
    engine.run_pass()
    assert followups(engine.store) == []
    mail_world.move(alice, mid, WEEK)
    engine.run_pass()
    [followup] = followups(engine.store)
    assert followup.origin == f"folder {WEEK}"
    assert [st.delay for st in followup.stages] == ["1w"]
    # back in Sent, gone from the trigger folder
    assert mail_world.count(alice, "Sent", mid) == 1
    assert mail_world.count(alice, mail_world.folder_name(alice, WEEK), mid) == 0
    engine.run_pass()  # seeing it again in Sent changes nothing
    assert len(followups(engine.store)) == 1 and followups(engine.store)[0].state == "active"


def test_a_message_put_in_a_folder_again_after_its_followup_ended_gets_a_new_one(
    mail_world, folders_on, engine, clock
):
    alice = folders_on
    bob = mail_world.new_user("bob")
    engine.run_pass()
    mid = mail_world.send(alice, [bob], "Again", "Any interest?")
    engine.run_pass()
    mail_world.move(alice, mid, "Replywatch/3 days")
    engine.run_pass()
    clock.advance(days=4)
    engine.run_pass()  # the bump goes out, the follow-up is completed
    [first] = followups(engine.store)
    assert first.state == "completed"
    mail_world.move(alice, mid, WEEK)
    engine.run_pass()
    second = followups(engine.store)[1]
    assert second.id != first.id and second.origin == f"folder {WEEK}"
    assert mail_world.count(alice, "Sent", mid) == 1


def test_someone_elses_message_in_a_folder_is_put_back(mail_world, folders_on, engine):
    alice = folders_on
    bob = mail_world.new_user("bob")
    engine.run_pass()
    mid = mail_world.send(bob, [alice], "Hello", "Hi Alice")
    engine.run_pass()
    mail_world.move(alice, mid, WEEK, from_folder="INBOX")
    engine.run_pass()
    assert followups(engine.store) == []
    assert mail_world.count(alice, "INBOX", mid) == 1
    [detail] = [d for k, d in account_events(engine.store) if k == "trigger_ignored"]
    assert "messages you sent" in detail and WEEK in detail


def test_folders_do_nothing_for_an_account_that_did_not_opt_in(mail_world, alice, engine):
    bob = mail_world.new_user("bob")
    engine.run_pass()
    assert mail_world.folder_name(alice, WEEK) not in mail_world.folders(alice)
    mid = mail_world.send(alice, [bob], "Contract", "Please sign.")
    mail_world.move(alice, mid, WEEK)
    engine.run_pass()
    engine.run_pass()
    assert followups(engine.store) == []
    assert mail_world.count(alice, mail_world.folder_name(alice, WEEK), mid) == 1


def test_plus_address_and_folder_on_one_message_make_one_followup(mail_world, folders_on, engine):
    alice = folders_on
    bob = mail_world.new_user("bob")
    engine.run_pass()
    address = plus(alice, "3d")
    mid = send_bcc(mail_world, alice, [bob], "Two signals", bcc=[address])
    mail_world.move(alice, mid, WEEK)
    engine.run_pass()
    engine.run_pass()
    [followup] = followups(engine.store)
    assert followup.origin in (f"plus-address {address}", f"folder {WEEK}")
    covered = [d for k, d in events_of(engine.store, followup.id) if k == "trigger_covered"]
    assert len(covered) == 1 and "nothing was added" in covered[0]
    assert mail_world.count(alice, "Sent", mid) == 1
    assert mail_world.count(alice, "INBOX", mid) == 0
    assert {i.state for i in items(engine.store)} == {"done", "ignored"}


def test_plus_address_on_a_message_that_already_has_a_followup(mail_world, alice, cli, engine):
    bob = mail_world.new_user("bob")
    engine.run_pass()
    address = plus(alice, "2w")
    mid = send_bcc(mail_world, alice, [bob], "By hand first", bcc=[address])
    fid = add_followup(cli, alice, mid, "--after", "1w")
    engine.run_pass()
    assert [f.id for f in followups(engine.store)] == [fid]
    assert any(k == "trigger_covered" and address in d for k, d in events_of(engine.store, fid))
    assert mail_world.count(alice, "INBOX", mid) == 0


def test_a_plus_address_in_a_thread_already_followed_up_adds_no_second_followup(
    mail_world, alice, engine
):
    """One thread, one follow-up: two would send two bumps answering each other."""
    bob = mail_world.new_user("bob")
    engine.run_pass()
    first = send_bcc(mail_world, alice, [bob], "Offer", bcc=[plus(alice, "1w")])
    engine.run_pass()
    [followup] = followups(engine.store)
    again = plus(alice, "3d")
    send_bcc(mail_world, alice, [bob], "Re: Offer", "Any news?", bcc=[again], in_reply_to=first)
    engine.run_pass()
    assert [f.id for f in followups(engine.store)] == [followup.id]
    covered = [d for k, d in events_of(engine.store, followup.id) if k == "trigger_covered"]
    assert len(covered) == 1 and again in covered[0] and "its thread" in covered[0]
    assert mail_world.count(alice, "INBOX", first) == 0  # both copies filed all the same


def draft_text(body_own: str, quoted: str, when: str = "Tue, 24 Nov 2026 at 10:00") -> str:
    quote = "\n".join(f"> {line}" for line in quoted.splitlines())
    return f"{body_own}\n\nOn {when}, Alice <a@example.test> wrote:\n{quote}\n"


def test_a_draft_in_bumps_becomes_the_bump_and_is_deleted_after(
    mail_world, folders_on, cli, engine, clock
):
    alice = folders_on
    bob = mail_world.new_user("bob")
    engine.run_pass()
    mid = mail_world.send(alice, [bob], "Roof quote", "Here is the quote.")
    fid = add_followup(cli, alice, mid, "--after", "1w", "--remind-only")
    engine.run_pass()
    mail_world.save_draft(
        alice,
        [bob],
        "Re: Roof quote",
        draft_text("Hi Bob, any thoughts on the {price}?", "Here is the quote."),
        folder=BUMPS,
        in_reply_to=mid,
        references=[mid],
    )
    engine.run_pass()
    [followup] = followups(engine.store)
    assert followup.id == fid and followup.mode == "send"  # a draft means: send it
    kinds = [k for k, _ in events_of(engine.store, fid)]
    assert "draft_used" in kinds and "edited" in kinds
    bumps_folder = mail_world.folder_name(alice, BUMPS)
    assert len(mail_world.messages(alice, bumps_folder)) == 1

    clock.advance(days=8)
    engine.run_pass()
    bump_id = bump_message_id(followup.token, 1, alice.email)
    [sent] = mail_world.sink.find(bump_id)
    body = sent.content.decode()
    assert "Hi Bob, any thoughts on the {price}?" in body
    assert "Here is the quote." not in body and "wrote:" not in body
    assert sent.rcpt_tos == [bob.email]
    assert mail_world.messages(alice, bumps_folder) == []  # the draft went out: deleted
    assert "draft_discarded" in [k for k, _ in events_of(engine.store, fid)]


def test_cancelling_says_the_draft_stays_unsent(mail_world, folders_on, cli, engine, clock):
    alice = folders_on
    bob = mail_world.new_user("bob")
    engine.run_pass()
    mid = mail_world.send(alice, [bob], "Deck", "Slides attached.")
    fid = add_followup(cli, alice, mid, "--after", "1w")
    engine.run_pass()
    mail_world.save_draft(
        alice, [bob], "Re: Deck", "Any feedback?", folder=BUMPS, in_reply_to=mid, references=[mid]
    )
    engine.run_pass()
    code, _, err = cli("followup", "cancel", str(fid))
    assert code == 0, err
    [cancelled] = [d for k, d in events_of(engine.store, fid) if k == "cancelled"]
    assert "your draft for bump 1 is not sent and stays where you filed it" in cancelled
    clock.advance(days=8)
    engine.run_pass()
    assert len(mail_world.messages(alice, mail_world.folder_name(alice, BUMPS))) == 1
    assert (
        mail_world.sink.find(bump_message_id(followups(engine.store)[0].token, 1, alice.email))
        == []
    )


def test_a_reply_keeps_the_draft_and_sends_nothing(mail_world, folders_on, cli, engine, clock):
    alice = folders_on
    bob = mail_world.new_user("bob")
    engine.run_pass()
    mid = mail_world.send(alice, [bob], "Budget", "Numbers attached.")
    fid = add_followup(cli, alice, mid, "--after", "1w")
    engine.run_pass()
    draft_id = mail_world.save_draft(
        alice, [bob], "Re: Budget", "Any news?", folder=BUMPS, in_reply_to=mid, references=[mid]
    )
    engine.run_pass()
    mail_world.send(bob, [alice], "Re: Budget", "Looks fine.", in_reply_to=mid, references=[mid])
    engine.run_pass()
    clock.advance(days=8)
    engine.run_pass()
    assert followups(engine.store)[0].state == "replied"
    kept = [d for k, d in events_of(engine.store, fid) if k == "draft_kept"]
    assert len(kept) == 1 and f"stays in {BUMPS}" in kept[0]
    assert mail_world.count(alice, mail_world.folder_name(alice, BUMPS), draft_id) == 1
    assert not [m for m in mail_world.sink.messages if m.message_id.startswith("<rw.")]


def test_a_newer_draft_replaces_the_older_one(mail_world, folders_on, cli, engine, clock):
    alice = folders_on
    bob = mail_world.new_user("bob")
    engine.run_pass()
    mid = mail_world.send(alice, [bob], "Offer", "Our offer.")
    fid = add_followup(cli, alice, mid, "--after", "1w")
    engine.run_pass()
    first = mail_world.save_draft(
        alice, [bob], "Re: Offer", "First try.", folder=BUMPS, in_reply_to=mid, references=[mid]
    )
    engine.run_pass()
    second = mail_world.save_draft(
        alice, [bob], "Re: Offer", "Better words.", folder=BUMPS, in_reply_to=mid
    )
    engine.run_pass()
    bumps_folder = mail_world.folder_name(alice, BUMPS)
    assert mail_world.count(alice, bumps_folder, first) == 0  # the older version was deleted
    assert mail_world.count(alice, bumps_folder, second) == 1
    [followup] = followups(engine.store)
    assert followup.stages[0].text == "Better words."
    used = [d for k, d in events_of(engine.store, fid) if k == "draft_used"]
    assert len(used) == 2 and "replaces an earlier version" in used[1]
    clock.advance(days=8)
    engine.run_pass()
    [sent] = mail_world.sink.find(bump_message_id(followup.token, 1, alice.email))
    assert "Better words." in sent.content.decode() and "First try." not in sent.content.decode()
    assert mail_world.count(alice, bumps_folder, second) == 0


def test_a_draft_addressed_to_my_bump_address_becomes_the_bump(
    mail_world, folders_on, cli, engine, clock
):
    alice = folders_on
    bob = mail_world.new_user("bob")
    engine.run_pass()
    mid = mail_world.send(alice, [bob], "Visit", "Next week?")
    fid = add_followup(cli, alice, mid, "--after", "1w")
    engine.run_pass()
    draft = mail_world.save_draft(
        alice,
        [bob],
        "Re: Visit",
        "Does Tuesday work?",
        bcc=[plus(alice, "bump")],
        in_reply_to=mid,
        references=[mid],
    )
    engine.run_pass()
    assert followups(engine.store)[0].stages[0].text == "Does Tuesday work?"
    assert any(k == "draft_used" for k, _ in events_of(engine.store, fid))
    clock.advance(days=8)
    engine.run_pass()
    [sent] = mail_world.sink.find(bump_message_id(followups(engine.store)[0].token, 1, alice.email))
    assert "Does Tuesday work?" in sent.content.decode()
    assert sent.rcpt_tos == [bob.email]  # the bump address was only a marker
    assert mail_world.count(alice, "Drafts", draft) == 0


class FoldersRefused(WrappedMailbox):
    def ensure_trigger_folders(self):
        raise MailboxProtocolError("CREATE refused: over quota")


def test_folders_that_cannot_be_created_are_an_account_event_not_a_fault(
    mail_world, folders_on, engine, clock
):
    refused = Engine(engine.store, engine.config, clock=clock.now, mailbox_factory=FoldersRefused)
    report = refused.run_pass()
    assert report.account_faults == 0
    [detail] = [d for k, d in account_events(engine.store) if k == "trigger_folders_error"]
    assert "over quota" in detail
    engine.run_pass()  # a later pass (here: a working server) creates them
    assert mail_world.folder_name(folders_on, WEEK) in mail_world.folders(folders_on)


def test_folder_triggers_can_be_turned_off(mail_world, folders_on, cli, engine):
    alice = folders_on
    code, out, err = cli("account", "triggers", alice.email, "off")
    assert code == 0 and "folder triggers off" in out, err
    bob = mail_world.new_user("bob")
    engine.run_pass()
    mid = mail_world.send(alice, [bob], "Off", "Nothing to see.")
    mail_world.move(alice, mid, WEEK)
    engine.run_pass()
    assert followups(engine.store) == []
    assert [k for k, _ in account_events(engine.store)].count("trigger_folders") == 2


def test_a_draft_on_a_thread_without_followup_starts_one(mail_world, folders_on, engine):
    alice = folders_on
    bob = mail_world.new_user("bob")
    engine.run_pass()
    mid = mail_world.send(alice, [bob], "Lunch", "Thursday?")
    engine.run_pass()
    mail_world.save_draft(
        alice, [bob], "Re: Lunch", "Still on?", folder=BUMPS, in_reply_to=mid, references=[mid]
    )
    engine.run_pass()
    [followup] = followups(engine.store)
    assert followup.anchor_message_id == mid and followup.origin == f"draft in {BUMPS}"
    assert [st.delay for st in followup.stages] == ["1w"]  # her default delay
    assert followup.stages[0].text == "Still on?" and followup.stages[0].draft_ref


def test_a_draft_answering_someone_elses_message_is_ignored(mail_world, folders_on, engine):
    alice = folders_on
    bob = mail_world.new_user("bob")
    engine.run_pass()
    mid = mail_world.send(bob, [alice], "Question", "Can you help?")
    engine.run_pass()
    mail_world.save_draft(
        alice, [bob], "Re: Question", "Sure.", folder=BUMPS, in_reply_to=mid, references=[mid]
    )
    engine.run_pass()
    assert followups(engine.store) == []
    [detail] = [d for k, d in account_events(engine.store) if k == "trigger_ignored"]
    assert bob.email in detail and "not one you sent" in detail


# -- Gmail: the emulator ---------------------------------------------------------------------


@pytest.fixture
def galice(google, gcli):
    user = google.new_user("alice")
    connect_gmail(gcli, google, user)
    code, _, err = gcli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    code, _, err = gcli("account", "triggers", user.email, "on")
    assert code == 0, err
    return user


def gmail_send(google, sender, to, subject, body="Here it is.", *, bcc=(), in_reply_to=None):
    msg = compose(sender, to, subject, body, bcc=bcc, in_reply_to=in_reply_to)
    return google.gmail.send_as(sender.email, msg.as_bytes(policy=email.policy.SMTP))


def labels_of(google, user, msg) -> set[str]:
    [now] = [m for m in google.gmail.find(user.email, msg.message_id) if m.id == msg.id]
    return google.gmail.label_names(user.email, now)


def test_gmail_bcc_plus_address_sets_a_followup_and_archives(google, galice, gengine, clock):
    bob = google.new_user("bob")
    gengine.run_pass()
    address = plus(galice, "2w")
    sent = gmail_send(google, galice, [bob.email], "Quote", bcc=[address])
    assert "INBOX" in labels_of(google, galice, sent)
    gengine.run_pass()
    [followup] = followups(gengine.store)
    assert followup.origin == f"plus-address {address}" and followup.to_addrs == [bob.email]
    labels = labels_of(google, galice, sent)
    assert "INBOX" not in labels and "UNREAD" not in labels and "SENT" in labels
    clock.advance(days=15)
    gengine.run_pass()
    bump_id = bump_message_id(followup.token, 1, galice.email)
    [bump] = google.gmail.find(galice.email, bump_id)
    assert address not in bump.header("To") + bump.header("Cc") + bump.header("Bcc")
    assert google.gmail.find(bob.email, bump_id)


def test_gmail_malformed_plus_address_gets_one_help_email(google, galice, gengine):
    bob = google.new_user("bob")
    gengine.run_pass()
    address = plus(galice, "2x")
    sent = gmail_send(google, galice, [bob.email], "Notes", bcc=[address])
    gengine.run_pass()
    gengine.run_pass()
    assert followups(gengine.store) == []
    help_id = trigger_help_message_id(sent.message_id, address, galice.email)
    assert len(google.gmail.find(galice.email, help_id)) == 1
    assert "INBOX" not in labels_of(google, galice, sent)
    assert [i.state for i in items(gengine.store)] == ["ignored"]


def test_gmail_label_sets_a_followup_and_is_removed(google, galice, gengine):
    bob = google.new_user("bob")
    gengine.run_pass()  # creates the labels
    assert google.gmail.label_id(galice.email, WEEK) is not None
    sent = gmail_send(google, galice, [bob.email], "Contract")
    gengine.run_pass()
    google.gmail.add_label(galice.email, sent.id, WEEK)
    gengine.run_pass()
    [followup] = followups(gengine.store)
    assert followup.origin == f"label {WEEK}"
    assert [st.delay for st in followup.stages] == ["1w"]
    assert WEEK not in labels_of(google, galice, sent)


def test_gmail_plus_address_and_label_make_one_followup(google, galice, gengine):
    bob = google.new_user("bob")
    gengine.run_pass()
    address = plus(galice, "3d")
    sent = gmail_send(google, galice, [bob.email], "Both", bcc=[address])
    google.gmail.add_label(galice.email, sent.id, WEEK)
    gengine.run_pass()
    gengine.run_pass()
    assert len(followups(gengine.store)) == 1
    labels = labels_of(google, galice, sent)
    assert WEEK not in labels and "INBOX" not in labels


def gmail_draft(google, user, to, subject, body, in_reply_to, labels=(BUMPS,)):
    msg = compose(user, to, subject, body, in_reply_to=in_reply_to)
    return google.gmail.create_draft(user.email, msg.as_bytes(policy=email.policy.SMTP), labels)


def test_gmail_draft_in_bumps_becomes_the_bump_and_is_deleted(google, galice, gcli, gengine, clock):
    bob = google.new_user("bob")
    gengine.run_pass()
    sent = gmail_send(google, galice, [bob.email], "Roof")
    fid = add_followup(gcli, galice, sent.message_id, "--after", "1w")
    gengine.run_pass()
    gmail_draft(
        google, galice, [bob.email], "Re: Roof", draft_text("Any news?", "Roof"), sent.message_id
    )
    gengine.run_pass()
    assert len(google.gmail.drafts_of(galice.email)) == 1
    clock.advance(days=8)
    gengine.run_pass()
    followup = followups(gengine.store)[0]
    [bump] = google.gmail.find(galice.email, bump_message_id(followup.token, 1, galice.email))
    assert "Any news?" in bump.text() and "wrote:" not in bump.text()
    assert google.gmail.drafts_of(galice.email) == {}
    assert "draft_discarded" in [k for k, _ in events_of(gengine.store, fid)]


def test_gmail_draft_and_reply_keep_the_draft(google, galice, gcli, gengine, clock):
    bob = google.new_user("bob")
    gengine.run_pass()
    sent = gmail_send(google, galice, [bob.email], "Budget")
    fid = add_followup(gcli, galice, sent.message_id, "--after", "1w")
    gengine.run_pass()
    gmail_draft(google, galice, [bob.email], "Re: Budget", "Any news?", sent.message_id)
    gengine.run_pass()
    google.send(bob, [galice], "Re: Budget", "Fine.", in_reply_to=sent.message_id)
    gengine.run_pass()
    clock.advance(days=8)
    gengine.run_pass()
    assert followups(gengine.store)[0].state == "replied"
    assert len(google.gmail.drafts_of(galice.email)) == 1
    assert any(k == "draft_kept" for k, _ in events_of(gengine.store, fid))
    assert not [
        m for m in google.gmail.messages(galice.email, "SENT") if m.message_id.startswith("<rw.")
    ]
