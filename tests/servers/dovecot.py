"""A throwaway Dovecot 2.3 IMAP server for tests (stdlib only).

Runs rootless: every mail user maps to the user Dovecot runs as, and when the test process is
root Dovecot is started as `nobody` (its login processes refuse root). See
shared/reference/mail-mechanics.md section 5.1 for the facts behind this config.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time

CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd.d/%u
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  # No auth penalty: failed logins in one test must not delay every later login from 127.0.0.1.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    """Dovecot on 127.0.0.1:<free port> with a passwd-file and maildirs in a temp dir.

    `users` maps a login name (a full e-mail address) to its password; the same dict object can
    be shared with the SMTP sink so both servers accept the same credentials.
    """

    host = "127.0.0.1"

    def __init__(self, users: dict[str, str] | None = None):
        self.binary = shutil.which("dovecot") or (
            "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
        )
        if self.binary is None:
            raise RuntimeError("dovecot is not installed: apt-get install -y dovecot-imapd")
        self.users: dict[str, str] = {} if users is None else users
        self.dir = tempfile.mkdtemp(prefix="dv-", dir="/tmp")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        # One passwd-file per user (the path has %u): Dovecot re-checks a passwd-file at most
        # once a second, so appending to one shared file can miss a user added just now.
        self.passwd_dir = os.path.join(self.dir, "passwd.d")
        self.log = os.path.join(self.dir, "dovecot.log")
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._as_root = os.geteuid() == 0
        run_as = pwd.getpwnam("nobody") if self._as_root else pwd.getpwuid(os.getuid())
        self.uid, self.gid = run_as.pw_uid, run_as.pw_gid
        for sub in ("run", "state", "mail", "home", "passwd.d"):
            os.makedirs(os.path.join(self.dir, sub))
        with open(self.conf, "w") as f:
            f.write(
                CONF.format(
                    d=self.dir,
                    user=run_as.pw_name,
                    group=grp.getgrgid(self.gid).gr_name,
                    uid=self.uid,
                    gid=self.gid,
                    port=self.port,
                )
            )
        for user, password in self.users.items():
            self._write_passwd(user, password)
        if self._as_root:
            for root, dirs, files in os.walk(self.dir):
                for name in (root, *(os.path.join(root, n) for n in dirs + files)):
                    os.chown(name, self.uid, self.gid)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> Dovecot:
        kw = dict(user=self.uid, group=self.gid, extra_groups=[]) if self._as_root else {}
        self.proc = subprocess.Popen(
            [self.binary, "-F", "-c", self.conf],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            **kw,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
                raise RuntimeError(
                    f"dovecot exited with {self.proc.returncode}:\n{out}\n{self.read_log()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    if s.recv(64).startswith(b"* OK"):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not greet within {timeout}s:\n{self.read_log()}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def read_log(self) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return "(no dovecot log)"

    # -- users -----------------------------------------------------------------------------

    def add_user(self, email: str, password: str) -> None:
        """Add a login at runtime; Dovecot finds its passwd-file on the next login."""
        with self._lock:
            if email in self.users:
                raise ValueError(f"user {email} exists")
            self._write_passwd(email, password)
            self.users[email] = password

    def set_password(self, email: str, password: str) -> None:
        """Change a login's password (as a user changing it at their provider would)."""
        with self._lock:
            if email not in self.users:
                raise ValueError(f"no user {email}")
            self._write_passwd(email, password)
            self.users[email] = password
        self._wait_until_login_works(email, password)

    def _wait_until_login_works(self, email: str, password: str, timeout: float = 5.0) -> None:
        """Dovecot re-reads a changed passwd-file at most about once a second; wait for it
        here so a test sees the change take effect (this waits on Dovecot, not the watcher)."""
        deadline = time.monotonic() + timeout
        while True:
            conn = imaplib.IMAP4(self.host, self.port, timeout=5)
            try:
                conn.login(email, password)
                conn.logout()
                return
            except imaplib.IMAP4.error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
            finally:
                with contextlib.suppress(Exception):
                    conn.shutdown()

    def _write_passwd(self, email: str, password: str) -> None:
        if "/" in email or email.startswith("."):
            raise ValueError(f"not a usable login name: {email!r}")
        path = os.path.join(self.passwd_dir, email)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(_passwd_line(email, password))
        if self._as_root:
            os.chown(tmp, self.uid, self.gid)
        os.replace(tmp, path)

    def imap_settings(self, email: str, smtp: tuple[str, int] | None = None) -> tuple[dict, str]:
        """(settings, password) for an ImapMailbox of `email`; `smtp` = (host, port) if any."""
        smtp_host, smtp_port = smtp if smtp else (self.host, 0)
        settings = {
            "imap_host": self.host,
            "imap_port": self.port,
            "imap_security": "none",
            "imap_username": email,
            "smtp_host": smtp_host,
            "smtp_port": smtp_port,
            "smtp_security": "none",
            "smtp_username": email,
            "save_sent": "auto",
        }
        return settings, self.users[email]

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _passwd_line(user: str, password: str) -> str:
    if any(c in user + password for c in ":\r\n"):
        raise ValueError("user names and passwords here may not contain ':' or newlines")
    return f"{user}:{{PLAIN}}{password}\n"
