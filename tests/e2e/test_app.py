"""`python app.py` as a self-hoster runs it: instance/ created, web up, watcher thread running."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from app import create_app
from tests.servers.dovecot import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_create_app_serves_status_without_personal_data(config):
    client = create_app(config).test_client()
    page = client.get("/", follow_redirects=True)  # to the settings page's first-run sign-in
    assert page.status_code == 200 and b"Replywatch" in page.data
    # Public: only the status, no counts of accounts or follow-ups across users.
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_python_app_py_creates_instance_and_runs_web_and_watcher(tmp_path):
    port = free_port()
    instance = tmp_path / "instance"
    env = {
        **os.environ,
        "REPLYWATCH_INSTANCE_DIR": str(instance),
        "REPLYWATCH_PORT": str(port),
        "REPLYWATCH_POLL_INTERVAL": "3600",
    }
    proc = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: list[str] = []
    first_pass = threading.Event()

    def read_output() -> None:  # the output is read as it comes, to know when a pass ran
        for raw in proc.stdout:
            lines.append(raw.decode())
            if "pass: " in lines[-1]:
                first_pass.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        body = _get_when_up(f"http://127.0.0.1:{port}/healthz", proc)
        assert json.loads(body)["status"] == "ok"
        for name in ("secret_key", "encryption_key"):
            mode = stat.S_IMODE((instance / name).stat().st_mode)
            assert mode == 0o600, f"{name} is readable by others: {oct(mode)}"
        assert (instance / "replywatch.db").exists()
        assert first_pass.wait(60), "".join(lines)  # the watcher thread's first pass, logged
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=40)
        reader.join(10)
    output = "".join(lines)
    assert f"Replywatch is running: open http://127.0.0.1:{port}/" in output
    assert f"Data: sqlite:///{instance / 'replywatch.db'}" in output
    assert "started (every 3600" in output  # the watcher thread ran
    assert "pass: 0 account(s) checked" in output


def _get_when_up(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> bytes:
    """Poll until the server answers (waiting for a process to start, not for the watcher)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(proc.communicate()[0].decode())
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_watcher_run_stops_cleanly_on_sigterm(tmp_path):
    env = {
        **os.environ,
        "REPLYWATCH_INSTANCE_DIR": str(tmp_path / "instance"),
        "REPLYWATCH_POLL_INTERVAL": "3600",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    line = proc.stdout.readline().decode()  # printed once it is up
    assert "watching every account" in line
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 0, output
    assert "stopped" in output
