"""`python -m watcher rule ...`: rules that put follow-ups on new sent mail, and their dry-run.

    rule add --account A --name N [--after 3d] [--stage 1w] [--mode send|remind]
             [--any-recipient] [--questions-only]
             [--exclude-domain D] [--exclude-address X] [--exclude-subject S]
    rule list [--account A] | show ID | edit ID ... | enable ID | disable ID | remove ID
    rule dry-run ID [--days 14]

The dry-run itself (`dry_run()`, what the settings page shows too) is watcher.rule_dry_run; this
module prints it as a table.
"""

from __future__ import annotations

import argparse
from zoneinfo import ZoneInfo

from .. import followups as fu_ops
from .. import rules
from ..errors import ValidationError
from ..models import Rule
from ..rule_dry_run import DryRun, dry_run, rule_account
from ..store import Store
from ..triggers.by_rule import rule_ids

# -- the parser --------------------------------------------------------------------------------


def _conditions(p: argparse.ArgumentParser, *, editing: bool) -> None:
    p.add_argument("--name", required=not editing, help="e.g. 'Cold outreach'")
    p.add_argument("--after", help="first bump: 3d, 1w, 5bd ...; default: your default delay")
    p.add_argument("--stage", action="append", default=[], help="a further bump after that")
    p.add_argument(
        "--mode",
        choices=rules.MODES,
        default=None if editing else "remind",
        help="send the bumps, or only bring the thread back to you (default: remind)",
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--any-recipient",
        dest="external_only",
        action="store_false",
        default=None,
        help="also mail to your own domain, lists and bulk sends (default: external only)",
    )
    if editing:
        who.add_argument("--external-only", dest="external_only", action="store_true")
    ask = p.add_mutually_exclusive_group()
    ask.add_argument(
        "--questions-only",
        dest="question_only",
        action="store_true",
        default=None,
        help="only messages whose text asks something",
    )
    if editing:
        ask.add_argument("--any-text", dest="question_only", action="store_false")
    more = " (replaces the list; '' clears it)" if editing else ""
    p.add_argument("--exclude-domain", action="append", help=f"never for this domain{more}")
    p.add_argument("--exclude-address", action="append", help=f"never for this address{more}")
    p.add_argument(
        "--exclude-subject", action="append", help=f"never when the subject contains it{more}"
    )


def add_parser(sub) -> None:
    """The `rule` subcommand on the CLI's subparsers."""
    rule = sub.add_parser("rule", help="follow-ups set automatically on new sent mail")
    cmds = rule.add_subparsers(dest="rule_cmd", required=True)
    add = cmds.add_parser("add", help="a new rule (applies to mail you send from now on)")
    add.add_argument("--account", required=True, help="account id or e-mail")
    _conditions(add, editing=False)
    ls = cmds.add_parser("list", help="rules and how many follow-ups each created")
    ls.add_argument("--account", help="only this account (id or e-mail)")
    show = cmds.add_parser("show", help="one rule and what it did lately")
    show.add_argument("id", type=int)
    edit = cmds.add_parser("edit", help="change a rule (what was already decided stays)")
    edit.add_argument("id", type=int)
    _conditions(edit, editing=True)
    for name, what in (("enable", "turn on"), ("disable", "turn off"), ("remove", "delete")):
        cmds.add_parser(name, help=f"{what} a rule").add_argument("id", type=int)
    dry = cmds.add_parser(
        "dry-run", help="which of your recent sent messages the rule would follow up"
    )
    dry.add_argument("id", type=int)
    dry.add_argument("--days", type=int, default=14, help="how far back (default 14)")


# -- commands ----------------------------------------------------------------------------------


def cmd_rule(args, config, store: Store, env) -> int:
    return SUBCOMMANDS[args.rule_cmd](args, config, store)


def _delays(args, default: str) -> list[str]:
    return [args.after or default, *args.stage]


def rule_add(args, config, store: Store) -> int:
    now = args.clock()
    with store.session() as s:
        account = store.find_account(s, args.account)
        fields = rules.validate_fields(
            name=args.name,
            mode=args.mode,
            delays=_delays(args, account.user.default_delay),
            exclude_domains=args.exclude_domain,
            exclude_addresses=args.exclude_address,
            exclude_subjects=args.exclude_subject,
        )
        rule = store.add_rule(
            s,
            account,
            fields,
            external_only=args.external_only is not False,
            question_only=bool(args.question_only),
            now=now,
        )
        print(describe(rule, account.email))
        print(
            "  applies to mail you send from now on; try it: python -m watcher rule dry-run",
            rule.id,
        )
    return 0


def rule_edit(args, config, store: Store) -> int:
    with store.session() as s:
        rule = store.get_rule(s, args.id)
        account = rule_account(s, rule)
        if args.stage and not args.after:
            raise ValidationError("give --after with --stage: together they replace the delays")
        delays = [args.after, *args.stage] if args.after else rule.delays
        fields = rules.validate_fields(
            name=args.name if args.name is not None else rule.name,
            mode=args.mode or rule.mode,
            delays=delays,
            exclude_domains=_given(args.exclude_domain, rule.exclude_domains),
            exclude_addresses=_given(args.exclude_address, rule.exclude_addresses),
            exclude_subjects=_given(args.exclude_subject, rule.exclude_subjects),
        )
        rule.name, rule.mode, rule.delays = fields.name, fields.mode, fields.delays
        rule.exclude_domains = fields.exclude_domains
        rule.exclude_addresses = fields.exclude_addresses
        rule.exclude_subjects = fields.exclude_subjects
        if args.external_only is not None:
            rule.external_only = args.external_only
        if args.question_only is not None:
            rule.question_only = args.question_only
        rule.updated_at = args.clock()
        print(describe(rule, account.email))
    return 0


def _given(values: list[str] | None, current: list) -> list[str]:
    return list(current or []) if values is None else values


def rule_switch(args, config, store: Store) -> int:
    with store.session() as s:
        rule = store.get_rule(s, args.id)
        rule.enabled = args.rule_cmd == "enable"
        rule.updated_at = args.clock()
        state = "on" if rule.enabled else "off (new mail is not looked at until it is on again)"
        print(f"{rules.RuleSpec.of(rule).describe()} is {state}")
    return 0


def rule_remove(args, config, store: Store) -> int:
    with store.session() as s:
        rule = store.get_rule(s, args.id)
        what = rules.RuleSpec.of(rule).describe()
        s.delete(rule)
        print(f"removed {what}; the follow-ups it created go on")
    return 0


def rule_list(args, config, store: Store) -> int:
    with store.session() as s:
        account_id = store.find_account(s, args.account).id if args.account else None
        found = store.list_rules(s, account_id=account_id)
        if not found:
            print("no rules yet: python -m watcher rule add --help")
            return 0
        counts = store.rule_followup_counts(s, [r.id for r in found])
        for r in found:
            account = rule_account(s, r)
            n = counts.get(r.id, 0)
            print(
                f"{r.id:>4}  {'on ' if r.enabled else 'off'}  {r.name!r} on {account.email}: "
                f"{_what(r)}; {rules.describe_conditions(rules.RuleSpec.of(r))}  "
                f"[{n} follow-up{'s' if n != 1 else ''} created]"
            )
    return 0


def rule_show(args, config, store: Store) -> int:
    with store.session() as s:
        rule = store.get_rule(s, args.id)
        account = rule_account(s, rule)
        tz = account.user.timezone
        print(describe(rule, account.email))
        print(f"  state     {'on' if rule.enabled else 'off'}")
        print(f"  created   {fu_ops.format_local(rule.created_at, tz)} (applies to mail after it)")
        n = store.rule_followup_counts(s, [rule.id]).get(rule.id, 0)
        print(f"  follow-ups {n} created by it")
        items = [i for i in store.rule_items(s, account.id) if rule.id in rule_ids(i.spec)]
        if items:
            print("  lately")
        for item in items[:10]:
            subject = (item.summary or {}).get("subject", "")
            when = fu_ops.format_local(item.created_at, tz)
            print(f"    {when}  {item.state:<8} {subject!r}: {item.outcome}")
    return 0


def _what(rule: Rule) -> str:
    what = "send bumps" if rule.mode == "send" else "remind you"
    return f"{what} after {', then '.join(rule.delays or [])}"


def describe(rule: Rule, email: str) -> str:
    spec = rules.RuleSpec.of(rule)
    return (
        f"rule {rule.id} {rule.name!r} on {email}: {_what(rule)} if nobody replies; "
        f"{rules.describe_conditions(spec)}"
    )


# -- the dry-run as a table ---------------------------------------------------------------------


def _cell(text: str, width: int) -> str:
    text = " ".join((text or "").split())
    return (text if len(text) <= width else text[: width - 1] + "…").ljust(width)


def format_dry_run(result: DryRun) -> str:
    zone = ZoneInfo(result.timezone)
    since = result.since.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"{result.rule.describe()} on {result.email}: {rules.describe_conditions(result.rule)}",
        f"dry run over mail sent since {since} ({result.timezone}); nothing is created",
    ]
    if not result.rows:
        lines.append("no sent messages in that time")
        return "\n".join(lines)
    lines.append(f"{'date':<16}  {'to':<28}  {'subject':<28}  {'follow up?':<10}  why")
    for row in result.rows:
        when = row.date.astimezone(zone).strftime("%Y-%m-%d %H:%M") if row.date else "-"
        lines.append(
            f"{when:<16}  {_cell(row.to, 28)}  {_cell(row.subject, 28)}  "
            f"{'yes' if row.would else 'no':<10}  {row.why}"
        )
    lines.append(f"{result.matches} of {len(result.rows)} would get a follow-up")
    return "\n".join(lines)


def rule_dry_run(args, config, store: Store) -> int:
    result = dry_run(store, config, args.id, days=args.days, now=args.clock())
    print(format_dry_run(result))
    return 0


SUBCOMMANDS = {
    "add": rule_add,
    "list": rule_list,
    "show": rule_show,
    "edit": rule_edit,
    "enable": rule_switch,
    "disable": rule_switch,
    "remove": rule_remove,
    "dry-run": rule_dry_run,
}

COMMANDS = {"rule": cmd_rule}
