"""The settings page's Rules view over HTTP: a user adds, turns off and removes rules for their
own accounts only, bad input is refused with what to fix, and the dry-run reads the real
mailbox (Dovecot) and shows which recent messages the rule would take, writing nothing."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import func, select

from app import create_app
from tests.e2e.test_rules_e2e import CLIENT, QUESTION, STATEMENT, _hours_ago
from tests.support.web import csrf_token, make_user, sign_in
from watcher.models import Event, FollowUp, Rule, TriggerItem


@pytest.fixture
def app(config, clock):
    app = create_app(config, clock=clock.now)
    yield app
    app.extensions["replywatch"]["store"].dispose()


def store_of(app):
    return app.extensions["replywatch"]["store"]


def connect(app, user_id: int, world, mailbox_user) -> int:
    """An IMAP account of the user on the test Dovecot (as the Accounts page would save it)."""
    settings, password = world.imap_settings(mailbox_user)
    secret = json.dumps({"imap_password": password, "smtp_password": password})
    store = store_of(app)
    with store.session() as s:
        user = store.get_user(s, user_id)
        account = store.add_account(
            s,
            user,
            kind="imap",
            email=mailbox_user.email,
            settings=settings,
            secret=secret,
            now=app.extensions["replywatch"]["clock"](),
        )
        return account.id


def rules_of(app) -> list[tuple]:
    with store_of(app).session() as s:
        return [
            (r.user_id, r.account_id, r.name, r.enabled, r.mode, r.delays, r.question_only)
            for r in s.scalars(select(Rule).order_by(Rule.id))
        ]


def written(app) -> tuple[int, ...]:
    with store_of(app).session() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m))
            for m in (Rule, FollowUp, TriggerItem, Event)
        )


def text_of(answer) -> str:
    return html.unescape(answer.get_data(as_text=True))


def form(token: str, account_id: int, **fields) -> dict:
    return {
        "csrf_token": token,
        "account": str(account_id),
        "name": "Client questions",
        "delays": "3d, 1w",
        "mode": "remind",
        "external_only": "y",
        **fields,
    }


def test_add_validate_switch_and_remove_a_rule(app, mail_world):
    uid = make_user(app, "ann@example.test")
    account_id = connect(app, uid, mail_world, mail_world.new_user("ann"))
    client = sign_in(app, "ann@example.test")
    page = text_of(client.get("/settings/rules"))
    assert "No rules yet." in page and 'aria-current="page">Rules' in page
    token = csrf_token(client, "/settings/rules")

    for fields, message in (
        ({"delays": "soon"}, "'soon' is not a delay"),
        ({"exclude_addresses": "bob"}, "'bob' is not an e-mail address"),
        ({"name": ""}, "This field is required."),
        ({"mode": "shout"}, "Not a valid choice"),
    ):
        answer = client.post("/settings/rules", data=form(token, account_id, **fields))
        assert answer.status_code == 400 and message in text_of(answer), fields
    assert rules_of(app) == []  # nothing saved on bad input

    answer = client.post(
        "/settings/rules",
        data=form(
            token,
            account_id,
            question_only="y",
            exclude_domains="@Partner.test\nother.test",
            exclude_subjects="invoice",
        ),
    )
    assert answer.status_code == 303
    [rule] = rules_of(app)
    assert rule == (uid, account_id, "Client questions", True, "remind", ["3d", "1w"], True)
    page = text_of(client.get("/settings/rules"))
    assert "Remind me after 3d, then 1w if nobody replies" in page
    assert (
        "external recipients, questions only; not domain partner.test, domain other.test, "
        "subject 'invoice'" in page
    )
    assert "0 follow-ups created" in page and "applies to mail you send from now on" in page

    with store_of(app).session() as s:
        rule_id = s.scalar(select(Rule.id))
    assert client.post(f"/settings/rules/{rule_id}/switch", data={}).status_code == 400  # CSRF
    answer = client.post(f"/settings/rules/{rule_id}/switch", data={"csrf_token": token})
    assert answer.status_code == 303 and rules_of(app)[0][3] is False
    assert "Turn on" in text_of(client.get("/settings/rules"))
    answer = client.post(f"/settings/rules/{rule_id}/remove", data={"csrf_token": token})
    assert answer.status_code == 303 and rules_of(app) == []


def test_another_user_never_sees_or_touches_a_rule(app, mail_world):
    ann = make_user(app, "ann@example.test")
    account_id = connect(app, ann, mail_world, mail_world.new_user("ann"))
    client = sign_in(app, "ann@example.test")
    token = csrf_token(client, "/settings/rules")
    assert client.post("/settings/rules", data=form(token, account_id)).status_code == 303
    with store_of(app).session() as s:
        rule_id = s.scalar(select(Rule.id))

    make_user(app, "mallory@example.test")
    mallory = sign_in(app, "mallory@example.test")
    page = text_of(mallory.get("/settings/rules"))
    assert "Client questions" not in page and "Connect a mailbox" in page
    token = csrf_token(mallory, "/settings/rules")
    before = written(app)
    for path in ("switch", "remove", "dry-run"):
        answer = mallory.post(f"/settings/rules/{rule_id}/{path}", data={"csrf_token": token})
        assert answer.status_code == 404, path
    # Her own rule on ann's account: the account is not hers to choose.
    answer = mallory.post("/settings/rules", data=form(token, account_id))
    assert answer.status_code == 400
    assert written(app) == before


def test_dry_run_shows_what_the_rule_would_take_and_writes_nothing(app, mail_world, clock):
    uid = make_user(app, "ann@example.test")
    ann = mail_world.new_user("ann")
    colleague = mail_world.new_user("carl")
    account_id = connect(app, uid, mail_world, ann)
    mail_world.send(ann, [f"Dana <dana@{CLIENT}>"], "Budget 2027", QUESTION, date=_hours_ago(5))
    mail_world.send(ann, [colleague], "Team lunch", QUESTION, date=_hours_ago(4))
    mail_world.send(ann, [f"dana@{CLIENT}"], "October report", STATEMENT, date=_hours_ago(3))
    client = sign_in(app, "ann@example.test")
    token = csrf_token(client, "/settings/rules")
    answer = client.post("/settings/rules", data=form(token, account_id, question_only="y"))
    assert answer.status_code == 303
    with store_of(app).session() as s:
        rule_id = s.scalar(select(Rule.id))
    before = written(app)

    answer = client.post(
        f"/settings/rules/{rule_id}/dry-run", data={"csrf_token": token, "days": "2"}
    )
    page = text_of(answer)
    assert answer.status_code == 200, page
    rows = re.findall(r'<tr class="(would|would-not)">(.*?)</tr>', page, re.S)
    by_subject = {
        re.search(r'class="subject-cell">([^<]*)<', cells).group(1): (kind, cells)
        for kind, cells in rows
    }
    assert set(by_subject) == {"Budget 2027", "Team lunch", "October report"}
    kind, cells = by_subject["Budget 2027"]
    assert kind == "would" and "asks: 'Could you send the signed contract" in cells
    assert by_subject["Team lunch"][0] == "would-not" and "internal" in by_subject["Team lunch"][1]
    assert by_subject["October report"][0] == "would-not"
    assert "no question" in by_subject["October report"][1]
    assert "1 of 3</strong> would get a follow-up" in page
    assert written(app) == before

    answer = client.post(
        f"/settings/rules/{rule_id}/dry-run", data={"csrf_token": token, "days": "400"}
    )
    assert answer.status_code == 400 and "Look back between 1 and 90 days" in text_of(answer)
