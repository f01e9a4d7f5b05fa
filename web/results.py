"""The Results page (/settings/results): how often a follow-up got a reply before any bump,
after bump 1, after bump 2, or never, and how long replies took; overall, per account and per
way of creating follow-ups. The numbers come from watcher.stats, scoped to the signed-in user;
the charts are server-rendered SVG (web.chart)."""

from __future__ import annotations

from flask import render_template

from watcher import stats

from .auth import current_user, login_required, store
from .chart import Bar, bar_chart
from .settings import bp

COLOURS = {
    "before": "#1d7a46",
    "after1": "#2457d6",
    "after2": "#5b82e6",
    "after3": "#93adf0",
    "never": "#8a93a3",
}


def chart_for(results: stats.Results, chart_id: str):
    """The bar chart of one scope's ended follow-ups (None when nothing has ended)."""
    if not results.ended:
        return None
    bars = [
        Bar(
            label=stats.LABELS[key],
            share=results.share(key),
            # The count beside the share: "100%" of one follow-up says "1 of 1".
            value=f"{stats.percent(results.share(key))} ({results.count(key)} of {results.ended})",
            colour=COLOURS[key],
        )
        for key in results.buckets
    ]
    desc = "; ".join(f"{b.label}: {b.value}" for b in bars)
    noun = "follow-up" if results.ended == 1 else "follow-ups"
    title = f"{results.scope}: how {results.ended} ended {noun} went"
    return bar_chart(chart_id, title, desc + ".", bars)


@bp.get("/results")
@login_required
def results():
    user = current_user()
    with store().session() as s:
        report = stats.user_report(s, user.id)
    charts = {"overall": chart_for(report.overall, "chart-overall")}
    for r in report.accounts:
        charts[r.account_id] = chart_for(r, f"chart-account-{r.account_id}")
    return render_template(
        "settings/results.html",
        report=report,
        charts=charts,
        labels=stats.LABELS,
        show_after3=report.overall.count("after3") > 0,
        humanize=stats.humanize,
        percent=stats.percent,
        empty_message=stats.EMPTY_MESSAGE,
    )
