"""Kept sessions (watcher.engine.kept): taken and given back, logged out when unused too long,
capped per process, never re-used for an account whose settings changed."""

from __future__ import annotations

from watcher.engine.kept import KeptMailboxes, fingerprint
from watcher.mailbox import AccountSpec


class Session:
    def __init__(self, name: str):
        self.name = name
        self.resumed = self.paused = self.closed = 0

    def resume(self):
        self.resumed += 1

    def pause(self):
        self.paused += 1

    def close(self):
        self.closed += 1


class Monotonic:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def spec(password="pw", host="imap.example.test") -> AccountSpec:
    return AccountSpec(
        kind="imap", email="a@example.test", settings={"imap_host": host}, secret=password
    )


def test_a_session_given_back_is_taken_up_again_resumed_and_paused_in_between():
    kept = KeptMailboxes(keep_seconds=300, max_open=10, monotonic=Monotonic())
    assert kept.take(1, "p") is None
    session = Session("a")
    kept.give_back(1, "p", session, taken=False)
    assert (session.paused, len(kept)) == (1, 1)
    assert kept.take(1, "p") is session
    assert (session.resumed, session.closed, len(kept)) == (1, 0, 1)  # in use still counts
    assert kept.take(1, "p") is None  # in one worker's hands: nobody else gets it
    kept.give_back(1, "p", session, taken=True)
    assert len(kept) == 1


def test_a_session_unused_for_keep_seconds_is_logged_out():
    clock = Monotonic()
    kept = KeptMailboxes(keep_seconds=300, max_open=10, monotonic=clock)
    old, recent = Session("old"), Session("recent")
    kept.give_back(1, "p", old, taken=False)
    clock.now += 200
    kept.give_back(2, "p", recent, taken=False)
    clock.now += 100
    assert kept.close_idle() == 1
    assert (old.closed, recent.closed, len(kept)) == (1, 0, 1)
    clock.now += 300
    assert kept.take(2, "p") is None  # expired when asked for: closed, not handed out
    assert recent.closed == 1


def test_over_the_cap_the_least_recently_used_is_logged_out_first():
    clock = Monotonic()
    kept = KeptMailboxes(keep_seconds=300, max_open=2, monotonic=clock)
    sessions = [Session(str(i)) for i in range(3)]
    kept.give_back(0, "p", sessions[0], taken=False)
    kept.give_back(1, "p", sessions[1], taken=False)
    assert kept.take(0, "p") is sessions[0]  # 0 is used again: 1 is now the oldest
    kept.give_back(0, "p", sessions[0], taken=True)
    kept.give_back(2, "p", sessions[2], taken=False)
    assert [s.closed for s in sessions] == [0, 1, 0]
    assert len(kept) == 2


def test_a_changed_account_gets_a_new_session():
    factory = Session
    before = fingerprint(spec(), factory)
    assert before == fingerprint(spec(), factory)
    assert before != fingerprint(spec(password="new"), factory)
    assert before != fingerprint(spec(host="other.example.test"), factory)
    assert before != fingerprint(spec(), dict)  # another mailbox factory
    assert "pw" not in before
    kept = KeptMailboxes(keep_seconds=300, max_open=10, monotonic=Monotonic())
    session = Session("a")
    kept.give_back(1, before, session, taken=False)
    assert kept.take(1, fingerprint(spec(password="new"), factory)) is None
    assert session.closed == 1 and len(kept) == 0


def test_a_failed_check_closes_its_session_and_close_all_logs_out_the_rest():
    kept = KeptMailboxes(keep_seconds=300, max_open=10, monotonic=Monotonic())
    broken, fine = Session("broken"), Session("fine")
    kept.give_back(1, "p", broken, taken=False)
    kept.give_back(2, "p", fine, taken=False)
    assert kept.take(1, "p") is broken
    kept.discard(broken, taken=True)
    assert broken.closed == 1 and len(kept) == 1
    kept.close_all()
    assert fine.closed == 1 and len(kept) == 0
