"""Judging a thread: new mail (changes) and re-read threads are classified, and each verdict
changes the follow-up's state and writes an Event (see the package docstring).

Mixed into Engine (watcher.engine.core); uses its store, config, clock, _retry and the
stage records (watcher.engine.stages).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from .. import followups as fu_ops
from .. import handover, judge_text, metrics, triggers
from ..classify import (
    ClassifyContext,
    Verdict,
    classify,
    delivery_report,
    is_absence_notice,
    replier_allowed,
)
from ..compose import bump_message_id
from ..mailbox import BUMPS_FOLDER, Mailbox, MessageSummary, ThreadKey
from ..models import FollowUp, FollowUpState, Mode, StageState, User
from ..ooo import return_date
from ..rules import sent_by_replywatch
from ..schedule import next_in_window
from ..store import StaleCursor
from .shared import AccountView, PassReport, sent_first

log = logging.getLogger(__package__)  # "watcher.engine", the logger name before the split

CLOCK_SKEW = timedelta(minutes=5)  # mail older than the anchor by more than this predates it


class JudgingSteps:
    # -- reading ------------------------------------------------------------------------------

    def _read_changes(
        self, account: AccountView, mailbox: Mailbox, report: PassReport, cursor: str | None
    ) -> None:
        """`cursor`: the account's, read with it before the pass (we hold its lease)."""
        changes = self._retry(lambda: mailbox.changes(cursor))
        # The start of the body of each new message in a tracked thread: judged with it too.
        changes = judge_text.for_changes(self.store, account.id, changes, mailbox, self._retry)
        now = self.clock()
        if not changes.messages and not changes.cursor_reset and changes.cursor == cursor:
            return  # an idle check: nothing to judge, and the cursor stays where it is
        try:
            self._judge_changes(account, cursor, changes, now, report)
        except (StaleCursor, IntegrityError) as e:
            # Another watcher took these changes first (our lease ran out): its decisions
            # stand and ours were rolled back with this transaction.
            metrics.LEASE_LOSSES.labels("changes").inc()
            log.info("account %s: changes already taken by another watcher (%s)", account.id, e)

    def _judge_changes(self, account, cursor, changes, now, report: PassReport) -> None:
        with self.store.session() as s:
            if changes.cursor_reset:
                flagged = self.store.flag_all_for_check(s, account.id)
                if cursor is not None:
                    log.info(
                        "account %s: cursor reset, re-checking %d threads", account.id, flagged
                    )
            # Drafts are never judged (an unsent draft is not the user writing in the thread);
            # triggers still see them (a draft filed in Replywatch/Bumps).
            every = sorted(changes.messages, key=sent_first)
            messages = [m for m in every if not m.is_draft]
            # A bump Replywatch sent comes back through Sent; it is no new message to the user.
            own = sum(
                1 for m in messages if m.in_sent and sent_by_replywatch(m, account.own_addresses)
            )
            report.own_sent += own
            report.messages += len(messages) - own
            if messages:
                linked = self.store.active_followups_linked(
                    s,
                    account.id,
                    (m for msg in messages for m in msg.linked_ids),
                    (msg.thread_ref for msg in messages),
                )
                for followup in linked:
                    known = self.store.tracked_ids(s, followup.id)
                    for msg in messages:
                        if followup.state != FollowUpState.ACTIVE:
                            break
                        in_thread = bool(msg.linked_ids & known) or (
                            msg.thread_ref is not None and msg.thread_ref == followup.thread_ref
                        )
                        if in_thread:
                            self._judge(
                                s, followup, account, msg, known, now, report, defer_unproven=True
                            )
            if every:  # an idle pass reads no rules
                triggers.record(self.store, s, self._trigger_context(s, account, now), every)
            # The cursor moves in the same transaction as the decisions it led to.
            self.store.set_cursor(s, account.id, changes.cursor, now, expected=cursor)

    def _trigger_context(self, s, account: AccountView, now: datetime):
        return triggers.TriggerContext(
            account_id=account.id,
            user_id=account.user_id,
            email=account.email,
            own_addresses=account.own_addresses,
            trigger_folders=account.spec.trigger_folders,
            rules=tuple(self.store.enabled_rules(s, account.id)),
            now=now,
        )

    def _check_flagged(self, account: AccountView, mailbox: Mailbox, report: PassReport) -> None:
        """Re-read threads the cursor cannot vouch for (new follow-ups, after a cursor reset)."""
        while True:
            with self.store.session() as s:
                batch = [
                    (f.id, self._thread_key(s, f))
                    for f in self.store.followups_needing_check(s, account.id, limit=50)
                ]
            if not batch:
                return
            for followup_id, key in batch:
                thread = self._retry(lambda key=key: mailbox.thread(key))
                thread = self._with_text(mailbox, thread, key)
                try:
                    with self.store.session() as s:
                        followup = self.store.get_followup(s, followup_id)
                        self._judge_thread(s, followup, account, thread, report)
                        followup.needs_check = False
                except IntegrityError:  # judged concurrently by a watcher that took over
                    log.info("follow-up %s: already checked by another watcher", followup_id)

    def _with_text(self, mailbox: Mailbox, thread: list, key: ThreadKey) -> list:
        """A re-read thread with the body's start of the messages not judged yet."""
        wanted = judge_text.unjudged(thread, set(key.message_ids))
        return judge_text.fill(mailbox, thread, wanted, self._retry)

    def _thread_key(self, s, followup: FollowUp) -> ThreadKey:
        return ThreadKey(
            message_ids=frozenset(self.store.tracked_ids(s, followup.id)),
            thread_ref=followup.thread_ref,
        )

    def _judge_thread(
        self, s, followup: FollowUp, account: AccountView, thread, report: PassReport
    ) -> None:
        known = self.store.tracked_ids(s, followup.id)
        now = self.clock()
        for msg in sorted(thread, key=sent_first):
            if followup.state != FollowUpState.ACTIVE:
                return
            if followup.thread_ref is None and msg.thread_ref:
                followup.thread_ref = msg.thread_ref
            self._judge(s, followup, account, msg, known, now, report)

    def _judge(
        self,
        s,
        followup: FollowUp,
        account: AccountView,
        msg: MessageSummary,
        known: set[str],
        now: datetime,
        report: PassReport,
        defer_unproven: bool = False,
    ) -> None:
        """Decide what one new message in a tracked thread means, and act on it.

        `defer_unproven` (new mail from changes()): a message From: the user that is not in
        their Sent (classify's "not-in-sent") is left for the thread read right before the
        bump: the Sent copy of the user's own message may land a moment after its inbox copy
        (IDLE wakes a pass on the inbox), and it must be judged as hers, not the copy as a
        reply. By then a forgery is still only in the inbox, and is judged as the outsider's
        message it is."""
        key = msg.message_id or f"ref:{msg.ref}"
        if key in known:
            return  # already judged (or part of the thread before the follow-up began)
        bump_ids = self._bump_ids(followup, account)
        linked_to_us = bool(msg.linked_ids & ({followup.anchor_message_id} | bump_ids))
        if msg.date and msg.date < followup.anchor_at - CLOCK_SKEW and not linked_to_us:
            known.add(key)
            self.store.track(s, followup.id, [key])
            return  # older than the message being followed up: not an answer to it
        verdict = classify(msg, ClassifyContext(account.own_addresses, frozenset(bump_ids)))
        if defer_unproven and verdict.rule == "not-in-sent":
            return  # not tracked: judged when the thread is read before the bump
        known.add(key)
        self.store.track(s, followup.id, [key])
        metrics.VERDICTS.labels(verdict.kind, verdict.rule).inc()
        if (
            verdict.kind != "own"
            and msg.from_addr
            and msg.from_addr not in account.own_addresses  # a forged From: teaches nothing
            and msg.date
            and msg.date_offset_minutes is not None
        ):
            # Where the sender's clock stood: how their working hours are learnt (same commit).
            self.store.observe_offset(
                s, followup.user_id, msg.from_addr, msg.date, msg.date_offset_minutes
            )
        event = dict(user_id=followup.user_id, followup_id=followup.id, at=now)
        event.update(message_id=msg.message_id or None, rule=verdict.rule)
        who = msg.from_addr or "an unknown sender"
        if verdict.kind == "auto_reply" and is_absence_notice(verdict):
            user = s.get(User, followup.user_id)
            if user.ooo_policy == "reply":
                verdict = Verdict(
                    "reply",
                    verdict.rule,
                    f"{verdict.detail}; counted as a reply (out-of-office policy 'reply')",
                )
            elif user.ooo_policy == "pause" and self._pause_for_absence(
                s, followup, user, msg, verdict, event
            ):
                return
        if verdict.kind == "reply":
            recipients = frozenset([*followup.to_addrs, *followup.cc_addrs])
            if not replier_allowed(msg, recipients, followup.replier_policy):
                self.store.add_event(
                    s,
                    kind="reply_ignored",
                    detail=f"reply from {who} does not count under the "
                    f"'{followup.replier_policy}' policy; still waiting",
                    **event,
                )
                return
            followup.end(FollowUpState.REPLIED, f"reply from {who}")
            # The reply's own time (for results: time to reply), never before the anchor.
            followup.replied_at = max(msg.date or now, followup.anchor_at)
            report.stopped += 1
            self.store.add_event(
                s,
                kind="stopped",
                detail=f"stopped: reply from {who}, message {msg.message_id}"
                + (f" ({verdict.detail})" if verdict.rule != "default-reply" else ""),
                **event,
            )
        elif verdict.kind == "bounce" and handover.receipt_bounced(s, followup, account, msg):
            self.store.add_event(
                s,
                kind="not_reply",
                detail="only the receipt copy to your own plus-address bounced: this mail "
                "server does not take plus-addresses, so receipts are off for this account (a "
                "broken-off send is asked about instead); the follow-up goes on",
                **event,
            )
        elif verdict.kind == "bounce" and self._bounce_spares(followup, msg):
            self.store.add_event(
                s,
                kind="not_reply",
                detail=f"a copy to someone in Cc bounced; the follow-up goes on: "
                f"{verdict.describe()}",
                **event,
            )
        elif verdict.kind == "bounce":
            followup.end(FollowUpState.FAILED, f"bounce: {verdict.detail}")
            report.failed += 1
            self.store.add_event(
                s, kind="failed", detail=f"stopped as failed: {verdict.describe()}", **event
            )
        elif verdict.kind == "own":
            self._own_message(s, followup, msg, verdict, event)
        else:
            self.store.add_event(
                s, kind="not_reply", detail=f"not a reply: {verdict.describe()}", **event
            )
        if followup.state != FollowUpState.ACTIVE:  # stopped by this message
            self._draft_stays(s, followup, event)

    def _draft_stays(self, s, followup: FollowUp, event: dict) -> None:
        """The follow-up stopped with a bump written from the user's draft still to go: the
        draft is not sent and stays where the user filed it; say so."""
        for stage in followup.stages:
            if stage.state == StageState.PENDING and stage.draft_ref:
                self.store.add_event(
                    s,
                    kind="draft_kept",
                    detail=f"bump {stage.position} is not sent ({followup.stop_reason}); your "
                    f"draft {followup.subject!r} stays in {BUMPS_FOLDER}",
                    **event,
                )

    def _pause_for_absence(
        self, s, followup: FollowUp, user: User, msg: MessageSummary, verdict: Verdict, event
    ) -> bool:
        """Hold the next bump until the first sending window on the day the person is back.

        True if an Event was written (paused, or the return comes before the bump anyway);
        False when the auto-reply states no return date: the caller records it as before.
        """
        back = return_date(msg.text, msg.date, msg.subject)
        if back is None:
            return False
        window = fu_ops.user_window(user)
        back_at = datetime.combine(back.day, dt_time(0, 0), tzinfo=ZoneInfo(user.timezone))
        hold = next_in_window(back_at.astimezone(UTC), window)
        what = "reminder" if followup.mode == Mode.REMIND else "bump"
        if followup.due_at is not None and hold > followup.due_at:
            was = fu_ops.format_local(followup.due_at, user.timezone)
            followup.due_at = hold
            detail = (
                f"out of office: {verdict.describe()}; back {back.day.isoformat()} "
                f"(read from {back.phrase!r}): next {what} held until "
                f"{fu_ops.format_local(hold, user.timezone)} instead of {was}"
            )
            self.store.add_event(s, kind="paused", detail=detail, **event)
        else:
            detail = (
                f"not a reply: {verdict.describe()}; out of office, back "
                f"{back.day.isoformat()} (read from {back.phrase!r}), before the next {what}: "
                "schedule unchanged"
            )
            self.store.add_event(s, kind="not_reply", detail=detail, **event)
        return True

    @staticmethod
    def _bounce_spares(followup: FollowUp, msg: MessageSummary) -> bool:
        """A bounce only for addresses in Cc (none in To): the people asked can still answer."""
        failed = set(delivery_report(msg).failed)
        to = {a.lower() for a in followup.to_addrs}
        cc = {a.lower() for a in followup.cc_addrs}
        return bool(failed) and failed <= cc and not failed & to

    def _own_message(self, s, followup: FollowUp, msg, verdict: Verdict, event: dict) -> None:
        if verdict.rule == "own-bump":
            return  # our own bump coming back through Sent
        user = s.get(User, followup.user_id)
        policy = user.own_message_policy
        if policy == "stop":
            followup.end(FollowUpState.CANCELLED, "you wrote in the thread yourself")
            self.store.add_event(
                s, kind="stopped", detail="stopped: you wrote in the thread yourself", **event
            )
            return
        stage = followup.stage()
        base = msg.date or event["at"]
        # Restart only forward: a late-arriving older message must not pull the bump earlier.
        if policy == "restart" and stage and stage.at is None and base > followup.clock_base_at:
            followup.clock_base_at = base
            plan = self._plan_stage(s, followup, stage, base, user)
            followup.due_at = plan.at
            detail = (
                "your own message in the thread restarted the clock; next "
                f"{'reminder' if followup.mode == Mode.REMIND else 'bump'} "
                f"{fu_ops.format_local(followup.due_at, user.timezone)}"
            ) + (f"; {plan.note}" if plan.note else "")
        else:
            detail = "your own message in the thread (the schedule is unchanged)"
        self.store.add_event(s, kind="own_message", detail=detail, **event)

    def _bump_ids(self, followup: FollowUp, account: AccountView) -> set[str]:
        return {
            bump_message_id(followup.token, st.position, account.email) for st in followup.stages
        }
