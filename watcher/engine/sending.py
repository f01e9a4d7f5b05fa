"""Sending one due stage exactly once: re-read the thread, compose the bump, look for an
earlier copy, mark SENDING at the last moment (lease and cap checked), hand it over, record.

Mixed into Engine (watcher.engine.core); uses its store, config, clock, owner, _retry,
judging (the fresh thread read) and the stage records; a broken-off hand-over goes to
recovery (watcher.engine.recovery).
"""

from __future__ import annotations

import logging

from .. import handover, metrics, send_caps
from ..compose import compose_bump, first_name_of, render_text
from ..errors import PermanentError, ReplywatchError, SendRejected, SendUnconfirmed, TransientError
from ..mailbox import Mailbox, MessageSummary
from ..models import Account, FollowUp, FollowUpState, Mode, StageState, User
from .shared import AccountView, LeaseLost, date_key

log = logging.getLogger(__package__)  # "watcher.engine", the logger name before the split


class SendingSteps:
    def _act(self, account: AccountView, mailbox: Mailbox, followup_id: int, report) -> None:
        with self.store.session() as s:
            followup = self.store.get_followup(s, followup_id)
            if followup.state != FollowUpState.ACTIVE or followup.lease_owner != self.owner:
                return
            stage = followup.stage()
            key = self._thread_key(s, followup)
            recovering = stage.message_id if stage.state == StageState.SENDING else None
            position = stage.position
        if recovering:
            self._recover(mailbox, followup_id, position, recovering, report)
            self._discard_sent_draft(account, mailbox, followup_id, position)
            return

        # A reply that arrived after the claim wins: read the thread fresh, right now.
        thread = self._with_text(mailbox, self._retry(lambda: mailbox.thread(key)), key)
        with self.store.session() as s:
            followup = self.store.get_followup(s, followup_id)
            self._judge_thread(s, followup, account, thread, report)
            if followup.state != FollowUpState.ACTIVE:
                return
            if followup.due_at is None or followup.due_at > self.clock():
                return  # the user's own message restarted the clock
            plan = self._plan(s, followup, account, thread)
        if plan["mode"] == Mode.REMIND:
            self._retry(lambda: mailbox.remind(key))
            with self.store.session() as s:
                followup = self.store.get_followup(s, followup_id)
                if self._finish_stage(
                    s, followup, plan["stage"], StageState.REMINDED, None, None, "reminded"
                ):
                    report.reminded += 1
            return
        self._send(account, mailbox, followup_id, plan, report, thread)
        self._discard_sent_draft(account, mailbox, followup_id, plan["stage"])

    def _discard_sent_draft(self, account: AccountView, mailbox: Mailbox, followup_id, position):
        """The bump went out with the text of the user's draft: delete that draft. A failure
        is an Event (the user can delete it), never a fault."""
        with self.store.session() as s:
            stage = self.store.get_followup(s, followup_id).stage(position)
            if stage is None or stage.state != StageState.SENT or not stage.draft_ref:
                return
            ref = stage.draft_ref
        try:
            self._retry(lambda: mailbox.discard_draft(ref))
            detail = f"your draft for bump {position} went out as the bump and was deleted"
        except ReplywatchError as e:
            detail = f"your draft for bump {position} went out but could not be deleted: {e}"
        with self.store.session() as s:
            self._note(s, self.store.get_followup(s, followup_id), "draft_discarded", detail)

    def _plan(self, s, followup: FollowUp, account: AccountView, thread) -> dict:
        """Compose the bump from stored values and the thread as it is now."""
        user = s.get(User, followup.user_id)
        stage = followup.stage()
        own = [m for m in thread if m.in_sent]  # a From: line alone proves nothing
        anchor = next(
            (m for m in thread if m.message_id == followup.anchor_message_id),
            MessageSummary(ref="", message_id=followup.anchor_message_id, subject=followup.subject),
        )
        # A bump answers the user's own latest message, as a person pressing "reply" would.
        latest = max(own, key=date_key) if own else anchor
        to = tuple(followup.to_addrs)
        text = render_text(
            stage.text if stage.text is not None else user.bump_template,
            first_name=first_name_of(followup.recipient_name, to[0] if to else ""),
            subject=followup.subject,
            recipient_name=followup.recipient_name,
            sender_name=account.display_name,
        )
        bump = None
        if followup.mode == Mode.SEND:
            bump = compose_bump(
                account_email=account.email,
                account_name=account.display_name,
                original=anchor,
                latest=latest,
                to=to,
                cc=tuple(followup.cc_addrs),
                token=followup.token,
                stage=stage.position,
                text=text,
                now=self.clock(),
            )
        return {
            "mode": followup.mode,
            "bump": bump,
            "stage": stage.position,
            # An earlier attempt handed this stage to the server (and it went back to PENDING
            # after a fault that said "not sent"): worth a search of Sent before sending.
            "attempted": stage.message_id is not None,
            "evidence": stage.evidence,
        }

    def _send(
        self, account: AccountView, mailbox: Mailbox, followup_id, plan, report, thread
    ) -> None:
        bump, position = plan["bump"], plan["stage"]

        def record(state, sent_ref, how) -> bool:
            with self.store.session() as s:
                followup = self.store.get_followup(s, followup_id)
                return self._finish_stage(
                    s, followup, position, state, bump.message_id, sent_ref, how
                )

        # A copy already there means an earlier attempt got through: record, never resend.
        # The thread just read holds it (a bump answers the thread, with its References, and
        # both mailboxes read Sent with it), so a first attempt needs no search of its own;
        # e.g. a database restored from a backup taken before the send is caught here. A stage
        # tried before is also looked up by Message-ID (Gmail search: 5 quota units).
        found = next((m.ref for m in thread if m.message_id == bump.message_id), None)
        how = "already in the thread"
        if found is None and plan["attempted"]:  # Sent, and the receipt copy if one was asked
            found, how = handover.look_for_copy(
                self._retry, mailbox, bump.message_id, plan["evidence"]
            )
        if found:
            if record(StageState.SENT, found, how):
                report.sent += 1
            return

        def before_commit() -> None:
            # Last moment before the server may accept it: from here on the outcome is unsure.
            with self.store.session() as s:
                followup = self.store.get_followup(s, followup_id)
                stage = followup.stage(position)
                if not self.store.holds_lease(s, followup, self.owner, self.clock()) or (
                    followup.current_stage != position or stage.state != StageState.PENDING
                ):
                    raise LeaseLost(f"lease on follow-up {followup_id} lost before sending")
                # Counted here, in the same commit; over the day's cap nothing goes out.
                send_caps.claim(s, account.id, bump.message_id, "bump", self.clock())
                stage.state = StageState.SENDING
                stage.message_id = bump.message_id
                # What can tell later whether it went out, if the answer never comes.
                stage.handed_over_at = self.clock()
                stage.evidence = handover.evidence_of(mailbox, bump.message_id)

        try:
            sent_ref = self._retry(lambda: mailbox.send(bump, before_commit))
        except SendUnconfirmed as e:
            self._settle_unconfirmed(
                mailbox, followup_id, position, bump.message_id, e.message, report
            )
            return
        except SendRejected as e:
            metrics.BUMPS.labels("failed").inc()
            if self._fail(followup_id, f"the mail server refused the bump: {e.message}"):
                report.failed += 1
            return
        except send_caps.CapReached:
            # Reached since the pass's first look (another sender of the account): nothing
            # was handed over and the stage is still PENDING; it waits for tomorrow.
            with self.store.session() as s:
                followup = self.store.get_followup(s, followup_id)
                if self.store.holds_lease(s, followup, self.owner, self.clock()):
                    now = self.clock()
                    cap = send_caps.status(s, s.get(Account, account.id), now)
                    send_caps.defer(self.store, s, followup, cap, now)
            return
        except (TransientError, PermanentError):
            # Our mailboxes raise these only when the server surely did not take the message.
            with self.store.session() as s:
                followup = self.store.get_followup(s, followup_id)
                if self.store.holds_lease(s, followup, self.owner, self.clock()):
                    self._reset_stage(followup)
            raise
        # A mailbox that had to send otherwise than asked (Gmail: a new conversation because
        # the old thread is refused) leaves a note for the follow-up's history.
        how = getattr(mailbox, "send_notes", {}).pop(bump.message_id, "sent")
        if record(StageState.SENT, sent_ref, how):
            report.sent += 1
