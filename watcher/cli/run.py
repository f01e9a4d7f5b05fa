"""`python -m watcher run | once`: watch every account until stopped, or one pass and exit."""

from __future__ import annotations

import signal

from .. import metrics
from ..config import Config
from ..engine import Engine
from ..store import Store
from . import words


def add_parser(sub) -> None:
    sub.add_parser("run", help="watch every account until stopped (SIGTERM/Ctrl-C)")
    sub.add_parser(
        "once",
        help="one pass over every account, then exit (for cron and tests)",
        description="Check every account that is due once: read new mail, stop follow-ups "
        "that got a reply, send the bumps that are due, then exit. An account another "
        "watcher holds (or one waiting after a fault) is named with the time it frees up.",
    )


def cmd_run(args, config: Config, store: Store, env) -> int:
    engine = Engine(store, config, clock=args.clock)
    signal.signal(signal.SIGTERM, lambda *_: engine.stop())
    signal.signal(signal.SIGINT, lambda *_: engine.stop())
    if config.metrics_port:
        server = metrics.serve(
            store, config.metrics_host, config.metrics_port, config.metrics_token
        )
        where = f"http://{config.metrics_host}:{server.server_port}/metrics"
        guard = "bearer token" if config.metrics_token else "local clients only"
        print(f"metrics: {where} ({guard})", flush=True)
    print(
        f"watching every account every {config.poll_interval:g}s; "
        f"data: {config.redacted_database_url}",
        flush=True,
    )
    engine.run_forever()  # the metrics server's daemon thread ends with the process
    return 0


def cmd_once(args, config: Config, store: Store, env) -> int:
    engine = Engine(store, config, clock=args.clock)
    report = engine.run_pass()
    print(report)
    for fault in report.faults:
        print(f"  fault: {fault}")
    for line in words.unchecked_accounts(store, args.clock(), engine.owner, report.served):
        print(f"  not checked: {line}")
    return 0


COMMANDS = {"run": cmd_run, "once": cmd_once}
