"""A real mailbox that a test can override one method of (a reply that lands just in time,
a process that 'dies' mid-send, a signal that an account was served)."""

from __future__ import annotations

from watcher.mailbox import open_mailbox


class WrappedMailbox:
    def __init__(self, spec, cfg):
        self.inner = open_mailbox(spec, cfg)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __enter__(self):
        self.inner.__enter__()
        return self

    def __exit__(self, *exc):
        return self.inner.__exit__(*exc)


class DiesAfterRecordingTheHandOver(WrappedMailbox):
    """Killed between recording "handing over" (before_commit) and SMTP's final ".": the
    server drops the message, so nothing is delivered."""

    def send(self, bump, before_commit=None):
        before_commit()
        raise RuntimeError("killed before the final dot")
