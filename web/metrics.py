"""`/metrics`: the process's Prometheus metrics (watcher.metrics), for the operator's scraper.

With REPLYWATCH_METRICS_TOKEN set, a scrape needs `Authorization: Bearer <token>`. Without
one, only a client on this machine is answered, and never through a reverse proxy: a request
carrying X-Forwarded-* headers that REPLYWATCH_TRUSTED_PROXIES does not vouch for may come from
anywhere while looking local (set a token there).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from watcher import metrics

bp = Blueprint("metrics", __name__)

FORWARDED = ("X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "Forwarded")


@bp.get("/metrics")
def scrape():
    ext = current_app.extensions["replywatch"]
    config = ext["config"]
    token = config.metrics_token
    proxied = config.trusted_proxies == 0 and any(h in request.headers for h in FORWARDED)
    if (not token and proxied) or not metrics.allowed(
        request.headers.get("Authorization"), request.remote_addr, token
    ):
        return Response(
            "unauthorized\n", 401, {"WWW-Authenticate": "Bearer"}, mimetype="text/plain"
        )
    body, content_type = metrics.exposition(ext["store"])
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
