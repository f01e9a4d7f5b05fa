"""`python -m watcher recipient list | zone`: where your correspondents live."""

from __future__ import annotations

from .. import followups as fu_ops
from .. import schedule
from ..config import Config
from ..errors import ValidationError
from ..recipient_zone import holiday_country_of
from ..store import Store


def add_parser(sub) -> None:
    rc = sub.add_parser("recipient", help="where your correspondents live").add_subparsers(
        dest="recipient_cmd", required=True
    )
    rl = rc.add_parser("list", help="each correspondent's zone, where it came from and its age")
    rl.add_argument("--account", required=True, help="account id or e-mail")
    rz = rc.add_parser("zone", help="set (or with 'auto', forget) a correspondent's zone")
    rz.add_argument("--account", required=True, help="account id or e-mail")
    rz.add_argument("--address", required=True)
    rz.add_argument("--zone", required=True, help="an IANA zone like Europe/Berlin, or auto")


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


COMMANDS = {"recipient": cmd_recipient}
