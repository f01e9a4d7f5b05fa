"""The settings page's "Rules" view: follow-ups set automatically on new sent mail.

Lists the signed-in user's rules with what each looks for and how many follow-ups it created;
adds one (checked by watcher.rules.validate_fields, the CLI's check), turns one on or off,
removes one, and runs a rule's dry-run over recent sent mail (the CLI's dry_run: reads the
mailbox, writes nothing) into the same page. Routes hang on the settings blueprint (web imports
this module before registering it); every rule and account is reached through queries scoped by
the user's id, so another user's rule is "not found" (404).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from watcher import rules as rule_ops
from watcher import schedule
from watcher.compose import render_text
from watcher.errors import NotFoundError, ReplywatchError, ValidationError
from watcher.models import Rule
from watcher.rule_dry_run import MAX_DRY_RUN_DAYS, dry_run

from . import auth
from .auth import current_user, login_required
from .fields import check, has_errors
from .forms import MODES, ConfirmForm
from .settings import PREVIEW_SAMPLE, bp


class RuleForm(FlaskForm):
    account = SelectField("For mail sent from", coerce=int)
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    delays = StringField(
        "Bump after (one delay per bump, comma-separated)",
        validators=[InputRequired(), Length(max=100)],
        default="3d",
    )
    mode = RadioField("What to do", choices=MODES, default="send")  # as a single follow-up
    external_only = BooleanField(
        "Only mail to people outside my domain (not lists, not bulk sends)", default=True
    )
    question_only = BooleanField("Only when my message asks a question", default=False)
    exclude_domains = TextAreaField("Never for these domains", validators=[Length(max=5000)])
    exclude_addresses = TextAreaField("Never for these addresses", validators=[Length(max=5000)])
    exclude_subjects = TextAreaField(
        "Never when the subject contains", validators=[Length(max=5000)]
    )
    text = TextAreaField(
        "Bump text (empty: your default text)", validators=[Optional(), Length(max=5000)]
    )


class DryRunForm(FlaskForm):
    days = IntegerField(
        "Days back", validators=[Optional(), NumberRange(1, MAX_DRY_RUN_DAYS)], default=14
    )


def _accounts(store, s, user_id: int) -> list:
    return [a for a in store.list_accounts(s, user_id=user_id) if a.status != "disabled"]


def _view(rule: Rule, email: str, created: int) -> dict:
    spec = rule_ops.RuleSpec.of(rule)
    what = "Send bumps" if rule.mode == "send" else "Remind me"
    return {
        "id": rule.id,
        "name": rule.name,
        "enabled": rule.enabled,
        "email": email,
        "what": f"{what} after {', then '.join(rule.delays or [])} if nobody replies",
        "conditions": rule_ops.describe_conditions(spec),
        "created_at": rule.created_at,
        "followups": created,
        "text": rule.text,
    }


def _render(
    status: int = 200,
    form: RuleForm | None = None,
    error: str = "",
    result=None,
    editing: int | None = None,
):
    user, store = current_user(), auth.store()
    with store.session() as s:
        accounts = _accounts(store, s, user.id)
        emails = {a.id: a.email for a in store.list_accounts(s, user_id=user.id)}
        found = store.list_rules(s, user_id=user.id)
        counts = store.rule_followup_counts(s, [r.id for r in found])
        items = [_view(r, emails.get(r.account_id, "?"), counts.get(r.id, 0)) for r in found]
    if form is None:
        form = RuleForm(formdata=None)
    form.account.choices = [(a.id, a.email) for a in accounts]
    return render_template(
        "settings/rules.html",
        items=items,
        form=form,
        confirm=ConfirmForm(),
        error=error,
        result=result,
        max_days=MAX_DRY_RUN_DAYS,
        editing=editing,
        delay_hint=f"One delay per bump, comma-separated: {schedule.DELAY_FORMS}.",
    ), status


@bp.get("/rules")
@login_required
def rules():
    return _render()


@bp.post("/rules")
@login_required
def add_rule():
    user, store = current_user(), auth.store()
    form = RuleForm()
    with store.session() as s:
        form.account.choices = [(a.id, a.email) for a in _accounts(store, s, user.id)]
    if not form.account.choices:
        return _render(400, form, "Connect a mailbox first: rules watch the mail it sends.")
    fields = _checked(form)
    if fields is None:
        return _render(400, form)
    now = auth.now()
    with store.session() as s:
        account = next((a for a in _accounts(store, s, user.id) if a.id == form.account.data), None)
        if account is None:
            abort(404)  # not one of this user's accounts (the choice list already says so)
        rule = store.add_rule(
            s,
            account,
            fields,
            external_only=bool(form.external_only.data),
            question_only=bool(form.question_only.data),
            now=now,
        )
        rule.text = _text(form)
        name = rule.name
    flash(f"Rule {name!r} is on: it applies to mail you send from now on.", "ok")
    return redirect(url_for("settings.rules"), 303)


def _text(form: RuleForm) -> str | None:
    return (form.text.data or "").replace("\r\n", "\n").strip() or None


def _checked(form: RuleForm) -> rule_ops.RuleFields | None:
    """Every field at once: each through the CLI's own checks (validate_fields) with the others
    held at a valid value, so each error lands on its own field. None if any is bad."""
    form.validate_on_submit()
    ok = {"name": "x", "mode": "send", "delays": "3d"}
    for name in ("name", "delays", "exclude_domains", "exclude_addresses", "exclude_subjects"):
        check(form[name], lambda v, name=name: rule_ops.validate_fields(**{**ok, name: v or ""}))
    if _text(form):
        check(form.text, lambda v: render_text(v, **PREVIEW_SAMPLE))
    if has_errors(form):
        return None
    return rule_ops.validate_fields(
        name=form.name.data,
        mode=form.mode.data,
        delays=form.delays.data,
        exclude_domains=form.exclude_domains.data,
        exclude_addresses=form.exclude_addresses.data,
        exclude_subjects=form.exclude_subjects.data,
    )


def _own_rule(s, rule_id: int) -> Rule:
    try:
        return auth.store().get_rule(s, rule_id, user_id=current_user().id)
    except NotFoundError:
        abort(404)


@bp.get("/rules/<int:rule_id>/edit")
@login_required
def edit_rule(rule_id: int):
    with auth.store().session() as s:
        rule = _own_rule(s, rule_id)
        form = RuleForm(
            formdata=None,
            account=rule.account_id,
            name=rule.name,
            delays=", ".join(rule.delays or []),
            mode=rule.mode,
            external_only=rule.external_only,
            question_only=rule.question_only,
            exclude_domains="\n".join(rule.exclude_domains or []),
            exclude_addresses="\n".join(rule.exclude_addresses or []),
            exclude_subjects="\n".join(rule.exclude_subjects or []),
            text=rule.text or "",
        )
    return _render(form=form, editing=rule_id)


@bp.post("/rules/<int:rule_id>/edit")
@login_required
def save_rule(rule_id: int):
    user, store = current_user(), auth.store()
    form = RuleForm()
    with store.session() as s:
        _own_rule(s, rule_id)  # another user's rule: 404 before anything else
        form.account.choices = [(a.id, a.email) for a in _accounts(store, s, user.id)]
    fields = _checked(form)
    if fields is None:
        return _render(400, form, editing=rule_id)
    with store.session() as s:
        rule = _own_rule(s, rule_id)
        if form.account.data not in {a.id for a in _accounts(store, s, user.id)}:
            abort(404)
        rule.account_id = form.account.data
        rule.name, rule.mode, rule.delays = fields.name, fields.mode, fields.delays
        rule.exclude_domains = fields.exclude_domains
        rule.exclude_addresses = fields.exclude_addresses
        rule.exclude_subjects = fields.exclude_subjects
        rule.external_only = bool(form.external_only.data)
        rule.question_only = bool(form.question_only.data)
        rule.text = _text(form)
        rule.updated_at = auth.now()
        name = rule.name
    flash(f"Rule {name!r} saved; it applies to mail you send from now on.", "ok")
    return redirect(url_for("settings.rules"), 303)


@bp.post("/rules/<int:rule_id>/switch")
@login_required
def switch_rule(rule_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    with auth.store().session() as s:
        rule = _own_rule(s, rule_id)
        rule.enabled = not rule.enabled
        rule.updated_at = auth.now()
        name, on = rule.name, rule.enabled
    flash(f"Rule {name!r} is {'on' if on else 'off'}.", "ok")
    return redirect(url_for("settings.rules"), 303)


@bp.post("/rules/<int:rule_id>/remove")
@login_required
def remove_rule(rule_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    with auth.store().session() as s:
        rule = _own_rule(s, rule_id)
        name = rule.name
        s.delete(rule)
    flash(f"Rule {name!r} removed; the follow-ups it created go on.", "ok")
    return redirect(url_for("settings.rules"), 303)


@bp.post("/rules/<int:rule_id>/dry-run")
@login_required
def dry_run_rule(rule_id: int):
    form = DryRunForm()
    if not form.validate_on_submit():
        return _render(400, error=f"Look back between 1 and {MAX_DRY_RUN_DAYS} days.")
    with auth.store().session() as s:
        _own_rule(s, rule_id)  # 404 before any mail server is contacted
    try:
        result = dry_run(
            auth.store(),
            auth.config(),
            rule_id,
            days=form.days.data or 14,
            now=auth.now(),
            user_id=current_user().id,
        )
    except ReplywatchError as e:
        return _render(502 if not isinstance(e, ValidationError) else 400, error=e.message)
    return _render(result=result)
