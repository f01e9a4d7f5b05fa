"""Replywatch web app. `python app.py` runs the web app and the watcher together on SQLite.

create_app(config=None) builds the Flask app; with no config it reads the environment
(DATABASE_URL, REPLYWATCH_*) and keeps its data in ./instance.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from flask import Flask

from watcher.config import Config
from watcher.engine import Engine
from watcher.store import Store


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    store = Store.from_config(config)
    store.migrate()
    app = Flask(__name__, template_folder="web/templates")
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.base_url.startswith("https://"),
    )
    app.extensions["replywatch"] = {"config": config, "store": store}

    from web import bp as web_bp

    app.register_blueprint(web_bp)
    return app


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    config = Config.from_env()
    app = create_app(config)
    store: Store = app.extensions["replywatch"]["store"]
    engine = Engine(store, config)
    app.extensions["replywatch"]["engine"] = engine
    if config.run_watcher_in_app:
        thread = threading.Thread(target=engine.run_forever, name="watcher", daemon=True)
        thread.start()
    print(f"Replywatch is running: open {config.base_url}/")
    print(f"Data: {config.database_url} (keys in {config.instance_dir})")
    print("Connect a mailbox: .venv/bin/python -m watcher account add-imap --help")

    def _stop(*_):
        engine.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    app.run(host=config.host, port=config.port, threaded=True, use_reloader=False)
    engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
