"""The web face: the settings page (web.settings), sign-in (web.auth), Google's flows
(gmail.oauth), and two public routes: `/` (to the settings page) and `/healthz` (status only);
`/metrics` (web.metrics) answers only a bearer token or a local client."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, jsonify, redirect, render_template, url_for
from flask_wtf.csrf import CSRFError

from watcher.followups import format_local

from .wording import plain, rule_words

bp = Blueprint("web", __name__)


def init_app(app: Flask) -> None:
    from gmail.oauth import bp as google_bp

    # requests-oauthlib logs token requests and responses (codes, refresh tokens) at DEBUG:
    # never let a DEBUG root logger write them out.
    for name in ("requests_oauthlib", "oauthlib"):
        logging.getLogger(name).setLevel(logging.INFO)

    from . import (
        attention,  # noqa: F401 (says why Follow-ups rows need attention)
        auth,
        defaults,  # noqa: F401 (adds /settings/defaults to the settings blueprint)
        later,  # noqa: F401 (adds /settings/later, send later, to the settings blueprint)
        my_data,  # noqa: F401 (adds /settings/my-data to the settings blueprint)
        new_followup,  # noqa: F401 (adds /settings/followups/new to the settings blueprint)
        recipients,  # noqa: F401 (adds /settings/recipients to the settings blueprint)
        results,  # noqa: F401 (adds /settings/results to the settings blueprint)
        rules,  # noqa: F401 (adds /settings/rules to the settings blueprint)
        send_caps,  # noqa: F401 (adds the daily send cap form to the settings blueprint)
        snooze,  # noqa: F401 (adds /settings/followups/<id>/snooze to the settings blueprint)
    )
    from .settings import bp as settings_bp

    app.register_blueprint(bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(google_bp)
    from .metrics import bp as metrics_bp  # /metrics for Prometheus (token or loopback only)

    app.register_blueprint(metrics_bp)

    @app.context_processor
    def _globals():
        return {"current_user": auth.current_user()}

    @app.template_filter("local")
    def _local(when):
        user = auth.current_user()
        return format_local(when, user.timezone if user else "UTC")

    @app.template_filter("local_input")
    def _local_input(when):
        """A stored UTC time as the user types it back: "2026-12-08 10:00" in their zone."""
        user = auth.current_user()
        return when.astimezone(ZoneInfo(user.timezone if user else "UTC")).strftime(
            "%Y-%m-%d %H:%M"
        )

    app.add_template_filter(rule_words, "rule_words")
    app.add_template_filter(plain, "plain")

    @app.errorhandler(CSRFError)
    def _csrf_failed(e):
        return render_template(
            "settings/error.html",
            title="This form has expired",
            message="For your safety the form could not be sent (its security token was "
            "missing or stale). Go back, reload the page and try again.",
        ), 400

    @app.errorhandler(404)
    def _not_found(e):
        return render_template(
            "settings/error.html",
            title="Not found",
            message="There is nothing here, or it belongs to someone else.",
        ), 404

    @app.errorhandler(405)
    def _not_allowed(e):
        return render_template(
            "settings/error.html", title="Not allowed", message="That action is not available."
        ), 405

    @app.errorhandler(500)
    def _server_error(e):
        return render_template(
            "settings/error.html",
            title="Something went wrong",
            message="Replywatch hit an unexpected error; it has been logged without any "
            "passwords or tokens. Try again, and check the server log if it persists.",
        ), 500


@bp.get("/")
def index():
    return redirect(url_for("settings.followups"))


@bp.get("/healthz")
def healthz():
    """Public: says only that the app answers (counts of accounts or follow-ups across users
    would tell an outsider how the instance is used)."""
    return jsonify(status="ok")
