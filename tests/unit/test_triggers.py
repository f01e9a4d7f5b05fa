"""The plus-address, folder and draft triggers: what their (pure) recognisers want, how
record() turns the copies of one message into one item, and what text a draft gives a bump."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from watcher import triggers
from watcher.mailbox import BUMPS_FOLDER, MessageSummary
from watcher.models import TriggerItem
from watcher.store import Store
from watcher.triggers import TriggerContext, drafts, folders, plus

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
ME = "alice@example.com"
OWN = frozenset({ME, "alice@alias.example"})


def ctx(trigger_folders=True, account_id=1, user_id=1) -> TriggerContext:
    return TriggerContext(
        account_id=account_id,
        user_id=user_id,
        email=ME,
        own_addresses=OWN,
        trigger_folders=trigger_folders,
        rules=(),
        now=NOW,
    )


def msg(ref="Sent/1/7", **fields) -> MessageSummary:
    values = dict(
        message_id="<m1@example.com>",
        subject="Quote",
        from_addr=ME,
        to=("bob@example.net",),
        date=NOW,
        in_sent=True,
    )
    values.update(fields)
    return MessageSummary(ref=ref, **values)


SENT_BCC = msg(bcc=("alice+2w@example.com",))
INBOX_COPY = msg(ref="INBOX/1/3", in_sent=False, delivered_to=("alice+2w@example.com",))


@pytest.mark.parametrize(
    "message, expected",
    [
        (SENT_BCC, ("plus", "<m1@example.com>", "alice+2w@example.com", [])),
        # an inbox copy From: the user proves nothing: held (unverified) for its Sent copy
        (INBOX_COPY, ("plus", "<m1@example.com>", "alice+2w@example.com", ["INBOX/1/3"], False)),
        # a From: that says nobody is never the user
        (msg(from_addr="", bcc=("alice+2w@example.com",)), None),
        (msg(ref="INBOX/1/4", from_addr="", in_sent=False, delivered_to=(ME,)), None),
        (
            msg(cc=("Alice+1W-Remind@Example.com",)),
            ("plus", None, "alice+1w-remind@example.com", []),
        ),
        (
            msg(to=("bob@example.net", "alice+fri@example.com")),
            ("plus", None, "alice+fri@example.com", []),
        ),
        (
            msg(from_addr="alice@alias.example", bcc=("alice+3d@alias.example",)),
            ("plus", None, "alice+3d@alias.example", []),
        ),
        # a malformed tag is still a trigger: it is answered with the valid forms
        (msg(bcc=("alice+2x@example.com",)), ("plus", None, "alice+2x@example.com", [])),
        # me+bump@ on a sent message: explained too (it is for drafts)
        (msg(bcc=("alice+bump@example.com",)), ("plus", None, "alice+bump@example.com", [])),
        # a schedule wins over me+bump@ when both are there
        (
            msg(bcc=("alice+bump@example.com", "alice+3d@example.com")),
            ("plus", None, "alice+3d@example.com", []),
        ),
        # a newsletter to the plus-address is not from the user: no trigger
        (msg(from_addr="news@shop.example", to=("alice+2w@example.com",), in_sent=False), None),
        (msg(bcc=("bob+2w@example.com",)), None),  # someone else's plus-address
        (msg(), None),  # no plus-address
        (msg(bcc=("alice+2w@example.com",), is_draft=True), None),  # drafts: the draft trigger
        (msg(bcc=("alice+2w@example.com",), folder="Replywatch/1 week"), None),  # folder trigger
        (msg(bcc=("alice+2w@example.com",), message_id=""), None),  # nothing to key it on
    ],
)
def test_plus_recogniser(message, expected):
    got = plus.recognise(ctx(), message)
    if expected is None:
        assert got is None
        return
    kind, key, spec, refs, *verified = expected
    assert (got.kind, got.key, got.spec, got.refs) == (kind, key or message.message_id, spec, refs)
    assert got.verified == (verified or [True])[0]


@pytest.mark.parametrize(
    "message, trigger_folders, expected",
    [
        (
            msg(ref="RW/1/1", folder="Replywatch/1 week", in_sent=False),
            True,
            ("folder:<m1@example.com>", "Replywatch/1 week", ["RW/1/1"]),
        ),
        (
            msg(ref="RW/2/1", folder="Replywatch/3 days", in_sent=False),
            True,
            ("folder:<m1@example.com>", "Replywatch/3 days", ["RW/2/1"]),
        ),
        # someone else's message: recognised, and ignored with a reason when processed
        (
            msg(ref="RW/1/2", folder="Replywatch/2 weeks", from_addr="bob@example.net"),
            True,
            ("folder:<m1@example.com>", "Replywatch/2 weeks", ["RW/1/2"]),
        ),
        (msg(folder="Replywatch/1 week"), False, None),  # the account did not opt in
        (msg(folder=BUMPS_FOLDER), True, None),  # not a delay folder
        (msg(folder="Replywatch/1 week", is_draft=True), True, None),
        (msg(), True, None),
    ],
)
def test_folder_recogniser(message, trigger_folders, expected):
    got = folders.recognise(ctx(trigger_folders), message)
    if expected is None:
        assert got is None
        return
    assert (got.kind, got.key, got.spec, got.refs) == ("folder", *expected)


@pytest.mark.parametrize(
    "message, trigger_folders, expected",
    [
        (
            msg(ref="B/1/4", is_draft=True, folder=BUMPS_FOLDER, in_sent=False),
            True,
            ("draft:B/1/4", BUMPS_FOLDER),
        ),
        (
            msg(ref="D/1/4", is_draft=True, cc=("alice+bump@example.com",)),
            False,
            ("draft:D/1/4", "alice+bump@example.com"),
        ),
        (
            msg(ref="D/1/5", is_draft=True, bcc=("ALICE+Bump@example.com",)),
            True,
            ("draft:D/1/5", "alice+bump@example.com"),
        ),
        (msg(is_draft=True, folder=BUMPS_FOLDER), False, None),  # folders not opted in
        (msg(is_draft=True), True, None),  # an ordinary draft
        (msg(is_draft=True, bcc=("alice+2w@example.com",)), True, None),
        (msg(folder=BUMPS_FOLDER), True, None),  # sent, not a draft
    ],
)
def test_draft_recogniser(message, trigger_folders, expected):
    got = drafts.recognise(ctx(trigger_folders), message)
    if expected is None:
        assert got is None
        return
    assert (got.kind, got.key, got.spec, got.refs) == ("draft", *expected, [])


@pytest.mark.parametrize(
    "body, text",
    [
        ("Any news on this?\n", "Any news on this?"),
        (
            "Any news?\n\nOn Tue, 24 Nov 2026 at 10:00, Alice <alice@example.com> wrote:\n"
            "> Here is the quote.\n> Best, Alice\n",
            "Any news?",
        ),
        (
            "Hi Bob,\n\nstill keen.\n\nOn Tue, 24 Nov 2026 at 10:00, Alice Smith\n"
            "<alice@example.com> wrote:\n>\n> Here is the quote.\n",
            "Hi Bob,\n\nstill keen.",
        ),
        (
            "Ping?\r\n\r\n-----Original Message-----\r\nFrom: Alice\r\nSubject: Quote\r\n",
            "Ping?",
        ),
        ("> only a quote\n>\n", ""),
        ("On Monday we met.\nThoughts?\n", "On Monday we met.\nThoughts?"),
        ("  \n\n", ""),
    ],
)
def test_own_text_of_a_draft(body, text):
    assert drafts.own_text(body) == text


def test_draft_braces_are_literal_in_a_stage_template():
    from watcher.compose import render_text

    template = drafts.as_template("Price {net} and {first_name}")
    assert render_text(template, first_name="Bob", subject="s") == "Price {net} and {first_name}"


# -- record(): one item per message, whatever the number of copies and triggers -------------


@pytest.fixture
def store(config):
    store = Store.from_config(config)
    store.migrate()
    yield store
    store.dispose()


@pytest.fixture
def account(store):
    with store.session() as s:
        user = store.get_or_create_user(s, ME)
        acc = store.add_account(
            s,
            user,
            kind="imap",
            email=ME,
            settings={},
            secret="pw",
            aliases=["alice@alias.example"],
            now=NOW,
        )
        return acc.id, user.id


def items(store) -> list[tuple]:
    with store.session() as s:
        rows = s.scalars(select(TriggerItem).order_by(TriggerItem.id))
        return [(r.kind, r.key, r.spec, r.refs, r.state) for r in rows]


def record(store, account, messages, trigger_folders=True) -> int:
    with store.session() as s:
        return triggers.record(store, s, ctx(trigger_folders, *account), messages)


def test_sent_and_inbox_copy_make_one_item_that_files_the_inbox_copy(store, account):
    assert record(store, account, [SENT_BCC, INBOX_COPY]) == 1
    assert items(store) == [
        ("plus", "<m1@example.com>", "alice+2w@example.com", ["INBOX/1/3"], "pending")
    ]
    # the same copies seen again (another pass, a cursor reset): never a second item
    assert record(store, account, [INBOX_COPY, SENT_BCC]) == 0
    assert len(items(store)) == 1


def test_plus_and_folder_on_one_message_make_two_items_plus_first(store, account):
    in_folder = msg(
        ref="RW/1/1", folder="Replywatch/1 week", in_sent=False, bcc=("alice+2w@example.com",)
    )
    assert record(store, account, [INBOX_COPY, SENT_BCC, in_folder]) == 2
    assert [(kind, key) for kind, key, *_ in items(store)] == [
        ("plus", "<m1@example.com>"),
        ("folder", "folder:<m1@example.com>"),
    ]


def test_an_inbox_copy_alone_is_held_and_never_pending(store, account):
    """A stranger's "From: alice" to alice+2w@… with no copy in her Sent: nothing to act on."""
    assert record(store, account, [INBOX_COPY]) == 0
    assert items(store) == [
        ("plus", "<m1@example.com>", "alice+2w@example.com", ["INBOX/1/3"], "unverified")
    ]
    again = msg(ref="INBOX/1/5", in_sent=False, delivered_to=("alice+2w@example.com",))
    assert record(store, account, [again]) == 0  # another forged copy: still held
    assert items(store)[0][3:] == (["INBOX/1/3", "INBOX/1/5"], "unverified")


def test_the_sent_copy_that_comes_later_decides_the_held_item(store, account):
    forged = msg(
        ref="INBOX/1/3",
        in_sent=False,
        to=("victim@elsewhere.example",),
        delivered_to=("alice+1d@example.com",),
    )
    assert record(store, account, [forged]) == 0
    assert record(store, account, [SENT_BCC]) == 1  # her own Sent copy: now it is pending
    with store.session() as s:
        row = s.scalars(select(TriggerItem)).one()
        assert (row.state, row.spec, row.refs) == ("pending", "alice+2w@example.com", ["INBOX/1/3"])
        # what the Sent copy says, not the inbox copy: its recipients, its plus-address
        assert row.summary["to"] == ["bob@example.net"] and row.summary["in_sent"] is True


def test_in_one_pass_the_sent_copy_decides_whatever_the_order(store, account):
    forged = msg(
        ref="INBOX/1/3",
        in_sent=False,
        to=("victim@elsewhere.example",),
        delivered_to=("alice+1d@example.com",),
    )
    assert record(store, account, [forged, SENT_BCC]) == 1
    with store.session() as s:
        row = s.scalars(select(TriggerItem)).one()
        assert (row.state, row.spec, row.refs) == ("pending", "alice+2w@example.com", ["INBOX/1/3"])
        assert row.summary["to"] == ["bob@example.net"] and row.summary["ref"] == "Sent/1/7"


def test_two_versions_of_a_draft_are_two_items(store, account):
    v1 = msg(ref="B/1/1", message_id="<d1@x>", is_draft=True, folder=BUMPS_FOLDER, in_sent=False)
    v2 = msg(ref="B/1/2", message_id="<d2@x>", is_draft=True, folder=BUMPS_FOLDER, in_sent=False)
    assert record(store, account, [v1, v2]) == 2
    assert [key for _, key, *_ in items(store)] == ["draft:B/1/1", "draft:B/1/2"]


def test_nothing_is_recorded_for_ordinary_mail(store, account):
    reply = msg(ref="INBOX/1/9", from_addr="bob@example.net", to=(ME,), in_sent=False)
    assert record(store, account, [msg(), reply]) == 0
    assert items(store) == []


def settle_all(store, state="done"):
    with store.session() as s:
        for row in s.scalars(select(TriggerItem)):
            row.state, row.refs, row.outcome = state, [], "decided"


def test_an_inbox_copy_that_arrives_later_is_filed_without_a_second_decision(store, account):
    record(store, account, [SENT_BCC])
    settle_all(store)
    assert record(store, account, [INBOX_COPY]) == 0  # no second item
    with store.session() as s:
        row = s.scalars(select(TriggerItem)).one()
        assert (row.state, row.refs, row.outcome) == ("pending", ["INBOX/1/3"], "decided")
        assert row.summary["settle_as"] == "done"  # only the copy is left to file


def test_a_message_put_in_a_folder_again_is_decided_again(store, account):
    in_folder = msg(ref="RW/1/1", folder="Replywatch/1 week", in_sent=False)
    record(store, account, [in_folder])
    settle_all(store, "done")
    again = msg(ref="RW/3/5", folder="Replywatch/2 weeks", in_sent=False)
    assert record(store, account, [again]) == 0
    with store.session() as s:
        row = s.scalars(select(TriggerItem)).one()
        assert (row.state, row.refs, row.spec) == ("pending", ["RW/3/5"], "Replywatch/2 weeks")
        assert "settle_as" not in row.summary


def test_a_help_email_on_its_way_is_left_alone_by_a_late_copy(store, account):
    record(store, account, [msg(bcc=("alice+2x@example.com",))])
    with store.session() as s:
        s.scalars(select(TriggerItem)).one().state = "answering"
    late = msg(ref="INBOX/1/8", in_sent=False, delivered_to=("alice+2x@example.com",))
    record(store, account, [late])
    with store.session() as s:
        row = s.scalars(select(TriggerItem)).one()
        assert (row.state, row.refs) == ("answering", [])


def test_only_a_sent_copy_from_one_of_my_addresses_is_mine():
    assert msg().sent_by_user(OWN)
    assert msg(from_addr=" Alice@Example.com ").sent_by_user(OWN)
    assert not msg(in_sent=False).sent_by_user(OWN)  # From: says so, the inbox copy cannot
    assert not msg(from_addr="").sent_by_user(OWN)  # an empty or unparsable From: nobody
    assert not msg(from_addr="bob@example.net").sent_by_user(OWN)
