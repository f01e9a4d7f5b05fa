"""`/metrics`: the process's Prometheus metrics (watcher.metrics), for the operator's scraper.

With REPLYWATCH_METRICS_TOKEN set, a scrape needs `Authorization: Bearer <token>`. Without
one, only a client on this machine is answered, and only while the app is not published: with
a public REPLYWATCH_BASE_URL a reverse proxy on the same machine makes every visitor look local
(waitress drops X-Forwarded-* headers it does not trust before the app sees them), so there a
token is required. A request that still carries X-Forwarded-* headers is refused as well.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request

from watcher import metrics

bp = Blueprint("metrics", __name__)

FORWARDED = ("X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "Forwarded")


def _unpublished(base_url: str) -> bool:
    return metrics.is_loopback(urlsplit(base_url).hostname or "")


@bp.get("/metrics")
def scrape():
    ext = current_app.extensions["replywatch"]
    config = ext["config"]
    token = config.metrics_token
    if token:
        ok = metrics.allowed(request.headers.get("Authorization"), None, token)
    else:
        proxied = config.trusted_proxies > 0 or any(h in request.headers for h in FORWARDED)
        ok = (
            _unpublished(config.base_url)
            and not proxied
            and metrics.allowed(None, request.remote_addr, "")
        )
    if not ok:
        return Response(
            "unauthorized: set REPLYWATCH_METRICS_TOKEN and scrape with it as a bearer token\n",
            401,
            {"WWW-Authenticate": "Bearer"},
            mimetype="text/plain",
        )
    body, content_type = metrics.exposition(ext["store"])
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
