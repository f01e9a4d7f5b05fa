"""`python -m watcher later ...`: scheduled sends (drafts to send later) from the terminal.

later list [--user EMAIL] [--all]   what is scheduled (--all: sent, held, cancelled too)
later show ID                       one scheduled send with its history
later move ID WHEN                  a new time: 3d, 2w, or 2026-12-20 14:30 (your zone)
later cancel ID                     forget it; the draft stays in your drafts, untouched
later send-now ID                   send at the watcher's next pass
"""

from __future__ import annotations

import argparse

from sqlalchemy import select

from ..errors import NotFoundError
from ..later import actions
from ..later.model import OPEN_STATES, ScheduledSend
from ..models import Event, User


def add_parser(sub) -> None:
    la = sub.add_parser("later", help="drafts scheduled to send later").add_subparsers(
        dest="later_cmd", required=True
    )
    ls = la.add_parser("list", help="scheduled sends, soonest first")
    ls.add_argument("--user", help="only this user's (e-mail)")
    ls.add_argument("--all", action="store_true", help="also the sent, held and cancelled ones")
    sh = la.add_parser("show", help="one scheduled send with its history")
    sh.add_argument("id", type=int)
    mv = la.add_parser("move", help="send at another time")
    mv.add_argument("id", type=int)
    mv.add_argument("when", help="3d, 2w, or a date like 2026-12-20 14:30 in your zone")
    ca = la.add_parser("cancel", help="do not send; the draft stays in your drafts")
    ca.add_argument("id", type=int)
    sn = la.add_parser("send-now", help="send at the watcher's next pass")
    sn.add_argument("id", type=int)
    th = la.add_parser("then", help="follow up if no reply once it is sent (none: no follow-up)")
    th.add_argument("id", type=int)
    th.add_argument("tag", help="1w, 3d-1w, 1w-remind … as in you+1w@, or none")


def cmd_later(args: argparse.Namespace, config, store, env) -> int:
    return SUBCOMMANDS[args.later_cmd](args, store)


def later_list(args, store) -> int:
    with store.session() as s:
        query = select(ScheduledSend).order_by(ScheduledSend.send_at, ScheduledSend.id)
        if not args.all:
            query = query.where(ScheduledSend.state.in_(OPEN_STATES))
        if args.user:
            user = s.scalar(select(User).where(User.email == args.user.strip().lower()))
            if user is None:
                raise NotFoundError(f"no user {args.user}")
            query = query.where(ScheduledSend.user_id == user.id)
        rows = list(s.scalars(query))
        if not rows:
            print("nothing scheduled")
        for row in rows:
            d = actions.describe(row, s.get(User, row.user_id).timezone)
            print(f"{d['id']:>4}  {d['state']:<11} {d['send_at']:<26} {d['to']}  {d['subject']!r}")
    return 0


def later_show(args, store) -> int:
    with store.session() as s:
        row = _row(s, args.id)
        d = actions.describe(row, s.get(User, row.user_id).timezone)
        print(f"scheduled send {row.id} ({row.tag_address})")
        print(f"  subject   {d['subject']}")
        print(f"  to        {d['to']}")
        print(f"  send at   {d['send_at']}")
        print(f"  state     {d['state']}" + (f": {d['note']}" if d["note"] else ""))
        unless = "kept as a draft if they write first" if d["unless_reply"] else "sent anyway"
        print(f"  if they write first: {unless}")
        if d["then"]:
            print(f"  then      follow up if no reply ({d['then']})")
        print("  history")
        events = s.scalars(
            select(Event)
            .where(Event.account_id == row.account_id, Event.message_id == row.message_id)
            .order_by(Event.id)
        )
        for ev in events:
            print(f"    {ev.at:%Y-%m-%d %H:%M}  {ev.kind:<18} {ev.detail}")
    return 0


def _row(s, send_id: int) -> ScheduledSend:
    row = s.get(ScheduledSend, send_id)
    if row is None:
        raise NotFoundError(f"no scheduled send {send_id}")
    return row


def later_move(args, store) -> int:
    with store.session() as s:
        row = actions.move(store, s, _row(s, args.id).user_id, args.id, args.when, args.clock())
        tz = s.get(User, row.user_id).timezone
        print(f"scheduled send {row.id} will be sent {actions.describe(row, tz)['send_at']}")
    return 0


def later_cancel(args, store) -> int:
    with store.session() as s:
        row = actions.cancel(store, s, _row(s, args.id).user_id, args.id, args.clock())
        print(f"scheduled send {row.id} cancelled; the draft stays in your drafts")
    return 0


def later_send_now(args, store) -> int:
    with store.session() as s:
        row = actions.send_now(store, s, _row(s, args.id).user_id, args.id, args.clock())
        print(f"scheduled send {row.id} goes out at the watcher's next pass")
    return 0


def later_then(args, store) -> int:
    with store.session() as s:
        row = actions.set_then(store, s, _row(s, args.id).user_id, args.id, args.tag, args.clock())
        then = f"a follow-up ({row.then_tag})" if row.then_tag else "no follow-up"
        print(f"scheduled send {row.id} gets {then} once it is sent")
    return 0


SUBCOMMANDS = {
    "list": later_list,
    "show": later_show,
    "move": later_move,
    "cancel": later_cancel,
    "send-now": later_send_now,
    "then": later_then,
}


COMMANDS = {"later": cmd_later}
