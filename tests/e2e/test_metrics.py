"""End to end: /metrics scraped over HTTP around real passes moves by exactly what they did.

The watcher's own endpoint (`python -m watcher run`, REPLYWATCH_METRICS_PORT) and the web app's
/metrics (`python app.py`: web and watcher in one process, one registry) are scraped with
urllib and parsed with prometheus_client's own parser.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.serving import make_server

from app import create_app
from tests.e2e.test_gmail_e2e import add_followup as gmail_add_followup
from tests.e2e.test_gmail_e2e import connect as gmail_connect
from tests.e2e.test_watcher_e2e import add_followup, connect, state_of
from tests.servers.dovecot import free_port
from tests.support.mailboxes import WrappedMailbox
from watcher import metrics
from watcher.config import Config
from watcher.engine import Engine
from watcher.errors import ValidationError
from watcher.models import Account, FollowUp

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-tests"


def fetch(url: str, token: str | None = None, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=dict(headers or {}))
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(url: str, token: str | None = None) -> dict:
    """{(sample name, frozenset of labels): value} of one scrape."""
    status, body = fetch(url, token)
    assert status == 200, body
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: dict, after: dict):
    return lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)


def total(samples: dict, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


class Spending(WrappedMailbox):
    """Remembers what each mailbox of a pass spent, as the mailbox itself counted it."""

    spent: list[int] = []

    def __exit__(self, *exc):
        try:
            return self.inner.__exit__(*exc)
        finally:
            Spending.spent.append(self.inner.commands)


class LeaseTakenMidSend(WrappedMailbox):
    """Another watcher takes the follow-up over (its lease ran out) just before the send."""

    store = None

    def send(self, bump, before_commit=None):
        with self.store.session() as s:
            for followup in s.query(FollowUp).filter(FollowUp.lease_owner.is_not(None)):
                followup.lease_owner = "another-watcher"
        return self.inner.send(bump, before_commit)


@pytest.fixture
def alice(mail_world, cli):
    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    code, _, err = cli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    return user


@pytest.fixture
def endpoint(engine):
    """The watcher's own /metrics server, as `python -m watcher run` starts it."""
    server = metrics.serve(engine.store, "127.0.0.1", 0, TOKEN)
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()


def test_a_watcher_s_metrics_move_by_exactly_what_its_pass_did(
    mail_world, alice, cli, engine, config, clock, endpoint
):
    bob = mail_world.new_user("bob")
    lunch = mail_world.send(alice, [bob], "Lunch?", "Thursday?")
    f1 = add_followup(cli, alice, lunch, "--after", "2w")
    f2 = add_followup(cli, alice, mail_world.send(alice, [bob], "Offer", "?"), "--after", "1d")
    watcher = Engine(engine.store, config, clock=clock.now, mailbox_factory=Spending)
    watcher.run_pass()  # the threads read once: the baseline

    assert fetch(endpoint)[0] == 401  # no token
    assert fetch(endpoint, "wrong")[0] == 401
    before = scrape(endpoint, TOKEN)
    mail_world.send(bob, [alice], "Re: Lunch?", "Yes!", in_reply_to=lunch, references=[lunch])
    clock.advance(days=1, minutes=1)
    Spending.spent.clear()
    report = watcher.run_pass()
    after = scrape(endpoint, TOKEN)

    assert (report.sent, report.stopped, report.accounts) == (1, 1, 1)
    d = moved(before, after)
    assert d("replywatch_passes_total", kind="full") == 1
    assert d("replywatch_pass_duration_seconds_count", kind="full") == 1
    assert d("replywatch_accounts_served_total") == 1
    assert d("replywatch_messages_read_total") == report.messages
    assert d("replywatch_bumps_total", outcome="sent") == 1
    assert d("replywatch_bumps_total", outcome="unconfirmed") == 0
    assert d("replywatch_followups_stopped_total") == 1
    # One message judged: Bob's reply, by the default rule.
    assert d("replywatch_verdicts_total", kind="reply", rule="default-reply") == 1
    assert (
        total(after, "replywatch_verdicts_total") - total(before, "replywatch_verdicts_total") == 1
    )
    assert Spending.spent and d("replywatch_imap_commands_total") == sum(Spending.spent) > 0
    assert (
        sum(d("replywatch_account_faults_total", kind=k) for k in ("transient", "permanent")) == 0
    )
    # State at scrape time, from the database.
    assert (state_of(engine.store, f1), state_of(engine.store, f2)) == ("replied", "completed")
    assert value(after, "replywatch_followups", state="replied") == 1
    assert value(after, "replywatch_followups", state="completed") == 1
    assert value(after, "replywatch_followups", state="active") == 0
    assert value(after, "replywatch_accounts", status="ok") == 1

    # A push wakes the watcher: a woken pass serves only that account.
    with engine.store.session() as s:
        account_id = s.query(Account).one().id
    before = scrape(endpoint, TOKEN)
    watcher.wake_account(account_id, "push")
    watcher.run_pass(woken_only=True)
    d = moved(before, scrape(endpoint, TOKEN))
    assert d("replywatch_wakeups_total", source="push") == 1
    assert d("replywatch_passes_total", kind="woken") == 1
    assert d("replywatch_passes_total", kind="full") == 0

    # A wrong password: the account needs attention, and the gauge says so at once.
    with engine.store.session() as s:
        s.get(Account, account_id).secret = engine.store.box.encrypt(
            '{"imap_password": "wrong", "smtp_password": "wrong"}'
        )
    before = scrape(endpoint, TOKEN)
    clock.advance(hours=1)
    watcher.run_pass()
    after = scrape(endpoint, TOKEN)
    assert moved(before, after)("replywatch_account_faults_total", kind="permanent") == 1
    assert value(after, "replywatch_accounts", status="needs_attention") == 1


def test_a_lease_lost_before_the_send_is_counted_and_nothing_goes_out(
    mail_world, alice, cli, engine, config, clock, endpoint
):
    bob = mail_world.new_user("bob")
    fid = add_followup(cli, alice, mail_world.send(alice, [bob], "Offer", "?"), "--after", "1d")
    engine.run_pass()
    clock.advance(days=1, minutes=1)
    LeaseTakenMidSend.store = engine.store
    slow = Engine(engine.store, config, clock=clock.now, mailbox_factory=LeaseTakenMidSend)
    before = scrape(endpoint, TOKEN)
    assert slow.run_pass().sent == 0
    d = moved(before, scrape(endpoint, TOKEN))
    assert d("replywatch_lease_losses_total", what="followup") == 1
    assert d("replywatch_bumps_total", outcome="sent") == 0
    assert state_of(engine.store, fid) == "active"


@pytest.fixture
def served_app(gmail_config, clock):
    """`python app.py` in miniature: the web app on a real HTTP server and the engine on its
    store, in one process: the web app's /metrics shows the engine's counters."""
    app = create_app(gmail_config, clock=clock.now)
    store = app.extensions["replywatch"]["store"]
    engine = Engine(store, gmail_config, clock=clock.now)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield engine, f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    thread.join(timeout=10)
    store.dispose()


def test_the_web_app_serves_the_same_registry_and_counts_gmail_units_as_google_does(
    google, gcli, clock, served_app
):
    engine, url = served_app
    alice = google.new_user("alice")
    gmail_connect(gcli, google, alice)
    code, _, err = gcli("defaults", "--user", alice.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    bob = google.new_user("bob")
    gmail_add_followup(gcli, alice, google.send(alice, [bob], "Offer", "?"), "--after", "1d")
    engine.run_pass()
    clock.advance(days=1, minutes=1)

    before, units = scrape(url), google.gmail.units(alice.email)  # no token: a local client
    assert engine.run_pass().sent == 1
    after = scrape(url)
    d = moved(before, after)
    assert d("replywatch_gmail_quota_units_total") == google.gmail.units(alice.email) - units
    assert d("replywatch_gmail_quota_units_total") >= 100  # messages.send alone is 100
    assert d("replywatch_gmail_requests_total", method="messages.send") == 1
    assert d("replywatch_bumps_total", outcome="sent") == 1
    assert d("replywatch_imap_commands_total") == 0


def test_the_web_app_s_metrics_need_the_token_when_one_is_set(config):
    app = create_app(config.with_overrides(metrics_token=TOKEN))
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and "replywatch_followups" in answer.get_data(as_text=True)
    assert answer.content_type.startswith("text/plain")
    # From elsewhere, with the token: the token is what counts.
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert (
        client.get(
            "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=remote
        ).status_code
        == 200
    )
    app.extensions["replywatch"]["store"].dispose()
    # Without a token only a local client is answered.
    app = create_app(config)
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 401
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    # Through a reverse proxy, a local-looking client may be anyone.
    proxied = {"X-Forwarded-For": "203.0.113.9"}
    assert client.get("/metrics", headers=proxied).status_code == 401
    app.extensions["replywatch"]["store"].dispose()
    # Published at a public address (a proxy on this machine makes everyone look local, and
    # waitress drops the X-Forwarded-* headers it does not trust): only with a token.
    app = create_app(config.with_overrides(base_url="https://replywatch.example.org"))
    client = app.test_client()
    answer = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert answer.status_code == 401
    assert "REPLYWATCH_METRICS_TOKEN" in answer.get_data(as_text=True)
    app.extensions["replywatch"]["store"].dispose()


def test_watcher_run_serves_its_metrics_on_its_own_port(config, tmp_path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("REPLYWATCH_")},
        "REPLYWATCH_INSTANCE_DIR": str(config.instance_dir),
        "REPLYWATCH_METRICS_PORT": str(port),
        "REPLYWATCH_METRICS_TOKEN": TOKEN,
        "REPLYWATCH_POLL_INTERVAL": "3600",
        "REPLYWATCH_IMAP_IDLE": "false",
    }
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline()  # printed once the server listens
        url = f"http://127.0.0.1:{port}/metrics"
        assert line.strip() == f"metrics: {url} (bearer token)"
        assert fetch(url)[0] == 401
        samples = scrape(url, TOKEN)
        names = {name for name, _ in samples}
        assert {"replywatch_accounts_served_total", "replywatch_send_cap_deferrals_total"} <= names
        assert fetch(url.replace("/metrics", "/other"), TOKEN)[0] == 404
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=90) == 0  # a loaded machine starts Python slowly


def test_metrics_without_a_token_listen_only_on_loopback_and_a_taken_port_is_said(engine):
    with pytest.raises(ValidationError, match="REPLYWATCH_METRICS_TOKEN"):
        metrics.serve(engine.store, "0.0.0.0", 0, "")
    first = metrics.serve(engine.store, "127.0.0.1", 0, TOKEN)
    try:
        with pytest.raises(ValidationError, match="its own REPLYWATCH_METRICS_PORT"):
            metrics.serve(engine.store, "127.0.0.1", first.server_port, TOKEN)
    finally:
        first.shutdown()
        first.server_close()


def test_metrics_settings_come_from_the_environment_and_the_token_is_never_shown(tmp_path):
    config = Config.from_env(
        {
            "REPLYWATCH_INSTANCE_DIR": str(tmp_path / "instance"),
            "REPLYWATCH_METRICS_PORT": "9464",
            "REPLYWATCH_METRICS_HOST": "10.0.0.5",
            "REPLYWATCH_METRICS_TOKEN": TOKEN,
        }
    )
    assert (config.metrics_port, config.metrics_host, config.metrics_token) == (
        9464,
        "10.0.0.5",
        TOKEN,
    )
    assert TOKEN not in repr(config)
    default = Config.from_env({"REPLYWATCH_INSTANCE_DIR": str(tmp_path / "instance")})
    assert (default.metrics_port, default.metrics_host, default.metrics_token) == (
        0,
        "127.0.0.1",
        "",
    )


def test_the_grafana_dashboard_queries_only_metrics_that_exist(engine):
    dashboard = json.loads((ROOT / "docs" / "grafana-replywatch.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queried = {m for e in exprs for m in re.findall(r"replywatch_[a-z_]+", e)}
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    families = [*metrics.REGISTRY.collect(), *metrics.StateCollector(engine.store).collect()]
    exposed = {f.name + end for f in families for end in suffixes[f.type]}
    assert len(queried) >= 12 and queried <= exposed, queried - exposed


def test_the_start_up_lines_of_python_app_py_say_where_metrics_are_never_the_token(config):
    from app import startup_lines

    app = create_app(config)
    store = app.extensions["replywatch"]["store"]
    lines = startup_lines(config, store)
    assert f"Prometheus metrics: {config.base_url}/metrics (local clients only)" in lines
    lines = startup_lines(config.with_overrides(metrics_token=TOKEN), store)
    assert f"Prometheus metrics: {config.base_url}/metrics (bearer token)" in lines
    assert TOKEN not in "\n".join(lines)
    store.dispose()
