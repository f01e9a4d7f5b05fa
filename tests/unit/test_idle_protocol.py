"""The IDLE conversation of one connection, bytes in and bytes out (watcher.idle_protocol)."""

from __future__ import annotations

import pytest

from watcher.idle_protocol import DROPPED, MAX_LINE, NEWS, READY, IdleSession


def idling() -> IdleSession:
    session = IdleSession()
    assert session.start() == b"RW1 IDLE\r\n"
    assert session.feed(b"+ idling\r\n") == ([(READY, "")], b"")
    assert session.state == "idling"
    return session


@pytest.mark.parametrize(
    ("data", "kinds"),
    [
        (b"* 5 EXISTS\r\n", [NEWS]),
        (b"* 1 RECENT\r\n", [NEWS]),
        (b"* 0 RECENT\r\n", []),  # nothing recent is no news
        (b"* 5 EXISTS\r\n* 1 RECENT\r\n", [NEWS, NEWS]),  # the multiplexer tells once
        (b"* 3 EXPUNGE\r\n", []),
        (b"* 2 FETCH (FLAGS (\\Seen))\r\n", []),
        (b"* OK Still here\r\n", []),
        (b"* BYE Disconnected for inactivity.\r\n", [DROPPED]),
        (b"* 5 EXI", []),  # half a line: wait for the rest
        (b"* 2 FETCH (X {10}\r\n* 9 EXISTS)\r\n* OK\r\n", []),  # a literal is not a line
    ],
)
def test_untagged_lines_while_idling(data, kinds):
    events, reply = idling().feed(data)
    assert [kind for kind, _ in events] == kinds
    assert reply == b""


def test_a_line_split_across_reads_is_seen_when_complete():
    session = idling()
    assert session.feed(b"* 7 EXI") == ([], b"")
    assert session.feed(b"STS\r\n") == ([(NEWS, "EXISTS")], b"")


def test_a_literal_split_across_reads_is_skipped_whole():
    session = idling()
    assert session.feed(b"* 2 FETCH (X {12}\r\n* 9 EX") == ([], b"")
    assert session.feed(b"ISTS\r\n)\r\n* 3 EXISTS\r\n") == ([(NEWS, "EXISTS")], b"")


def test_renewing_ends_idle_and_starts_it_again_once_the_server_confirms():
    session = idling()
    assert session.renew() == b"DONE\r\n"
    assert session.state == "ending"
    events, reply = session.feed(b"* 6 EXISTS\r\nRW1 OK Idle completed.\r\n")
    assert [kind for kind, _ in events] == [NEWS]  # news during the hand-over counts too
    assert reply == b"RW2 IDLE\r\n"
    assert session.feed(b"+ idling\r\n") == ([(READY, "")], b"")


def test_renew_before_idle_began_sends_nothing():
    session = IdleSession()
    session.start()
    assert session.renew() == b""
    assert session.state == "starting"


def test_a_server_that_ends_idle_on_its_own_gets_a_new_idle():
    session = idling()
    assert session.feed(b"RW1 OK IDLE terminated\r\n") == ([], b"RW2 IDLE\r\n")


@pytest.mark.parametrize("answer", [b"RW1 NO not now\r\n", b"RW1 BAD unknown\r\n"])
def test_a_refused_idle_drops_the_connection(answer):
    session = IdleSession()
    session.start()
    events, _ = session.feed(answer)
    assert [kind for kind, _ in events] == [DROPPED]


def test_answers_to_other_tags_are_not_ours_to_judge():
    assert idling().feed(b"A7 NO whatever\r\n") == ([], b"")


def test_an_endless_line_drops_the_connection():
    events, _ = idling().feed(b"* 1 FETCH " + b"x" * (MAX_LINE + 1))
    assert [kind for kind, _ in events] == [DROPPED]


@pytest.mark.parametrize(
    ("state_after", "expected"),
    [
        (None, b"RW0 LOGOUT\r\n"),
        (b"+ idling\r\n", b"DONE\r\nRW0 LOGOUT\r\n"),
    ],
)
def test_done_ends_idle_before_logging_out(state_after, expected):
    session = IdleSession()
    if state_after is not None:
        session.start()
        session.feed(state_after)
    assert session.done() == expected
