"""IMAP IDLE: a reply landing in the inbox wakes an idle watcher at once, not at the next poll."""

from __future__ import annotations

import threading

from tests.e2e.test_watcher_e2e import add_followup, connect, state_of
from tests.support.mailboxes import WrappedMailbox
from watcher.engine import Engine
from watcher.store import Store


def test_a_reply_wakes_the_watcher_through_idle(mail_world, cli, config):
    alice, bob = mail_world.new_user("alice"), mail_world.new_user("bob")
    connect(cli, mail_world, alice)
    mid = mail_world.send(alice, [bob], "Idle?", "?")
    fid = add_followup(cli, alice, mid, "--after", "1w")
    served, idling = threading.Event(), threading.Event()

    class Observed(WrappedMailbox):
        """The real mailbox; tells the test when an account was served or IDLE began."""

        def __exit__(self, *exc):
            self.inner.__exit__(*exc)
            served.set()

        def pause(self):  # the loop keeps the session for the next pass instead
            self.inner.pause()
            served.set()

        def idle_connection(self):
            conn = self.inner.idle_connection()
            idling.set()
            return conn

    config = config.with_overrides(poll_interval=3600.0, imap_idle=True)
    store = Store.from_config(config)
    engine = Engine(store, config, mailbox_factory=Observed)
    worker = threading.Thread(target=engine.run_forever)
    worker.start()
    try:
        assert served.wait(20), "the first pass never ran"
        assert idling.wait(20), "IDLE never started"
        served.clear()
        mail_world.send(bob, [alice], "Re: Idle?", "Yes", in_reply_to=mid, references=[mid])
        assert served.wait(15), "the reply did not wake the watcher (next poll is an hour away)"
        assert state_of(store, fid) == "replied"
    finally:
        engine.stop()
        worker.join(30)
    assert not worker.is_alive()
    store.dispose()
