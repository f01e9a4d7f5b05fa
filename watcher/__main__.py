"""Command line (the watcher's composition root).

    python -m watcher run | once
    python -m watcher db upgrade | rotate-keys | backup PATH | restore PATH
    python -m watcher account add-imap | add-gmail | list | check | remove | triggers | send-cap
    python -m watcher defaults --user EMAIL [--timezone ...]
    python -m watcher followup add | list | show | cancel | unconfirmed | snooze
    python -m watcher recipient list | zone
    python -m watcher rule add | list | show | edit | enable | disable | remove | dry-run
    python -m watcher stats [--user EMAIL] [--account ID] [--json]
    python -m watcher user list | set-password | sign-out-everywhere

Passwords come from a prompt or from REPLYWATCH_IMAP_PASSWORD / REPLYWATCH_SMTP_PASSWORD, and a
Google refresh token from a prompt or REPLYWATCH_GMAIL_REFRESH_TOKEN, never from argv (argv is
visible to every user of the machine).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime, timedelta

from . import backup, cli_words, metrics, schedule, send_caps, stats
from . import followups as fu_ops
from .classify import OOO_POLICIES, REPLIER_POLICIES
from .compose import render_text
from .config import Config
from .engine import Engine
from .errors import PermanentError, ReplywatchError, ValidationError
from .evidence import evidence_for
from .later.commands import add_parser as add_later_parser  # send later
from .later.commands import cmd_later
from .mailbox import AccountSpec, open_mailbox
from .models import Account, FollowUpState, Mode, User
from .recipient_zone import holiday_country_of
from .rule_commands import add_parser as add_rule_parser
from .rule_commands import cmd_rule
from .store import Store
from .user_commands import add_parser as add_user_parser
from .user_commands import cmd_user

DEFAULT_PORTS = {
    "imap": {"ssl": 993, "starttls": 143, "none": 143},
    "smtp": {"ssl": 465, "starttls": 587, "none": 25},
}


def now_utc() -> datetime:
    return datetime.now(UTC)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m watcher", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("run", help="watch every account until stopped (SIGTERM/Ctrl-C)")
    sub.add_parser(
        "once",
        help="one pass over every account, then exit (for cron and tests)",
        description="Check every account that is due once: read new mail, stop follow-ups "
        "that got a reply, send the bumps that are due, then exit. An account another "
        "watcher holds (or one waiting after a fault) is named with the time it frees up.",
    )

    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="apply migrations")
    db.add_parser("rotate-keys", help="re-encrypt stored secrets with the newest key")
    bk = db.add_parser("backup", help="copy the SQLite database to a new file (safe while running)")
    bk.add_argument("path", help="the new backup file")
    rs = db.add_parser(
        "restore", help="replace the SQLite database with a backup (stop the watchers first)"
    )
    rs.add_argument("path", help="a file made by `db backup`")

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

    de = sub.add_parser("defaults", help="a user's defaults: zone, sending window, template")
    de.add_argument("--user", required=True)
    de.add_argument("--timezone")
    de.add_argument("--days", help="sending days, e.g. mon-fri")
    de.add_argument("--hours", help="sending hours, e.g. 09:00-17:00")
    de.add_argument("--holidays", help="country code whose public holidays are skipped, e.g. DE")
    de.add_argument("--delay", help="default delay, e.g. 1w")
    de.add_argument("--template", help="default bump text; {first_name} and {subject} work")
    de.add_argument("--own-message", choices=fu_ops.OWN_MESSAGE_POLICIES)
    de.add_argument(
        "--ooo",
        choices=OOO_POLICIES,
        help="out-of-office: pause until the return date (default), ignore, or treat as a reply",
    )
    de.add_argument("--policy", choices=REPLIER_POLICIES, help="who counts as a replier")
    de.add_argument(
        "--window",
        choices=fu_ops.WINDOW_MODES,
        help="whose hours bumps keep: mine (your window) or recipient (your window and "
        "Mon-Fri 09:00-17:00 where the recipient lives)",
    )

    rc = sub.add_parser("recipient", help="where your correspondents live").add_subparsers(
        dest="recipient_cmd", required=True
    )
    rl = rc.add_parser("list", help="each correspondent's zone, where it came from and its age")
    rl.add_argument("--account", required=True, help="account id or e-mail")
    rz = rc.add_parser("zone", help="set (or with 'auto', forget) a correspondent's zone")
    rz.add_argument("--account", required=True, help="account id or e-mail")
    rz.add_argument("--address", required=True)
    rz.add_argument("--zone", required=True, help="an IANA zone like Europe/Berlin, or auto")

    fu = sub.add_parser("followup", help="follow-ups").add_subparsers(
        dest="followup_cmd", required=True
    )
    fadd = fu.add_parser("add", help="follow up on a message you sent, if nobody replies")
    fadd.add_argument("--account", required=True, help="account id or e-mail")
    fadd.add_argument("--message-id", required=True, help="Message-ID of your sent message")
    fadd.add_argument("--after", help="first bump: 3d, 1w, 2w, 5bd or a date; default: yours")
    fadd.add_argument("--stage", action="append", default=[], help="a further bump after that")
    fadd.add_argument("--remind-only", action="store_true", help="bring it back to you instead")
    fadd.add_argument("--text", action="append", default=[], help="bump text (once, or per stage)")
    fadd.add_argument("--policy", choices=["anyone", "recipients", "domain"])
    fl = fu.add_parser("list", help="your follow-ups")
    fl.add_argument("--state", action="append", choices=[s.value for s in FollowUpState])
    fs = fu.add_parser("show", help="one follow-up with its history")
    fs.add_argument("id", type=int)
    fc = fu.add_parser("cancel", help="stop a follow-up")
    fc.add_argument("id", type=int)
    fu_unsure = fu.add_parser(
        "unconfirmed", help="your word on a bump whose hand-over broke off (shown unconfirmed)"
    )
    fu_unsure.add_argument("id", type=int)
    word = fu_unsure.add_mutually_exclusive_group(required=True)
    word.add_argument("--went-out", action="store_true", help="it arrived: record it as sent")
    word.add_argument("--resend", action="store_true", help="it did not arrive: send it again")
    fz = fu.add_parser("snooze", help="move the next bump later")
    fz.add_argument("id", type=int)
    fz.add_argument("--until", required=True, help="a date (2026-12-01 09:00) or a delay (3d)")

    st = sub.add_parser("stats", help="results: replies before/after each bump, time to reply")
    st.add_argument("--user", help="only this user (e-mail); default: every user in turn")
    st.add_argument("--account", help="only this account (id or e-mail)")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    add_rule_parser(sub)
    add_user_parser(sub)
    add_later_parser(sub)  # send later: watcher/later/commands.py
    return p


def main(argv: list[str] | None = None, environ=None, clock=None) -> int:
    """`clock` is the injected "now" (tests fix it); every command reads time through
    `args.clock`, never the wall clock directly."""
    args = build_parser().parse_args(argv)
    args.clock = clock or now_utc
    env = os.environ if environ is None else environ
    logging.basicConfig(
        level=logging.INFO if args.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        config = Config.from_env(env)
        store = Store.from_config(config)
        store.migrate()
        return COMMANDS[args.command](args, config, store, env)
    except ReplywatchError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


# -- run ---------------------------------------------------------------------------------------


def cmd_run(args, config: Config, store: Store, env) -> int:
    engine = Engine(store, config, clock=args.clock)
    signal.signal(signal.SIGTERM, lambda *_: engine.stop())
    signal.signal(signal.SIGINT, lambda *_: engine.stop())
    if config.metrics_port:
        server = metrics.serve(
            store, config.metrics_host, config.metrics_port, config.metrics_token
        )
        where = f"http://{config.metrics_host}:{server.server_port}/metrics"
        guard = "bearer token" if config.metrics_token else "local clients only"
        print(f"metrics: {where} ({guard})", flush=True)
    print(
        f"watching every account every {config.poll_interval:g}s; "
        f"data: {config.redacted_database_url}",
        flush=True,
    )
    engine.run_forever()  # the metrics server's daemon thread ends with the process
    return 0


def cmd_once(args, config: Config, store: Store, env) -> int:
    engine = Engine(store, config, clock=args.clock)
    report = engine.run_pass()
    print(report)
    for fault in report.faults:
        print(f"  fault: {fault}")
    for line in cli_words.unchecked_accounts(store, args.clock(), engine.owner, report.served):
        print(f"  not checked: {line}")
    return 0


def cmd_db(args, config: Config, store: Store, env) -> int:
    if args.db == "upgrade":
        print("database is at the newest revision")
        return 0
    if args.db == "backup":
        revision = backup.backup(store, args.path)
        print(f"backed up to {args.path} (schema revision {revision})")
        return 0
    if args.db == "restore":
        was, now = backup.restore(store, args.path)
        upgraded = f", upgraded to {now}" if was != now else ""
        print(f"restored {args.path} (schema revision {was}{upgraded})")
        return 0
    with store.session() as s:
        count = 0
        for account in store.list_accounts(s):
            if account.secret:
                account.secret = store.box.rotate(account.secret)
                count += 1
    print(f"re-encrypted {count} stored secret(s) with the newest key")
    return 0


# -- accounts ----------------------------------------------------------------------------------


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
    return ACCOUNT_COMMANDS[args.account_cmd](args, config, store, env)


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


ACCOUNT_COMMANDS = {
    "add-imap": account_add_imap,
    "add-gmail": account_add_gmail,
    "list": account_list,
    "check": account_check,
    "remove": account_remove,
    "triggers": account_triggers,
    "send-cap": account_send_cap,
}


def cmd_defaults(args, config: Config, store: Store, env) -> int:
    with store.session() as s:
        user = store.get_or_create_user(s, args.user)
        tz = args.timezone or user.timezone
        days = args.days or user.send_days
        hours = args.hours or user.send_hours
        window = schedule.SendingWindow.parse(tz, days, hours)  # validates all three
        user.timezone, user.send_days, user.send_hours = tz, days, hours
        if args.holidays is not None:
            user.holiday_country = args.holidays.upper() or None
        if args.delay:
            user.default_delay = str(schedule.parse_delay(args.delay))
        if args.template is not None:
            render_text(args.template, first_name="Bob", subject="test")  # validates
            user.bump_template = args.template
        if args.own_message:
            user.own_message_policy = args.own_message
        if args.ooo:
            user.ooo_policy = args.ooo
        if args.policy:
            user.replier_policy = args.policy
        if args.window:
            user.window_mode = args.window
        mode = " and the recipient's working hours" if user.window_mode == "recipient" else ""
        print(f"{user.email}: window {window.describe()}{mode}, default delay {user.default_delay}")
    return 0


# -- follow-ups --------------------------------------------------------------------------------


def cmd_followup(args, config: Config, store: Store, env) -> int:
    return FOLLOWUP_COMMANDS[args.followup_cmd](args, config, store, env)


def _normalize_message_id(raw: str) -> str:
    raw = raw.strip()
    if not raw:
        raise ValidationError("an empty Message-ID was given")
    return raw if raw.startswith("<") else f"<{raw}>"


def followup_add(args, config: Config, store: Store, env) -> int:
    message_id = _normalize_message_id(args.message_id)
    now = args.clock()
    with store.session() as s:
        account = store.find_account(s, args.account)
        user = account.user
        after = args.after or user.default_delay
        texts = args.text
        delays = [after, *args.stage]
        if len(texts) not in (0, 1, len(delays)):
            raise ValidationError(f"give --text once, or once per bump ({len(delays)})")
        stages = []
        for i, delay in enumerate(delays):
            spec = fu_ops.parse_stage(delay, now, user.timezone)
            text = texts[i] if len(texts) == len(delays) else (texts[0] if texts else None)
            if text is not None:
                render_text(text, first_name="Bob", subject="test")  # validate placeholders
            stages.append(fu_ops.StageSpec(delay=spec.delay, at=spec.at, text=text))
        spec = store.account_spec(account)
        account_id = account.id
    with open_mailbox(spec, config) as mailbox:
        anchor = mailbox.find_message(message_id)
    if anchor is None:
        raise ValidationError(
            f"no message {message_id} in the Sent folder or inbox of {spec.email}"
        )
    with store.session() as s:
        account = s.get(Account, account_id)
        followup = fu_ops.create_followup(
            store,
            s,
            account=account,
            anchor=anchor,
            stages=stages,
            mode=Mode.REMIND if args.remind_only else Mode.SEND,
            replier_policy=args.policy,
            now=now,
            jitter_minutes=config.send_jitter_minutes,
        )
        tz = account.user.timezone
        times = cli_words.bump_times(store, s, followup, account.user)
        what = "remind you" if args.remind_only else "bump"
        print(
            f"follow-up {followup.id}: will {what} at {fu_ops.format_local(times[0], tz)} "
            "unless someone replies"
        )
        noun = "reminder" if args.remind_only else "bump"
        for position, when in enumerate(times[1:], start=2):
            print(f"  {noun} {position} at {fu_ops.format_local(when, tz)} if still no reply")
    return 0


def followup_list(args, config: Config, store: Store, env) -> int:
    with store.session() as s:
        items = store.list_followups(s, states=args.state)
        if not items:
            print("no follow-ups")
        for f in items:
            tz = s.get(User, f.user_id).timezone
            to = ", ".join(f.to_addrs) or "-"
            active = f.state == FollowUpState.ACTIVE
            nxt = fu_ops.format_local(f.due_at, tz) if active else "-"
            print(
                f"{f.id:>4}  {f.state:<10} next {nxt:<26} "
                f"stage {f.current_stage}/{len(f.stages)}  {to}  {f.subject!r}"
                + (f"  [{f.origin}]" if f.origin else "")
            )
            if cli_words.unconfirmed_stage(f) is not None:
                print(f"      unconfirmed: {cli_words.unconfirmed_hint(f)}")
    return 0


def followup_show(args, config: Config, store: Store, env) -> int:
    with store.session() as s:
        f = store.get_followup(s, args.id)
        tz = s.get(User, f.user_id).timezone
        print(f"follow-up {f.id} on {f.anchor_message_id}")
        print(f"  account   {f.account.email}")
        print(f"  subject   {f.subject}")
        print(
            f"  to        {', '.join(f.to_addrs)}"
            + (f"  cc {', '.join(f.cc_addrs)}" if f.cc_addrs else "")
        )
        print(f"  mode      {f.mode}   policy {f.replier_policy}")
        print(f"  set by    {f.origin or 'you, by hand'}")
        print(f"  state     {f.state}" + (f" ({f.stop_reason})" if f.stop_reason else ""))
        hint = cli_words.unconfirmed_hint(f)
        if hint:
            print(f"  to do     {hint}")
        active = f.state == FollowUpState.ACTIVE
        print(f"  next      {fu_ops.format_local(f.due_at, tz) if active else '- (ended)'}")
        for st in f.stages:
            when = st.delay or fu_ops.format_local(st.at, tz)
            extra = f" as {st.message_id}" if st.message_id else ""
            print(f"  stage {st.position}   {when:<8} {cli_words.stage_word(f, st.state)}{extra}")
        print("  history")
        for ev in store.events_for(s, f.id):
            kind, detail = cli_words.event_words(ev.kind, ev.detail)
            print(f"    {fu_ops.format_local(ev.at, tz)}  {kind:<13} {detail}")
    return 0


def followup_cancel(args, config: Config, store: Store, env) -> int:
    with store.session() as s:
        f = store.get_followup(s, args.id)
        fu_ops.cancel_followup(store, s, f, args.clock())
        print(f"follow-up {f.id} cancelled")
    return 0


def followup_unconfirmed(args, config: Config, store: Store, env) -> int:
    with store.session() as s:
        f = store.get_followup(s, args.id)
        stage = fu_ops.settle_unconfirmed(store, s, f, went_out=args.went_out, now=args.clock())
        if args.went_out:
            print(f"follow-up {f.id}: bump {stage.position} recorded as sent")
        else:
            when = fu_ops.format_local(f.due_at, s.get(User, f.user_id).timezone)
            print(f"follow-up {f.id}: bump {stage.position} goes out again {when}")
    return 0


def followup_snooze(args, config: Config, store: Store, env) -> int:
    now = args.clock()
    with store.session() as s:
        f = store.get_followup(s, args.id)
        tz = s.get(User, f.user_id).timezone
        until = schedule.parse_when(args.until, now, tz)
        fu_ops.snooze_followup(store, s, f, until, now, tz)
        print(f"follow-up {f.id} snoozed until {fu_ops.format_local(until, tz)}")
    return 0


# -- recipients --------------------------------------------------------------------------------


def cmd_recipient(args, config: Config, store: Store, env) -> int:
    now = args.clock()
    with store.session() as s:
        account = store.find_account(s, args.account)
        user = account.user
        if args.recipient_cmd == "zone":
            address = args.address.strip().lower()
            if "@" not in address:
                raise ValidationError(f"{args.address!r} is not an e-mail address")
            zone = None if args.zone.strip().lower() == "auto" else args.zone.strip()
            if zone is not None:
                schedule.working_hours(zone)  # validates the name
            row = store.set_recipient_zone(s, user.id, address, zone, now)
            shown = row.zone or f"unknown (your zone, {user.timezone}, is used)"
            print(f"{address}: {shown} ({row.source}){_holidays_of(row.zone)}")
            return 0
        rows = store.recipient_zones(s, user.id)
        if not rows:
            print("no correspondents known yet")
        for row in rows:
            zone = row.zone or f"unknown (uses {user.timezone})"
            age = fu_ops.format_local(row.updated_at, user.timezone)
            print(f"{row.address}  {zone}  ({row.source}; updated {age}){_holidays_of(row.zone)}")
    return 0


def _holidays_of(zone: str | None) -> str:
    """E.g. ", holidays US": whose public holidays business days skip for them too."""
    country = holiday_country_of(zone)
    return f", holidays {country}" if country else ""


def cmd_stats(args, config: Config, store: Store, env) -> int:
    print(stats.run_cli(store, user=args.user, account=args.account, as_json=args.json))
    return 0


FOLLOWUP_COMMANDS = {
    "add": followup_add,
    "list": followup_list,
    "show": followup_show,
    "cancel": followup_cancel,
    "unconfirmed": followup_unconfirmed,
    "snooze": followup_snooze,
}

COMMANDS = {
    "run": cmd_run,
    "once": cmd_once,
    "db": cmd_db,
    "account": cmd_account,
    "defaults": cmd_defaults,
    "followup": cmd_followup,
    "recipient": cmd_recipient,
    "rule": cmd_rule,
    "stats": cmd_stats,
    "user": cmd_user,
    "later": cmd_later,  # send later: watcher/later/commands.py
}


if __name__ == "__main__":
    sys.exit(main())
