"""addon_manifest.json is a valid Deployment for `gcloud workspace-add-ons deployments create`."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from google.cloud import gsuiteaddons_v1
from google.protobuf import json_format

from gmail import manifest

ROOT = Path(__file__).resolve().parents[2]


def parse_strictly(descriptor: dict) -> gsuiteaddons_v1.Deployment:
    """Strict proto parse. The PyPI proto predates granularOauthPermissionSupport (required
    for HTTP add-ons since 2025), so exactly that one field is checked and set aside."""
    descriptor = json.loads(json.dumps(descriptor))
    assert descriptor["addOns"]["httpOptions"].pop("granularOauthPermissionSupport") == "OPT_IN"
    pb = gsuiteaddons_v1.Deployment.pb(gsuiteaddons_v1.Deployment())
    json_format.ParseDict(descriptor, pb)
    return pb


def test_committed_manifest_is_the_generated_one_and_valid():
    committed = json.loads((ROOT / "addon_manifest.json").read_text())
    assert committed == manifest.build(manifest.DEFAULT_BASE_URL)
    parse_strictly(committed)


def test_all_urls_come_from_the_base_url():
    pb = parse_strictly(manifest.build("https://mail-tools.example.org/rw/"))
    base = "https://mail-tools.example.org/rw"
    assert pb.add_ons.common.homepage_trigger.run_function == f"{base}/addon/homepage"
    [trigger] = pb.add_ons.gmail.contextual_triggers
    assert trigger.on_trigger_function == f"{base}/addon/on-message"
    assert trigger.HasField("unconditional")
    assert list(pb.add_ons.common.open_link_url_prefixes) == [f"{base}/settings/"]
    assert pb.add_ons.http_options.authorization_header == 1  # SYSTEM_ID_TOKEN


def test_the_compose_trigger_opens_the_follow_up_card_with_the_draft_metadata():
    pb = parse_strictly(manifest.build("https://mail-tools.example.org/rw/"))
    compose = pb.add_ons.gmail.compose_trigger
    [action] = compose.actions
    assert action.run_function == "https://mail-tools.example.org/rw/addon/compose"
    assert action.label == "Follow up if no reply" and action.logo_url.startswith("https://")
    # METADATA: Gmail sends the draft's Bcc, which the tag must keep (the update replaces it).
    assert compose.draft_access == compose.DraftAccess.METADATA


def test_scopes_are_the_needed_ones_only():
    scopes = set(manifest.build(manifest.DEFAULT_BASE_URL)["oauthScopes"])
    assert scopes == {
        "https://www.googleapis.com/auth/gmail.addons.execute",
        "https://www.googleapis.com/auth/gmail.addons.current.message.metadata",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/script.locale",
        # Every compose-time add-on needs it (reference google.apps.script.type.gmail).
        "https://www.googleapis.com/auth/gmail.addons.current.action.compose",
    }


@pytest.mark.parametrize(
    "base",
    [
        "http://replywatch.example.com",
        "https://localhost",
        "ftp://x.example",
        "https://x.example/?a=1",
    ],
)
def test_base_urls_google_cannot_call_are_refused(base):
    with pytest.raises(ValueError):
        manifest.build(base)


def test_the_command_prints_the_descriptor_for_a_base_url():
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert manifest.main(["--base-url", "https://rw.example.net"]) == 0
        assert manifest.main(["--base-url", "http://rw.example.net"]) == 2
    printed = json.loads(out.getvalue())
    assert printed["addOns"]["common"]["homepageTrigger"]["runFunction"] == (
        "https://rw.example.net/addon/homepage"
    )
    assert printed["addOns"]["gmail"]["composeTrigger"]["actions"][0]["runFunction"] == (
        "https://rw.example.net/addon/compose"
    )
    assert "https://" in err.getvalue()
