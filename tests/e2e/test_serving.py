"""How the app is served (issue 16): waitress refuses bodies larger than any route takes, the
SQLite file is private to its owner, and an instance folder open to others is warned about."""

from __future__ import annotations

import socket
import stat
import threading

from waitress.server import create_server

from app import MAX_BODY, create_app, serve_options, startup_lines
from tests.servers.dovecot import free_port
from watcher.store import Store


def test_waitress_refuses_a_body_larger_than_the_largest_route_before_the_app_sees_it(config):
    app = create_app(config)
    seen = []
    app.before_request(lambda: seen.append(1))
    port = free_port()
    options = {**serve_options(config), "host": "127.0.0.1", "port": port}
    server = create_server(app, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            head = (
                "POST /settings/signin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {MAX_BODY + 1}\r\n\r\n"
            )
            sock.sendall(head.encode())  # the body never needs to be sent: refused on sight
            # Until waitress closes (Connection: close): head and body may come apart.
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            answer = b"".join(chunks).decode(errors="replace")
        assert answer.startswith("HTTP/1.1 413"), answer[:200]
        # waitress's own answer (it names its limit): the app never ran, nothing was buffered.
        assert f"exceeds max_body of {MAX_BODY}" in answer
        assert seen == []
    finally:
        server.close()
        thread.join(timeout=10)
        app.extensions["replywatch"]["store"].dispose()


def test_a_new_sqlite_file_is_private_and_an_open_instance_folder_is_warned_about(config):
    path = config.instance_dir / "replywatch.db"
    assert not path.exists()
    store = Store.from_config(config)
    store.migrate()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config.instance_dir.chmod(0o700)
    assert not any("WARNING" in line for line in startup_lines(config, store))
    config.instance_dir.chmod(0o755)
    warning = [line for line in startup_lines(config, store) if "WARNING" in line]
    assert warning and "open to other users" in warning[0] and "chmod 700" in warning[0]
    config.instance_dir.chmod(0o700)
    store.dispose()
