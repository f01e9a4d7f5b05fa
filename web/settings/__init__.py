"""The settings page: sign-in, follow-ups, accounts, defaults.

Every view that shows or changes something runs as the signed-in user and reaches rows only
through Store queries scoped by that user's id; another user's id is "not found" (404), never
"forbidden", so ids reveal nothing. Mail servers are contacted only outside a DB session.

One blueprint (`bp`, in .blueprint), one module per page, each adding its routes to it:
signin, first_run (/setup), password, followup_list, followup_detail, followup_actions,
accounts, account_connect, account_disconnect. Other pages on the same blueprint live beside
this package (web.defaults, web.rules, web.snooze ...) and import `bp` and the shared lookups
from here.
"""

from __future__ import annotations

from . import (  # noqa: F401 (each module adds its pages to bp)
    account_connect,
    account_disconnect,
    accounts,
    first_run,
    followup_actions,
    followup_list,
    password,
    signin,
)
from .blueprint import bp
from .common import PREVIEW_SAMPLE, STATE_LABELS, _own_account, _own_followup, _sentence
from .followup_detail import followup

__all__ = [
    "PREVIEW_SAMPLE",
    "STATE_LABELS",
    "_own_account",
    "_own_followup",
    "_sentence",
    "bp",
    "followup",
]
