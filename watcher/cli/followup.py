"""`python -m watcher followup add | list | show | cancel | unconfirmed | snooze`."""

from __future__ import annotations

from .. import followups as fu_ops
from .. import schedule
from ..compose import render_text
from ..config import Config
from ..errors import ValidationError
from ..mailbox import open_mailbox
from ..models import Account, FollowUpState, Mode, User
from ..store import Store
from . import words


def add_parser(sub) -> None:
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


def cmd_followup(args, config: Config, store: Store, env) -> int:
    return SUBCOMMANDS[args.followup_cmd](args, config, store, env)


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
        times = words.bump_times(store, s, followup, account.user)
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
            if words.unconfirmed_stage(f) is not None:
                print(f"      unconfirmed: {words.unconfirmed_hint(f)}")
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
        hint = words.unconfirmed_hint(f)
        if hint:
            print(f"  to do     {hint}")
        active = f.state == FollowUpState.ACTIVE
        print(f"  next      {fu_ops.format_local(f.due_at, tz) if active else '- (ended)'}")
        for st in f.stages:
            when = st.delay or fu_ops.format_local(st.at, tz)
            extra = f" as {st.message_id}" if st.message_id else ""
            print(f"  stage {st.position}   {when:<8} {words.stage_word(f, st.state)}{extra}")
        print("  history")
        for ev in store.events_for(s, f.id):
            kind, detail = words.event_words(ev.kind, ev.detail)
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


SUBCOMMANDS = {
    "add": followup_add,
    "list": followup_list,
    "show": followup_show,
    "cancel": followup_cancel,
    "unconfirmed": followup_unconfirmed,
    "snooze": followup_snooze,
}

COMMANDS = {"followup": cmd_followup}
