"""The follow-ups list (`/settings/followups?show=...`), the page `/settings/` opens on."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from watcher.models import AccountStatus, FollowUpState

from .. import auth
from ..auth import current_user, login_required
from ..paging import Page
from .blueprint import bp
from .common import STATE_LABELS

FILTERS = {  # ?show=...: label, states (None: every state; "attention": a query of its own)
    "scheduled": ("Scheduled", [FollowUpState.ACTIVE]),
    "attention": ("Needs attention", "attention"),
    "replied": ("Stopped by reply", [FollowUpState.REPLIED]),
    "sent": ("Sent", [FollowUpState.COMPLETED]),
    "failed": ("Failed", [FollowUpState.FAILED]),
    "cancelled": ("Cancelled", [FollowUpState.CANCELLED]),
    "all": ("All", None),
}


@bp.get("/")
@login_required
def index():
    return redirect(url_for("settings.followups"))


def _account_choices(s, user_id: int) -> list[tuple[int, str]]:
    return [
        (a.id, a.email)
        for a in auth.store().list_accounts(s, user_id)
        if a.status != AccountStatus.DISABLED
    ]


@bp.get("/followups")
@login_required
def followups():
    user, store = current_user(), auth.store()
    show = request.args.get("show", "scheduled")
    if show not in FILTERS:
        show = "scheduled"
    with store.session() as s:
        attention = store.followups_needing_attention(s, user.id)
        per_state: dict[str, int] = {}
        for by_state in store.followup_counts(s, user.id).values():
            for state, n in by_state.items():
                per_state[state] = per_state.get(state, 0) + n
        counts = {
            key: (
                len(attention)
                if st == "attention"
                else sum(n for state, n in per_state.items() if st is None or state in st)
            )
            for key, (_, st) in FILTERS.items()
        }
        page = Page.of(counts[show])
        states = FILTERS[show][1]
        if states == "attention":
            items = attention[page.offset : page.offset + page.size]
        else:
            items = store.followups_listing(s, user.id, states, page.offset, page.size)
        accounts = _account_choices(s, user.id)
        ways_accounts = [
            {"id": a.id, "email": a.email, "kind": a.kind, "folders": a.trigger_folders}
            for a in store.list_accounts(s, user.id)
            if a.status != AccountStatus.DISABLED
        ]
        needy_accounts = sum(
            1 for a in store.list_accounts(s, user.id) if a.status == AccountStatus.NEEDS_ATTENTION
        )
    attention_ids = {f.id for f in attention}
    return render_template(
        "settings/followups.html",
        items=items,
        show=show,
        page=page,
        filters=FILTERS,
        counts=counts,
        attention_ids=attention_ids,
        has_accounts=bool(accounts),
        ways_accounts=ways_accounts,
        addon=bool(auth.config().addon_client_id),
        needy_accounts=needy_accounts,
        state_labels=STATE_LABELS,
    )
