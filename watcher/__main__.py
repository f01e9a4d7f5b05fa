"""`python -m watcher ...`: the command line is watcher.cli, one module per command group."""

import sys

from .cli import build_parser, main  # noqa: F401 (tests and bench import both from here)

if __name__ == "__main__":
    sys.exit(main())
