"""The settings page's one blueprint: every page module adds its routes to `bp`."""

from __future__ import annotations

import os

from flask import Blueprint

# The package lives in web/settings/; its static files stay in web/static/, so the root is web/.
bp = Blueprint(
    "settings",
    __name__,
    url_prefix="/settings",
    static_folder="static",
    static_url_path="/static",
    root_path=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
)
