"""An idle pass costs the same IMAP commands whether 10 or 1,000 threads are tracked."""

from __future__ import annotations

from tests.support.seed import seed_tracked_followups
from watcher.engine import Engine
from watcher.mailbox import open_mailbox
from watcher.store import Store


def idle_pass_commands(mail_world, config, clock, tracked: int) -> list[int]:
    alice = mail_world.new_user("alice")
    bob = mail_world.new_user("bob")
    for i in range(5):  # some mail in both folders, so the mailbox is not empty
        mail_world.send(alice, [bob], f"m{i}", "x")
        mail_world.send(bob, [alice], f"r{i}", "x")
    store = Store.from_config(config)
    store.migrate()
    spec = mail_world.account_spec(alice)
    with store.session() as s:
        user = store.get_or_create_user(s, alice.email)
        account = store.add_account(
            s,
            user,
            kind="imap",
            email=alice.email,
            settings=dict(spec.settings),
            secret=spec.secret,
            now=clock.now(),
        )
        account_id, user_id = account.id, user.id
    seed_tracked_followups(store, account_id, user_id, tracked, clock.now())

    opened = []

    def counting(spec, cfg):
        mailbox = open_mailbox(spec, cfg)
        opened.append(mailbox)
        return mailbox

    engine = Engine(store, config, clock=clock.now, mailbox_factory=counting)
    counts = []
    for _ in range(3):  # the first pass takes the baseline; the next two are idle
        engine.run_pass()
        counts.append(opened[-1].commands)
    store.dispose()
    return counts


def test_idle_pass_commands_do_not_grow_with_tracked_threads(mail_world, config, clock, tmp_path):
    small = idle_pass_commands(mail_world, config, clock, 10)
    large = idle_pass_commands(
        mail_world,
        config.with_overrides(database_url=f"sqlite:///{tmp_path / 'big.db'}"),
        clock,
        1000,
    )
    assert small[1:] == large[1:], (small, large)
    assert small[1] <= 6  # connect + login + folder list + one STATUS per watched folder + logout
