"""`python -m watcher user ...`: the operator's say over sign-ins.

    user list                         users, who owns the deployment, who has a password
    user set-password --user EMAIL    set or change a local password (prompted twice, or
                                      REPLYWATCH_NEW_PASSWORD); every session of that user ends
    user sign-out-everywhere --user EMAIL
                                      end every session of that user (a lost laptop, a cookie
                                      that may have been copied)
    user export --user EMAIL [--output FILE]
                                      everything of theirs as JSON (no passwords or tokens)
    user delete --user EMAIL --confirm EMAIL
                                      delete the user and everything of theirs: Google tokens
                                      revoked, mail passwords erased (without --confirm: only
                                      says what would be deleted)

The password never comes from argv (argv is visible to every user of the machine).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from .. import access, user_data
from ..errors import NotFoundError, ValidationError
from ..models import User
from ..store import Store


def add_parser(sub) -> None:
    us = sub.add_parser("user", help="users: passwords, sessions, export, delete").add_subparsers(
        dest="user_cmd", required=True
    )
    us.add_parser("list", help="users, the owner, who has a password")
    sp = us.add_parser("set-password", help="set or change a user's local password")
    sp.add_argument("--user", required=True, help="the user's e-mail (made if new)")
    so = us.add_parser("sign-out-everywhere", help="end every session of a user")
    so.add_argument("--user", required=True)
    ex = us.add_parser("export", help="a user's data as JSON (no passwords or tokens)")
    ex.add_argument("--user", required=True)
    ex.add_argument("--output", help="write to this new file (0600) instead of the screen")
    de = us.add_parser("delete", help="delete a user and everything of theirs")
    de.add_argument("--user", required=True)
    de.add_argument("--confirm", help="the user's address again: without it nothing is deleted")


def cmd_user(args: argparse.Namespace, config, store: Store, env) -> int:
    return SUBCOMMANDS[args.user_cmd](args, config, store, env)


def user_list(args, config, store: Store, env) -> int:
    from sqlalchemy import select

    with store.session() as s:
        owner = access.owner(s)
        users = list(s.scalars(select(User).order_by(User.id)))
        for user in users:
            marks = [
                "owner" if owner is not None and user.id == owner.id else "",
                "password" if user.password_hash else "",
                "google" if user.google_sub else "",
            ]
            print(f"{user.id:>4}  {user.email}  {' '.join(m for m in marks if m)}")
    if not users:
        print("no users yet")
    print(access.who_may_sign_in(config))
    return 0


def user_set_password(args, config, store: Store, env) -> int:
    from werkzeug.security import generate_password_hash

    password = _new_password(env)
    with store.session() as s:
        user = store.get_or_create_user(s, args.user)
        user.password_hash = generate_password_hash(password)
        user.session_generation = (user.session_generation or 0) + 1
        email = user.email
    print(f"password set for {email}; every session of it was signed out")
    return 0


def user_sign_out_everywhere(args, config, store: Store, env) -> int:
    with store.session() as s:
        user = _find_user(store, s, args.user)
        user.session_generation = (user.session_generation or 0) + 1
        email = user.email
    print(f"every session of {email} was signed out")
    return 0


def _find_user(store: Store, s, address: str) -> User:
    user = store.user_by_email(s, address)
    if user is None:
        raise NotFoundError(f"no user {address.strip().lower()}")
    return user


def user_export(args, config, store: Store, env) -> int:
    with store.session() as s:
        user_id = _find_user(store, s, args.user).id
    data = user_data.export_json(store, user_id, args.clock())
    if not args.output:
        print(data)
        return 0
    try:  # a new file, owner-only: it is personal data
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ValidationError(f"{args.output} exists already: nothing was written") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(data + "\n")
    print(f"exported {args.user.strip().lower()} to {args.output}")
    return 0


def user_delete(args, config, store: Store, env) -> int:
    with store.session() as s:
        user = _find_user(store, s, args.user)
        what = user_data.holdings(s, user.id)
        user_id = user.id
    if (args.confirm or "").strip().lower() != what.email:
        lines = "\n".join(f"  - {line}" for line in what.lines())
        raise ValidationError(
            f"this deletes, for good:\n{lines}\n"
            f"nothing was deleted: repeat the address with --confirm {what.email} to go ahead"
        )
    done = user_data.delete_user(store, config, user_id)
    print(f"deleted {done.email} and everything of theirs")
    if done.revoked:
        print(f"Google revoked Replywatch's access to {', '.join(done.revoked)}")
    if done.not_revoked:
        print(
            f"Google did not confirm the revocation for {', '.join(done.not_revoked)}: "
            "remove Replywatch at myaccount.google.com/permissions"
        )
    return 0


def _new_password(env) -> str:
    value = env.get("REPLYWATCH_NEW_PASSWORD")
    if not value:
        if not sys.stdin.isatty():
            raise ValidationError(
                "no password: set REPLYWATCH_NEW_PASSWORD or run in a terminal to be prompted"
            )
        value = getpass.getpass("New password: ")
        if getpass.getpass("Repeat it: ") != value:
            raise ValidationError("the passwords differ")
    if len(value) < access.MIN_PASSWORD_LENGTH:
        raise ValidationError(f"use at least {access.MIN_PASSWORD_LENGTH} characters")
    return value


SUBCOMMANDS = {
    "list": user_list,
    "set-password": user_set_password,
    "sign-out-everywhere": user_sign_out_everywhere,
    "export": user_export,
    "delete": user_delete,
}

COMMANDS = {"user": cmd_user}
