"""One follow-up: its bumps (with previews), history, and the forms that change it."""

from __future__ import annotations

from flask import render_template

from watcher import schedule
from watcher.compose import first_name_of, render_text
from watcher.errors import ReplywatchError
from watcher.models import FollowUpState, StageState

from .. import auth
from ..auth import current_user, login_required
from ..forms import ConfirmForm, EditForm, SnoozeForm
from .blueprint import bp
from .common import STATE_LABELS, _own_followup


@bp.get("/followups/<int:followup_id>")
@login_required
def followup(followup_id: int, forms: dict | None = None, status: int = 200):
    from ..snooze import quick_picks  # here: web.snooze imports web.settings

    store, now, tz = auth.store(), auth.now(), current_user().timezone
    with store.session() as s:
        f = _own_followup(s, followup_id)
        events = store.events_for(s, f.id)
        _ = f.stages, f.account.email  # loaded for the template
        pending = [st for st in f.stages if st.state == StageState.PENDING]
        previews = _bump_previews(f)
    forms = forms or {}
    edit = forms.get("edit") or EditForm(
        formdata=None, replier_policy=f.replier_policy, mode=f.mode
    )
    return render_template(
        "settings/followup.html",
        f=f,
        events=events,
        pending=pending,
        snooze_form=forms.get("snooze") or SnoozeForm(formdata=None),
        cancel_form=ConfirmForm(),
        edit_form=edit,
        stage_values=forms.get("stage_values") or {},
        stage_errors=forms.get("stage_errors") or {},
        state_labels=STATE_LABELS,
        is_active=f.state == FollowUpState.ACTIVE,
        previews=previews,
        quick_picks=quick_picks(now, f.due_at, tz) if f.state == FollowUpState.ACTIVE else [],
        snooze_hint=f"A time from now or a date: {schedule.when_forms(now, tz)}.",
        when_hint=f"{schedule.when_forms(now, tz)}.",
    ), status


def _bump_previews(f) -> dict[int, str]:
    """Each bump's text as the recipient reads it (the engine's own template filling, with
    this follow-up's names); a text that no longer fills is left out, not shown raw."""
    to = f.to_addrs[0] if f.to_addrs else ""
    out = {}
    for st in f.stages:
        try:
            out[st.position] = render_text(
                st.text if st.text is not None else f.account.user.bump_template,
                first_name=first_name_of(f.recipient_name, to),
                subject=f.subject,
                recipient_name=f.recipient_name,
                sender_name=f.account.display_name,
            )
        except ReplywatchError:
            continue
    return out
