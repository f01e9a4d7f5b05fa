"""`python -m watcher account add-imap | add-gmail | list | check | remove | triggers | send-cap`.

Passwords come from a prompt or from REPLYWATCH_IMAP_PASSWORD / REPLYWATCH_SMTP_PASSWORD, and a
Google refresh token from a prompt or REPLYWATCH_GMAIL_REFRESH_TOKEN, never from argv (argv is
visible to every user of the machine).
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import timedelta

from .. import schedule, send_caps
from ..config import Config
from ..errors import PermanentError, ReplywatchError, ValidationError
from ..evidence import evidence_for
from ..imap.constants import DEFAULT_PORTS
from ..mailbox import AccountSpec, open_mailbox
from ..store import Store


def add_parser(sub) -> None:
    acc = sub.add_parser("account", help="mail accounts").add_subparsers(
        dest="account_cmd", required=True
    )
    add = acc.add_parser("add-imap", help="connect an IMAP/SMTP mailbox (tested before saving)")
    add.add_argument("--email", required=True)
    add.add_argument("--name", default="", help="display name used on bumps")
    add.add_argument("--user", help="owner (Replywatch user e-mail); default: --email")
    add.add_argument("--imap-host", required=True)
    add.add_argument("--imap-port", type=int)
    add.add_argument("--imap-security", choices=["ssl", "starttls", "none"], default="ssl")
    add.add_argument("--imap-user", help="IMAP login; default: --email")
    add.add_argument("--smtp-host", required=True)
    add.add_argument("--smtp-port", type=int)
    add.add_argument("--smtp-security", choices=["ssl", "starttls", "none"], default="starttls")
    add.add_argument("--smtp-user", help="SMTP login; default: the IMAP login")
    add.add_argument("--save-sent", choices=["auto", "always", "never"], default="auto")
    add.add_argument(
        "--send-evidence",
        choices=["receipt", "sent", "none"],
        help="what shows whether a bump cut off mid-send went out: receipt (a copy to "
        "you+rw-receipt@, envelope only; the server must deliver plus-addresses), sent (the "
        "server files what it sends in Sent, like Gmail) or none (you are asked); default: "
        "the provider's, by SMTP host, else none",
    )
    add.add_argument("--alias", action="append", default=[], help="another address of yours")
    add.add_argument("--timezone", help="IANA zone for sending windows, e.g. Europe/Berlin")
    gm = acc.add_parser(
        "add-gmail",
        help="connect a Google account through the Gmail API (refresh token from "
        "REPLYWATCH_GMAIL_REFRESH_TOKEN or a prompt; checked before saving)",
    )
    gm.add_argument("--email", required=True)
    gm.add_argument("--name", default="", help="display name used on bumps")
    gm.add_argument("--user", help="owner (Replywatch user e-mail); default: --email")
    gm.add_argument("--alias", action="append", default=[], help="another address of yours")
    gm.add_argument("--timezone", help="IANA zone for sending windows, e.g. Europe/Berlin")
    acc.add_parser("list", help="accounts and their status")
    chk = acc.add_parser("check", help="log in again now and clear 'needs attention' if it works")
    chk.add_argument("account")
    rm = acc.add_parser("remove", help="disconnect: delete the stored password, stop watching")
    rm.add_argument("account")
    tr = acc.add_parser(
        "triggers",
        help="follow-ups by folder/label: on creates Replywatch/3 days, 1 week, 2 weeks, Bumps",
    )
    tr.add_argument("account")
    tr.add_argument("switch", choices=["on", "off"])
    cap = acc.add_parser(
        "send-cap",
        help="the most mail Replywatch sends from an account per day (your zone); past it, "
        "bumps wait for the next day",
    )
    cap.add_argument("account")
    cap.add_argument("cap", help="a number, or 'default' for the provider's default")


def _password(env, name: str, prompt: str) -> str:
    value = env.get(name)
    if value:
        return value
    if not sys.stdin.isatty():
        raise ValidationError(f"no password: set {name} or run in a terminal to be prompted")
    value = getpass.getpass(prompt)
    if not value:
        raise ValidationError("an empty password was given")
    return value


def cmd_account(args, config: Config, store: Store, env) -> int:
    return SUBCOMMANDS[args.account_cmd](args, config, store, env)


def account_add_imap(args, config: Config, store: Store, env) -> int:
    email = _validated_email(args)
    imap_user = args.imap_user or email
    imap_password = _password(env, "REPLYWATCH_IMAP_PASSWORD", f"IMAP password for {imap_user}: ")
    smtp_password = env.get("REPLYWATCH_SMTP_PASSWORD") or imap_password
    settings = {
        "imap_host": args.imap_host,
        "imap_port": args.imap_port or DEFAULT_PORTS["imap"][args.imap_security],
        "imap_security": args.imap_security,
        "imap_username": imap_user,
        "smtp_host": args.smtp_host,
        "smtp_port": args.smtp_port or DEFAULT_PORTS["smtp"][args.smtp_security],
        "smtp_security": args.smtp_security,
        "smtp_username": args.smtp_user or imap_user,
        "save_sent": args.save_sent,
    }
    settings["send_evidence"] = args.send_evidence or evidence_for(settings)
    secret = json.dumps({"imap_password": imap_password, "smtp_password": smtp_password})
    spec = AccountSpec(
        kind="imap", email=email, settings=settings, secret=secret, aliases=tuple(args.alias)
    )
    return _check_and_save(args, config, store, spec, "IMAP and SMTP login checked")


def _validated_email(args) -> str:
    """The account address, and the time zone checked, before any network I/O."""
    email = args.email.strip().lower()
    if "@" not in email:
        raise ValidationError(f"{args.email!r} is not an e-mail address")
    if args.timezone:
        schedule.SendingWindow.parse(args.timezone)
    return email


def _check_and_save(args, config: Config, store: Store, spec: AccountSpec, checked: str) -> int:
    """Log in first, save second: a typo or a revoked token must not leave a broken account."""
    with open_mailbox(spec, config) as mailbox:
        mailbox.check()
    with store.session() as s:
        user = store.get_or_create_user(s, args.user or spec.email)
        if args.timezone:
            user.timezone = args.timezone
        account = store.add_account(
            s,
            user,
            kind=spec.kind,
            email=spec.email,
            settings=dict(spec.settings),
            secret=spec.secret,
            display_name=args.name,
            aliases=args.alias,
            now=args.clock(),
        )
        print(f"connected {spec.email} as account {account.id} ({checked})")
    return 0


def account_add_gmail(args, config: Config, store: Store, env) -> int:
    email = _validated_email(args)
    token = _password(
        env, "REPLYWATCH_GMAIL_REFRESH_TOKEN", f"Google refresh token for {email}: "
    ).strip()
    secret = json.dumps({"refresh_token": token})
    spec = AccountSpec(
        kind="gmail", email=email, settings={}, secret=secret, aliases=tuple(args.alias)
    )
    return _check_and_save(args, config, store, spec, "Gmail API access checked")


def account_list(args, config: Config, store: Store, env) -> int:
    with store.session() as s:
        accounts = store.list_accounts(s)
        if not accounts:
            print("no accounts yet: python -m watcher account add-imap --help")
        for a in accounts:
            last = a.last_ok_at.strftime("%Y-%m-%d %H:%M UTC") if a.last_ok_at else "never"
            line = f"{a.id:>4}  {a.email:<32} {a.kind:<6} {a.status:<16} last ok {last}"
            line += f"  sent {send_caps.status(s, a, args.clock()).describe()}"
            if a.status_reason:
                line += f"  ({a.status_reason})"
            print(line)
    return 0


def account_check(args, config: Config, store: Store, env) -> int:
    with store.session() as s:
        account = store.find_account(s, args.account)
        spec = store.account_spec(account)
        account_id = account.id
    try:
        with open_mailbox(spec, config) as mailbox:
            mailbox.check()
    except ReplywatchError as e:
        store.mark_account_failed(
            account_id,
            e.message,
            permanent=isinstance(e, PermanentError),
            now=args.clock(),
            backoff=timedelta(seconds=config.account_backoff_seconds),
        )
        raise
    store.mark_account_ok(account_id, args.clock())
    works = "Gmail API access works" if spec.kind == "gmail" else "IMAP and SMTP login work"
    print(f"{spec.email}: {works}")
    return 0


def account_remove(args, config: Config, store: Store, env) -> int:
    with store.session() as s:
        account = store.find_account(s, args.account)
        store.disable_account(s, account, args.clock())
        print(f"disconnected {account.email}; its password was deleted, history kept")
    return 0


def account_triggers(args, config: Config, store: Store, env) -> int:
    """Opt in (or out) of the folder/label triggers; the watcher creates the folders."""
    on = args.switch == "on"
    with store.session() as s:
        account = store.find_account(s, args.account)
        store.set_trigger_folders(s, account, on, args.clock())
        if on:
            print(
                f"{account.email}: folder triggers on; the watcher creates Replywatch/3 days, "
                "Replywatch/1 week, Replywatch/2 weeks and Replywatch/Bumps on its next check"
            )
        else:
            print(f"{account.email}: folder triggers off (plus-addresses still work)")
    return 0


def account_send_cap(args, config: Config, store: Store, env) -> int:
    """Override (or with 'default', forget) the account's daily send cap."""
    value = send_caps.parse_cap(args.cap)
    with store.session() as s:
        account = store.find_account(s, args.account)
        account.daily_send_cap = value
        s.flush()
        cap = send_caps.status(s, account, args.clock())
        source = "your setting" if cap.overridden else f"the default for {cap.provider.name}"
        print(
            f"{account.email}: at most {cap.cap} a day ({source}); sent {cap.describe()}; "
            "bumps past it wait for the next day's sending window"
        )
    return 0


SUBCOMMANDS = {
    "add-imap": account_add_imap,
    "add-gmail": account_add_gmail,
    "list": account_list,
    "check": account_check,
    "remove": account_remove,
    "triggers": account_triggers,
    "send-cap": account_send_cap,
}

COMMANDS = {"account": cmd_account}
