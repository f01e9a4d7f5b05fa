"""The Results page over HTTP (Flask's test client): signed-in only, the right numbers, a valid
SVG chart with its title and description, each user's page showing only their own follow-ups,
and the empty states."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from app import create_app
from tests.support.results import add_account, seed
from tests.support.web import make_user, sign_in
from watcher.models import FollowUpState

ST = FollowUpState
DAY = timedelta(days=1)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def app(config, clock):
    app = create_app(config, clock=clock.now)
    yield app
    app.extensions["replywatch"]["store"].dispose()


def _store(app):
    return app.extensions["replywatch"]["store"]


@pytest.fixture
def two_users(app):
    """Alice: 5 ended on two accounts (one with an address that needs escaping), 1 waiting.
    Mallory: 3 ended, all never replied, on an account whose address must not leak."""
    store = _store(app)
    alice = make_user(app, "alice@example.test")
    mallory = make_user(app, "mallory@example.test")
    home = add_account(store, alice, "alice@example.test")
    odd = add_account(store, alice, "o'brien&co@example.test")
    secret = add_account(store, mallory, "mallory-secret@example.test")
    with store.session() as s:
        seed(s, alice, home, state=ST.REPLIED, reply_after=2 * DAY)
        seed(s, alice, home, state=ST.REPLIED, reply_after=4 * DAY)
        seed(s, alice, home, state=ST.REPLIED, bumps_done=[7 * DAY], reply_after=9 * DAY)
        seed(s, alice, odd, state=ST.REPLIED, bumps_done=[7 * DAY, 14 * DAY], reply_after=16 * DAY)
        seed(s, alice, odd, state=ST.COMPLETED, bumps_done=[7 * DAY], origin="rule 'R' (#1)")
        seed(s, alice, odd, state=ST.ACTIVE)
        for _ in range(3):
            seed(s, mallory, secret, state=ST.COMPLETED, bumps_done=[DAY])
    return {"alice": alice, "mallory": mallory, "home": home, "odd": odd}


def svgs(html: str) -> list[ET.Element]:
    """Every inline SVG of the page, parsed as XML: a malformed or badly escaped one fails."""
    found = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    return [ET.fromstring(markup) for markup in found]  # noqa: S314 (our own page)


def texts(svg: ET.Element) -> list[str]:
    return [t.text for t in svg.iter(f"{SVG}text")]


def test_signed_out_goes_to_sign_in(app, two_users):
    answer = app.test_client().get("/settings/results")
    assert answer.status_code == 302 and "/settings/signin" in answer.headers["Location"]


def test_page_shows_the_users_numbers_with_valid_charts(app, two_users):
    client = sign_in(app, "alice@example.test")
    page = client.get("/settings/results")
    assert page.status_code == 200
    html = page.get_data(as_text=True)

    charts = svgs(html)
    assert len(charts) == 3  # overall, and one per account
    overall = charts[0]
    assert overall.get("role") == "img"
    title = overall.find(f"{SVG}title")
    desc = overall.find(f"{SVG}desc")
    assert set(overall.get("aria-labelledby").split()) == {title.get("id"), desc.get("id")}
    assert title.text == "All accounts: how 5 ended follow-ups went"
    assert desc.text == (
        "Reply before any bump: 40% (2 of 5); Reply after bump 1: 20% (1 of 5); "
        "Reply after bump 2: 20% (1 of 5); Never replied: 20% (1 of 5)."
    )
    assert texts(overall) == [
        "Reply before any bump",
        "40% (2 of 5)",
        "Reply after bump 1",
        "20% (1 of 5)",
        "Reply after bump 2",
        "20% (1 of 5)",
        "Never replied",
        "20% (1 of 5)",
    ]
    # The coloured bars are as long as the shares (of a full-width track).
    filled = [r for r in overall.iter(f"{SVG}rect") if r.get("fill") != "#e8ebf0"]
    assert [r.get("width") for r in filled] == ["40.0%", "20.0%", "20.0%", "20.0%"]
    # The address with ' and & is escaped in the chart and still parses.
    odd_chart = charts[2]
    assert odd_chart.find(f"{SVG}title").text.startswith("o'brien&co@example.test: how 2 ended")

    # Facts: ended, medians (2 4 9 16 days -> 6 days 12 hours; before 3 days, after 12 days
    # 12 hours), still waiting.
    assert re.search(r'id="overall-ended">5<', html)
    median = re.search(r'id="overall-median">(.*?)</dd>', html, flags=re.S).group(1)
    assert median.split("<")[0].strip() == "6 days 12 hours"
    assert "before any bump 3 days; after a bump 12 days 12 hours" in median
    assert re.search(r"Still waiting <strong>1</strong>", html)
    # The tables: by origin too.
    # Counts beside the shares in the table too: "2 of 5", never a bare percentage.
    assert re.search(r"<td>2 of 5 <span class=\"share\">40%</span></td>", html)
    assert "Results by how the follow-up was made" in html and ">By hand<" in html
    assert ">Rules<" in html
    # Nav: the Results link is there and marked current; the definitions are on the page.
    assert re.search(r'href="/settings/results" aria-current="page">Results<', html)
    assert "How these are counted" in html
    # Nothing of Mallory's.
    assert "mallory" not in html


def test_each_user_sees_only_their_own(app, two_users):
    client = sign_in(app, "mallory@example.test")
    html = client.get("/settings/results").get_data(as_text=True)
    [chart] = svgs(html)  # one account: the overall chart only
    assert chart.find(f"{SVG}title").text == "All accounts: how 3 ended follow-ups went"
    assert texts(chart)[-2:] == ["Never replied", "100% (3 of 3)"]
    assert texts(chart)[1] == "0% (0 of 3)"  # before any bump: an empty track, still labelled
    assert "alice" not in html and "brien" not in html
    assert "mallory-secret@example.test" in html


def test_nothing_yet_and_nothing_ended(app):
    store = _store(app)
    make_user(app, "new@example.test")
    waiting = make_user(app, "waiting@example.test")
    account = add_account(store, waiting, "waiting@example.test")
    with store.session() as s:
        seed(s, waiting, account, state=ST.ACTIVE)
        seed(s, waiting, account, state=ST.CANCELLED)

    html = sign_in(app, "new@example.test").get("/settings/results").get_data(as_text=True)
    assert "No follow-ups yet" in html and not svgs(html)

    html = sign_in(app, "waiting@example.test").get("/settings/results").get_data(as_text=True)
    assert "No follow-ups have ended yet." in html and not svgs(html)
    assert re.search(r"Still waiting <strong>1</strong>", html)
    assert re.search(r"cancelled <strong>1</strong>", html)


def test_other_pages_link_to_results(app, two_users):
    client = sign_in(app, "alice@example.test")
    html = client.get("/settings/followups").get_data(as_text=True)
    assert re.search(r'<a href="/settings/results"\s*>Results</a>', html)


def test_one_follow_up_is_one_of_one_not_a_bare_hundred_percent(app):
    """100% from a single follow-up would read as a trend: the count stands beside it."""
    store = _store(app)
    solo = make_user(app, "solo@example.test")
    account = add_account(store, solo, "solo@example.test")
    with store.session() as s:
        seed(s, solo, account, state=ST.REPLIED, reply_after=2 * DAY)
    html = sign_in(app, "solo@example.test").get("/settings/results").get_data(as_text=True)
    [chart] = svgs(html)
    assert texts(chart)[:2] == ["Reply before any bump", "100% (1 of 1)"]
    assert '<td>1 of 1 <span class="share">100%</span></td>' in html
    assert "100%</text>" not in html  # no percentage without its count
