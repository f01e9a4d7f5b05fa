"""Results as text for the command line: tables, the summary sentence, `watcher stats`."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import select

from ..errors import NotFoundError
from ..models import User
from .queries import user_report
from .results import EMPTY_MESSAGE, OTHER_COUNTS, Report, Results, humanize


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.0f}%"


def table(rows: Iterable[Results], first: str = "scope") -> str:
    """A plain-text table, one line per scope, for the CLI."""
    rows = list(rows)
    with_after3 = any(r.count("after3") for r in rows)
    heads = [first, "ended", "before any bump", "after 1", "after 2"]
    keys = ["before", "after1", "after2"]
    if with_after3:
        heads.append("after 3+")
        keys.append("after3")
    heads += ["never", "cancelled", "failed", "waiting", "median reply"]
    keys.append("never")
    lines = [heads]
    for r in rows:
        cells = [r.scope, str(r.ended)]
        cells += [f"{r.count(k)} ({percent(r.share(k))})" if r.ended else "-" for k in keys]
        cells += [str(r.count(k)) for k in OTHER_COUNTS]
        cells.append(humanize(r.median_reply))
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(heads))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


def describe(report: Report) -> str:
    """The CLI's text: a table of scopes and one of origins, or the empty-data sentence."""
    out = [table([report.overall, *report.accounts])]
    if report.overall.ended == 0:
        out.append(f"({EMPTY_MESSAGE})")
    else:
        r = report.overall
        out.append(
            f"median time to reply: {humanize(r.median_reply)} "
            f"(before any bump {humanize(r.median_before_bump)}, "
            f"after a bump {humanize(r.median_after_bump)})"
        )
    if report.origins:
        out += ["", "by how the follow-up was made:", table(report.origins, first="made")]
    return "\n".join(out)


# -- command line -------------------------------------------------------------------------------


def run_cli(store, *, user: str | None, account: str | None, as_json: bool) -> str:
    """`python -m watcher stats`: the text (or JSON) to print. With neither --user nor
    --account, one section per user, each computed on its own."""
    with store.session() as s:
        owner = store.user_by_email(s, user.strip().lower()) if user else None
        if user and owner is None:
            raise NotFoundError(f"no user {user!r}")
        if account:
            found = store.find_account(s, account, owner.id if owner else None)
            scopes = [(found.user.email, found.user_id, found.id)]
        elif owner is not None:
            scopes = [(owner.email, owner.id, None)]
        else:
            users = s.execute(select(User.email, User.id).order_by(User.id))
            scopes = [(email, uid, None) for email, uid in users]
        reports = [(email, user_report(s, uid, aid)) for email, uid, aid in scopes]
    if as_json:
        return json.dumps(
            {"users": [{"user": email, **report.as_dict()} for email, report in reports]},
            indent=2,
        )
    if not reports:
        return "no users yet"
    return "\n\n".join(f"results for {email}\n{describe(report)}" for email, report in reports)
