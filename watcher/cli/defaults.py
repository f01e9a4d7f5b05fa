"""`python -m watcher defaults --user EMAIL [--timezone ...]`: a user's zone, window, template."""

from __future__ import annotations

from .. import followups as fu_ops
from .. import schedule
from ..classify import OOO_POLICIES, REPLIER_POLICIES
from ..compose import render_text
from ..config import Config
from ..store import Store


def add_parser(sub) -> None:
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


COMMANDS = {"defaults": cmd_defaults}
