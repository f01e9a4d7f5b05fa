"""cards.py is pure: every card, for a table of inputs, is a valid Card v1 and says what it must."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gmail import cards
from gmail.events import BadEvent, gmail_id, parse_event
from gmail.forms import read_followup, read_snooze, read_text
from tests.support.addon import action_parts, buttons, card_text, check_card, text, trigger_card
from watcher.errors import ValidationError

BASE = "https://rw.example.com"
NOW = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # the Friday before Europe's DST change


def item(n=1, **kw):
    values = dict(
        id=n,
        subject=f"Subject {n}",
        recipient="Alice",
        state="active",
        mode="send",
        due_at=NOW + timedelta(days=n),
        stage=1,
        stages=2,
        history=((NOW, "created", "will send a bump"),),
    )
    values.update(kw)
    return cards.FollowUpView(**values)


MESSAGE = cards.MessageView("Hello <b>there</b>", "Me <me@x.test>", ("a@x.test",), NOW)
BROKEN = cards.AccountView("me@x.test", "gmail", "needs_attention", "token revoked")
IMAP_BROKEN = cards.AccountView("me@imap.test", "imap", "needs_attention", "wrong password")

CARDS = {
    "home empty": lambda: cards.homepage(BASE, cards.Page([], 0), "UTC"),
    "home not connected": lambda: cards.homepage(BASE, cards.Page([], 0, connected=False), "UTC"),
    "home page 1 of 3": lambda: cards.homepage(
        BASE, cards.Page([item(n) for n in range(20)], 45, 0, [BROKEN, IMAP_BROKEN]), "Asia/Tokyo"
    ),
    "home last page": lambda: cards.homepage(BASE, cards.Page([item(1)], 41, 40), "UTC"),
    "compose": lambda: cards.compose(
        BASE, MESSAGE, tz="Europe/Berlin", now=NOW, default_text="Hi A,", default_delay="2w"
    ),
    "compose with warning and history": lambda: cards.compose(
        BASE,
        MESSAGE,
        tz="America/New_York",
        now=NOW,
        default_text="Hi",
        default_delay="5bd",
        previous=item(state="replied", stop_reason="Bob replied"),
        warning=BROKEN,
    ),
    "followup active": lambda: cards.followup(BASE, item(), "Europe/Berlin", NOW),
    "followup replied": lambda: cards.followup(BASE, item(state="replied"), "UTC", NOW),
    "followup long history": lambda: cards.followup(
        BASE,
        item(history=tuple((NOW, "k", f"event {n}") for n in range(30))),
        "UTC",
        NOW,
    ),
    "edit": lambda: cards.edit(BASE, item(mode="remind"), "Hi {there}"),
    "connect": lambda: cards.connect(BASE, "me@x.test"),
    "notice": lambda: cards.notice("Oops", "<script>"),
    "not yours": lambda: cards.not_sent_by_you(MESSAGE, "me@x.test"),
}


@pytest.mark.parametrize("name", sorted(CARDS))
def test_every_card_is_valid_card_v1(name):
    card = check_card(CARDS[name]())
    for button in buttons(card):
        click = button["onClick"]
        if "action" in click:
            assert click["action"]["function"].startswith(f"{BASE}/addon/")
            assert all(isinstance(p["value"], str) for p in click["action"]["parameters"])
        else:
            assert click["openLink"]["url"].startswith(f"{BASE}/settings/")


@pytest.mark.parametrize(
    "name, present, absent",
    [
        ("home empty", ["No follow-ups are scheduled"], ["Needs your attention", "Next"]),
        ("home not connected", ["/settings/connect/google"], []),
        ("home page 1 of 3", ["(1-20 of 45)", '"Next"', "token revoked", "wrong password"], []),
        ("home last page", ["(41-41 of 41)", '"Previous"'], ['"Next"']),
        ("compose", ["Hello &lt;b&gt;there&lt;/b&gt;", "Hi A,", "In 2 weeks", "On a date"], []),
        ("compose with warning and history", ["Earlier follow-up", "Bob replied"], []),
        ("followup active", ["Snooze 1 day", "Cancel follow-up", "bump 1 of 2"], []),
        ("followup replied", ["Stopped: they replied", "History"], ["Snooze", "Edit"]),
        ("edit", ["Only remind me", "Hi {there}"], []),
        ("notice", ["&lt;script&gt;"], ["<script>"]),
    ],
)
def test_cards_say_what_they_must(name, present, absent):
    shown = card_text(CARDS[name]())
    for needle in present:
        assert needle in shown, needle
    for needle in absent:
        assert needle not in shown, needle


def test_attention_comes_first_with_the_right_fix_link():
    card = CARDS["home page 1 of 3"]()
    headers = [s.get("header", "") for s in card["sections"]]
    assert headers[:2] == ["Needs your attention"] * 2 and headers[2].startswith("Scheduled")
    fixes = [b["onClick"]["openLink"]["url"] for b in buttons(card) if b["text"] == "Fix"]
    assert fixes == [f"{BASE}/settings/connect/google", f"{BASE}/settings/"]


def test_compose_preselects_the_users_delay_and_sends_by_default():
    card = CARDS["compose"]()
    selections = {
        w["selectionInput"]["name"]: w["selectionInput"]
        for s in card["sections"]
        for w in s["widgets"]
        if "selectionInput" in w
    }
    chosen = {n: [i["value"] for i in s["items"] if i["selected"]] for n, s in selections.items()}
    assert chosen == {"when": ["2w"], "then_1": [""], "then_2": [""], "mode": ["send"]}
    picker = next(
        w["dateTimePicker"] for s in card["sections"] for w in s["widgets"] if "dateTimePicker" in w
    )
    # A week from Friday 27 March at 09:00 Berlin, which is summer time (UTC+2) by then.
    assert picker["valueMsEpoch"] == str(
        int(datetime(2026, 4, 3, 7, 0, tzinfo=UTC).timestamp() * 1000)
    )
    assert picker["timezoneOffsetDate"] == 120


def test_envelopes():
    card = CARDS["notice"]()
    assert trigger_card(cards.navigate(card)) == card
    assert action_parts(cards.render(card, notify="Done")) == ([card], "Done")
    assert cards.render(notify="x") == {
        "renderActions": {"action": {"notification": {"text": "x"}}}
    }
    assert "pushCard" in cards.render(card, push=True)["renderActions"]["action"]["navigations"][0]


# -- events and forms (pure) --------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "msg-f:1234567890123",  # received (Google's example event)
        "msg-a:r-762107668661183924",  # sent (gws-genai-addon-sample generate_reply_post.json)
        "thread-a:r8302010144516718545",
        "18c2f0a1b2c3d4e5",  # a REST id
        "msg-q:a-form-not-yet-seen",  # unknown forms go to Gmail, which answers for them
    ],
)
def test_gmail_ids_are_kept_as_google_sent_them(raw):
    assert gmail_id(raw) == raw
    assert gmail_id(None) is None


@pytest.mark.parametrize("raw", ["msg-f:1 2", "msg-f:\n1", "msg-f:é", "x" * 201])
def test_what_is_no_gmail_id_at_all_is_a_bad_event(raw):
    with pytest.raises(BadEvent):
        gmail_id(raw)


def event(form=None, params=None, tz=None):
    common = {"formInputs": form or {}, "parameters": params or {}}
    if tz:
        common["timeZone"] = {"id": tz, "offset": -2.88e7}
    return parse_event(
        {"commonEventObject": common, "authorizationEventObject": {"userIdToken": "t"}}
    )


@pytest.mark.parametrize(
    "form, stages, mode",
    [
        ({"when": text("3d")}, ["3d"], "send"),
        (
            {"when": text("1w"), "then_1": text("1w"), "then_2": text("2w")},
            ["1w", "1w", "2w"],
            "send",
        ),
        ({"when": {"": text("2w")}, "mode": text("remind")}, ["2w"], "remind"),  # "" wrapper
        (
            {"when": text("date"), "at": {"dateTimeInput": {"msSinceEpoch": "1.7755776E12"}}},
            [datetime(2026, 4, 7, 16, 0, tzinfo=UTC)],
            "send",
        ),
        (  # a date without a time: 09:00 in the user's zone
            {"when": text("date"), "at": {"dateInput": {"msSinceEpoch": 1775520000000}}},
            [datetime(2026, 4, 7, 7, 0, tzinfo=UTC)],
            "send",
        ),
    ],
)
def test_read_followup(form, stages, mode):
    wanted = read_followup(event(form), NOW, "Europe/Berlin", "Hi")
    got = [str(s.delay) if s.delay else s.at for s in wanted.stages]
    assert (got, wanted.mode) == (stages, mode)


@pytest.mark.parametrize(
    "form, error",
    [
        ({}, ValidationError),
        ({"when": text("5y")}, BadEvent),
        ({"when": text("date")}, ValidationError),
        ({"when": text("date"), "at": {"dateTimeInput": {"msSinceEpoch": 1000}}}, ValidationError),
        ({"when": text("date"), "at": {"dateTimeInput": {"msSinceEpoch": "inf"}}}, BadEvent),
        ({"when": text("date"), "at": {"dateTimeInput": {"msSinceEpoch": [1]}}}, BadEvent),
        ({"when": text("date"), "at": text("tomorrow")}, BadEvent),
        ({"when": {"dateInput": {"msSinceEpoch": 1}}}, BadEvent),
        ({"when": text("1w"), "then_1": text("3y")}, BadEvent),
        ({"when": text("1w"), "mode": text("shout")}, BadEvent),
        ({"when": text("1w"), "text": text("x" * 5001)}, ValidationError),
        ({"when": {"stringInputs": {"value": "1w"}}}, BadEvent),
    ],
)
def test_read_followup_refuses(form, error):
    with pytest.raises(error):
        read_followup(event(form), NOW, "Europe/Berlin", "Hi")


@pytest.mark.parametrize(
    "submitted, expected",
    [
        (None, None),
        ("Hi Bob,\n", None),  # unchanged from the filled-in template
        ("  ", None),
        ("Hi {you}", "Hi {{you}}"),
        ("Line\r\nbreak", "Line\nbreak"),
    ],
)
def test_read_text(submitted, expected):
    form = {"text": text(submitted)} if submitted is not None else {}
    assert read_text(event(form), "Hi Bob,") == expected


def test_read_snooze():
    assert read_snooze(event(params={"until": "1d"}), NOW, "UTC") == NOW + timedelta(days=1)
    with pytest.raises(BadEvent):
        read_snooze(event(params={"until": "forever"}), NOW, "UTC")
    with pytest.raises(ValidationError):
        read_snooze(event(params={"until": "date"}), NOW, "UTC")


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"authorizationEventObject": {}},
        {"authorizationEventObject": {"userIdToken": 5}},
        {"authorizationEventObject": {"userIdToken": "t" * 9000}},
        {"authorizationEventObject": {"userIdToken": "t", "authorizedScopes": "all"}},
        {"authorizationEventObject": {"userIdToken": "t"}, "commonEventObject": []},
        {
            "authorizationEventObject": {"userIdToken": "t"},
            "commonEventObject": {"parameters": {"a": 1}},
        },
        {"authorizationEventObject": {"userIdToken": "t"}, "gmail": {"messageId": 12}},
    ],
)
def test_parse_event_refuses_shapes_google_never_sends(body):
    with pytest.raises(BadEvent):
        parse_event(body)


def test_parse_event_keeps_only_known_zones():
    assert event(tz="America/Los_Angeles").time_zone == "America/Los_Angeles"
    assert event(tz="Mars/Olympus").time_zone is None
    assert event(tz="../../etc/passwd").time_zone is None


# -- the compose card (pure) ------------------------------------------------------------------


def test_compose_cards_are_valid_cards_and_say_how_to_remove_the_tag():
    from gmail import compose_card
    from gmail.forms import read_compose_tag

    choose = compose_card.choose(
        BASE, tz="Europe/Berlin", now=NOW, default_delay="2w", email="Me+x@Ex.test"
    )
    check_card(choose)
    assert "me+2w@ex.test" in card_text(choose)
    tag = read_compose_tag(
        event({"when": text("1w"), "mode": text("remind")}), NOW, "UTC", "me@ex.test"
    )
    added = check_card(compose_card.added(BASE, tag, ["boss@ex.test", tag.address]))
    assert "Bcc is now: boss@ex.test, me+1w-remind@ex.test" in card_text(added)
    assert "me+1w-remind@ex.test" in card_text(added) and "remind you in 1 week" in card_text(added)
    assert {b["text"] for b in buttons(added)} == {"Remove", "Change"}
    check_card(compose_card.removed())


@pytest.mark.parametrize(
    "form, tz, address",
    [
        ({"when": text("3d")}, "UTC", "me+3d@ex.test"),
        ({"when": text("2w"), "mode": text("send")}, "UTC", "me+2w@ex.test"),
        ({"when": text("1w"), "mode": text("remind")}, "UTC", "me+1w-remind@ex.test"),
        (  # 2026-04-07 06:00 UTC: the 7th in Berlin, 11 days after Friday 27 March (DST between)
            {"when": text("date"), "at": {"dateTimeInput": {"msSinceEpoch": 1775541600000}}},
            "Europe/Berlin",
            "me+11d@ex.test",
        ),
        (  # the same instant is still the 6th in Los Angeles: 10 days
            {"when": text("date"), "at": {"dateTimeInput": {"msSinceEpoch": 1775541600000}}},
            "America/Los_Angeles",
            "me+10d@ex.test",
        ),
    ],
)
def test_compose_choices_become_plus_tags_the_trigger_reads(form, tz, address):
    from gmail.forms import read_compose_tag
    from watcher import schedule
    from watcher.followups import plus_tag

    tag = read_compose_tag(event(form), NOW, tz, "me@ex.test")
    assert tag.address == address
    assert schedule.parse_plus_tag(plus_tag(address, ["me@ex.test"])) == tag.tag


@pytest.mark.parametrize(
    "form, error",
    [
        ({}, ValidationError),
        ({"when": text("date")}, ValidationError),
        (
            {"when": text("date"), "at": {"dateInput": {"msSinceEpoch": 1774569600000}}},
            ValidationError,
        ),
        ({"when": text("5w")}, BadEvent),
        ({"when": text("1w"), "mode": text("shout")}, BadEvent),
    ],
)
def test_compose_choices_that_make_no_tag(form, error):
    from gmail.forms import read_compose_tag

    with pytest.raises(error):
        read_compose_tag(event(form), NOW, "UTC", "me@ex.test")


def test_only_this_users_schedule_tags_are_taken_out_of_bcc():
    from gmail.forms import without_tags

    bcc = ["me+2w@ex.test", "me+bump@ex.test", "me+news@ex.test", "boss@ex.test", "you+1w@ex.test"]
    assert without_tags(bcc, "me@ex.test") == bcc[1:]


def test_the_draft_update_matches_googles_shape_and_the_check_can_fail():
    from gmail import compose_card
    from tests.support.addon import draft_update

    card = compose_card.removed()
    body = compose_card.update_bcc(card, ["a@x.test"], "done")
    assert draft_update(body) == (["a@x.test"], [card], "done")
    wrong = json_copy(body)
    markup = wrong["renderActions"]["hostAppAction"]["gmailAction"]
    markup["updateDraftActions"] = markup.pop("updateDraftActionMarkup")  # not Google's name
    with pytest.raises(AssertionError):
        draft_update(wrong)
    wrong = json_copy(body)
    bcc = wrong["renderActions"]["hostAppAction"]["gmailAction"]["updateDraftActionMarkup"]
    bcc["updateBccRecipients"] = {"bccRecipients": ["a@x.test"]}  # recipients are {email}
    with pytest.raises(AssertionError):
        draft_update(wrong)


def json_copy(value):
    import json

    return json.loads(json.dumps(value))
