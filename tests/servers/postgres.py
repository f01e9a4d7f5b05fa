"""A throwaway PostgreSQL 15 cluster for tests: initdb + pg_ctl on 127.0.0.1:<free port>.

initdb refuses to run as root, so as root the cluster runs as the `postgres` user (created by
Debian's package) in a temp dir chowned to it. fsync and friends are off: this data is thrown
away. Each test gets its own database, copied from a migrated template in milliseconds.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers.dovecot import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "rw"
_names = itertools.count(1)


class Postgres:
    host = "127.0.0.1"

    def __init__(self):
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError("PostgreSQL 15 is missing: apt-get install -y postgresql-15")
        self.dir = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        else:
            self._user = {}

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [str(PG_BIN / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            **self._user,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}")

    def start(self) -> Postgres:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8")
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses={self.host} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w",
                  "start")  # fmt: skip
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)

    def create_database(self, template: str | None = None) -> str:
        name = f"t{os.getpid()}_{next(_names)}"
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
