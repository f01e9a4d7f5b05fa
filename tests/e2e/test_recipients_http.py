"""The settings page's Recipients view over HTTP: each user sees and overrides only their own
correspondents' zones; the zone, its source, the age of the latest observation and the holiday
country are shown; bad zones and missing CSRF tokens are refused without changing anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app import create_app
from tests.support.web import csrf_token, make_user, sign_in
from watcher.models import RecipientZone
from web.recipients import age


@pytest.fixture
def app(config, clock):
    app = create_app(config, clock=clock.now)
    yield app
    app.extensions["replywatch"]["store"].dispose()


def learn(app, user_id: int, address: str, *observations: tuple[datetime, int]) -> int:
    """What the watcher records when it reads their Date headers; returns the row id."""
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:
        for at, minutes in observations:
            row = store.observe_offset(s, user_id, address, at, minutes)
        s.flush()
        return row.id


def ny_offset_minutes(at: datetime) -> int:
    return int(at.astimezone(ZoneInfo("America/New_York")).utcoffset().total_seconds() // 60)


def row_of(app, row_id: int) -> RecipientZone:
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:
        row = s.get(RecipientZone, row_id)
        s.expunge(row)
        return row


def page(client) -> str:
    answer = client.get("/settings/recipients")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_recipients_are_listed_with_zone_source_age_and_holidays_and_can_be_overridden(app, clock):
    me = make_user(app, "me@example.test")
    now = clock.now()
    bob = learn(
        app,
        me,
        "bob@example.test",
        (datetime(2026, 1, 15, 15, tzinfo=UTC), -300),
        (now - timedelta(days=3), ny_offset_minutes(now - timedelta(days=3))),
    )
    client = sign_in(app, "me@example.test")
    text = page(client)
    assert 'aria-current="page">Recipients</a>' in text  # the nav link
    assert "bob@example.test" in text and "America/New_York" in text
    assert "learnt from the send times of 2 of their messages" in text
    assert 'the latest <span class="seen" title=' in text and "3 days ago" in text
    assert '<span class="country">US</span>' in text

    token = csrf_token(client, "/settings/recipients")
    done = client.post(
        f"/settings/recipients/{bob}", data={"csrf_token": token, "zone": "Asia/Kolkata"}
    )
    assert done.status_code == 303 and done.headers["Location"] == "/settings/recipients"
    text = client.get("/settings/recipients").get_data(as_text=True)
    assert "bob@example.test now counts as living in Asia/Kolkata" in text
    assert "set by you" in text and "(their mail says America/New_York)" in text
    assert '<span class="country">IN</span>' in text
    assert (row_of(app, bob).override_zone, row_of(app, bob).inferred_zone) == (
        "Asia/Kolkata",
        "America/New_York",
    )

    bad = client.post(
        f"/settings/recipients/{bob}", data={"csrf_token": token, "zone": "Mars/Olympus"}
    )
    assert bad.status_code == 400 and "is not a time zone" in bad.get_data(as_text=True)
    no_token = client.post(f"/settings/recipients/{bob}", data={"zone": "Europe/Berlin"})
    assert no_token.status_code == 400 and "This form has expired" in no_token.get_data(
        as_text=True
    )
    assert row_of(app, bob).override_zone == "Asia/Kolkata"  # neither changed anything

    cleared = client.post(f"/settings/recipients/{bob}", data={"csrf_token": token, "zone": ""})
    assert cleared.status_code == 303
    text = client.get("/settings/recipients").get_data(as_text=True)
    assert "back to what their mail says, America/New_York" in text
    assert row_of(app, bob).override_zone is None and row_of(app, bob).zone == "America/New_York"


def test_someone_not_yet_heard_from_can_be_given_a_zone(app):
    make_user(app, "me@example.test")
    client = sign_in(app, "me@example.test")
    assert "No correspondents known yet" in page(client)
    token = csrf_token(client, "/settings/recipients")
    bad = client.post(
        "/settings/recipients", data={"csrf_token": token, "address": "nobody", "zone": "UTC"}
    )
    assert bad.status_code == 400 and "Enter an e-mail address." in bad.get_data(as_text=True)
    empty = client.post(
        "/settings/recipients",
        data={"csrf_token": token, "address": "dana@example.test", "zone": ""},
    )
    assert empty.status_code == 400 and "Pick a time zone for them." in empty.get_data(as_text=True)
    done = client.post(
        "/settings/recipients",
        data={"csrf_token": token, "address": "Dana@Example.test", "zone": "Europe/Berlin"},
    )
    assert done.status_code == 303
    text = page(client)
    assert "dana@example.test" in text and "set by you" in text
    assert '<span class="country">DE</span>' in text and "set by you" in text
    assert "the latest" not in text and "never" not in text  # no mail from them: not said


def test_one_user_can_neither_see_nor_override_another_s_recipients(app, clock):
    me = make_user(app, "me@example.test")
    other = make_user(app, "other@example.test")
    mine = learn(app, me, "bob@example.test", (clock.now(), -300))
    theirs = learn(app, other, "carol@example.test", (clock.now(), 330))

    client = sign_in(app, "other@example.test")
    text = page(client)
    assert "carol@example.test" in text and "Asia/Kolkata" in text
    assert "bob@example.test" not in text
    token = csrf_token(client, "/settings/recipients")
    answer = client.post(
        f"/settings/recipients/{mine}", data={"csrf_token": token, "zone": "Asia/Tokyo"}
    )
    assert answer.status_code == 404
    assert row_of(app, mine).override_zone is None
    # Naming the same address only ever touches the signed-in user's own row.
    client.post(
        "/settings/recipients",
        data={"csrf_token": token, "address": "bob@example.test", "zone": "Asia/Tokyo"},
    )
    assert row_of(app, mine).zone == "America/New_York"
    assert row_of(app, theirs).zone == "Asia/Kolkata"

    anonymous = app.test_client().get("/settings/recipients")
    assert anonymous.status_code == 302 and "/settings/signin" in anonymous.headers["Location"]


@pytest.mark.parametrize(
    ("days", "text"),
    [(0, "today"), (1, "1 day ago"), (6, "6 days ago"), (7, "1 week ago"), (29, "4 weeks ago"),
     (30, "1 month ago"), (400, "1 year ago"), (-1, "today")],
)  # fmt: skip
def test_age_reads_as_a_person_says_it(days, text):
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert age(now - timedelta(days=days, hours=1 if days >= 0 else 0), now) == text
    assert age(None, now) == "never"


def test_many_correspondents_are_paged_and_can_be_searched(app, clock):
    uid = make_user(app, "me@example.test")
    when = clock.now() - timedelta(days=1)
    for i in range(120):
        learn(app, uid, f"person{i:03d}@example.net", (when, 60))
    learn(app, uid, "sam_100%@example.org", (when, 60))  # LIKE wildcards taken literally
    client = sign_in(app, "me@example.test")
    first = page(client)
    assert first.count('class="row recipient"') == 50 and "of 121" in first
    assert "person000@" in first and "person050@" not in first and 'rel="next"' in first
    last = client.get("/settings/recipients?page=3").get_data(as_text=True)
    assert last.count('class="row recipient"') == 21 and "sam_100%@example.org" in last
    found = client.get("/settings/recipients?q=PERSON11").get_data(as_text=True)
    assert found.count('class="row recipient"') == 10  # person110 .. person119
    assert (
        client.get("/settings/recipients?q=_100%")
        .get_data(as_text=True)
        .count('class="row recipient"')
        == 1
    )
    nobody = client.get("/settings/recipients?q=zzz").get_data(as_text=True)
    assert "Nobody whose address contains" in nobody
