""" "Unless they write first": has any recipient written to the user since it was scheduled?

Any thread counts (the person may answer the call's calendar invite, or start a new thread),
so the question goes to the mailbox per address (messages_from: inbox and archive, never Sent
and never a draft). A message dated after the scheduling moment is enough.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from ..mailbox import Mailbox, MessageSummary

LOOK_BACK = 10  # the newest messages from each person: one written since is among them


def written_since(
    mailbox: Mailbox,
    retry: Callable,
    recipients: Iterable[str],
    since: datetime,
    own_addresses: frozenset[str],
) -> MessageSummary | None:
    """The newest message a recipient wrote to the user after `since`, or None."""
    newest: MessageSummary | None = None
    for address in recipients:
        if address in own_addresses:
            continue
        found = retry(lambda address=address: mailbox.messages_from(address, LOOK_BACK))
        for msg in found:
            if msg.is_draft or msg.in_sent or msg.date is None or msg.date <= since:
                continue
            if newest is None or msg.date > newest.date:
                newest = msg
    return newest
