"""The add-on's deployment descriptor (for `gcloud workspace-add-ons deployments create`).

Every URL comes from one base URL (REPLYWATCH_BASE_URL): the three trigger endpoints, the widget
action endpoints (buttons name them in cards.py, so they are not listed here) and the settings
page prefix the cards may open. Print it for a deployment with

    python -m gmail.manifest --base-url https://replywatch.example.com > addon_manifest.json

Scopes, and why each is needed (reference/addon-http-runtime.md section 1.2):
- gmail.addons.execute: every Gmail add-on;
- gmail.addons.current.message.metadata: the headers of the open message (From, To, Subject,
  Message-ID, References), with the per-message token; never the body;
- userinfo.email: Google then sends the userIdToken that identifies the user;
- script.locale (with useLocaleFromApp): the user's time zone for the date pickers;
- gmail.addons.current.action.compose: the compose trigger ("All compose time add-ons must have
  the gmail.addons.current.action.compose scope even though it might not edit the draft":
  reference google.apps.script.type.gmail, ComposeTrigger); it lets the card put the
  follow-up tag in the open draft's Bcc, and nothing else.
Sending and watching use the user's own OAuth grant from the settings page, not these.

The compose trigger is the HTTP form, `actions[{label, runFunction, logoUrl}]` (Apps Script's
`selectActions` is another runtime's: reference/addon-http-runtime.md section 1.1), with
draftAccess METADATA: Gmail then sends the draft's recipient lists, and the Bcc already there
is kept when the tag is added (Google's Bcc update replaces the whole list).
"""

from __future__ import annotations

import argparse
import json
import sys
from urllib.parse import urlsplit

from .cards import endpoint, settings_url

SCOPES = (
    "https://www.googleapis.com/auth/gmail.addons.execute",
    "https://www.googleapis.com/auth/gmail.addons.current.message.metadata",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/script.locale",
    "https://www.googleapis.com/auth/gmail.addons.current.action.compose",
)
LOGO_URL = "https://www.gstatic.com/images/icons/material/system/1x/schedule_black_48dp.png"
DEFAULT_BASE_URL = "https://replywatch.example.com"


def build(base_url: str, name: str = "Replywatch") -> dict:
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname or "." not in parts.hostname:
        raise ValueError(f"{base_url!r}: Google calls add-ons only on a public https:// URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{base_url!r}: the base URL takes no query or fragment")
    base = base_url.rstrip("/")
    return {
        "oauthScopes": list(SCOPES),
        "addOns": {
            "common": {
                "name": name,
                "logoUrl": LOGO_URL,
                "layoutProperties": {"primaryColor": "#1a73e8"},
                "useLocaleFromApp": True,
                "homepageTrigger": {"runFunction": endpoint(base, "homepage")},
                "openLinkUrlPrefixes": [settings_url(base)],
            },
            "gmail": {
                "contextualTriggers": [
                    {"unconditional": {}, "onTriggerFunction": endpoint(base, "on-message")}
                ],
                "composeTrigger": {
                    "actions": [
                        {
                            "label": "Follow up if no reply",
                            "runFunction": endpoint(base, "compose"),
                            "logoUrl": LOGO_URL,
                        }
                    ],
                    "draftAccess": "METADATA",
                },
            },
            "httpOptions": {
                "authorizationHeader": "SYSTEM_ID_TOKEN",
                "granularOauthPermissionSupport": "OPT_IN",
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gmail.manifest", description=__doc__)
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help="public https base URL")
    parser.add_argument("--name", default="Replywatch", help="the add-on's name in Gmail")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.base_url, args.name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
