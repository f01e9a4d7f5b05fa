"""Drive the Gmail add-on as Google does: signed ID tokens, event JSON, Card v1 checks."""

from __future__ import annotations

import json
import time

from google.apps import card_v1
from google.auth import crypt, jwt
from google.protobuf import json_format

SERVICE_ACCOUNT = "service-123456789012@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
OTHER_PROJECT = "service-999999999999@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
ADDON_CLIENT_ID = "123456789012-addon.apps.googleusercontent.com"
BASE_URL = "https://replywatch.test"


def addon_overrides() -> dict:
    return {
        "base_url": BASE_URL,
        "addon_service_account_email": SERVICE_ACCOUNT,
        "addon_client_id": ADDON_CLIENT_ID,
    }


def foreign_signer(kid: str) -> crypt.RSASigner:
    """A key Google never published, under the kid Google's certs do list."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return crypt.RSASigner.from_string(pem, key_id=kid)


def sign(signer, **claims) -> str:
    now = int(time.time())
    payload = {"iss": "https://accounts.google.com", "iat": now, "exp": now + 3600}
    payload.update(claims)
    return jwt.encode(signer, payload).decode()


class Addon:
    """POSTs events to /addon/<name> with tokens signed by the emulator's key (or others)."""

    def __init__(self, client, google):
        self.client = client
        self.google = google

    def system_token(self, name: str, signer=None, **claims) -> str:
        base = {
            "aud": f"{BASE_URL}/addon/{name}",
            "email": SERVICE_ACCOUNT,
            "email_verified": True,
            "sub": "1029384756",
        }
        base.update(claims)
        return sign(signer or self.google.oauth.signer, **base)

    def user_token(self, email: str, signer=None, **claims) -> str:
        base = {"aud": ADDON_CLIENT_ID, "email": email, "email_verified": True, "sub": _sub(email)}
        base.update(claims)
        return sign(signer or self.google.oauth.signer, **base)

    def event(
        self,
        email: str,
        *,
        msg=None,
        tokens: tuple[str, str] | None = None,
        form: dict | None = None,
        params: dict | None = None,
        tz: str | None = "Europe/Berlin",
    ) -> dict:
        """An event as Google POSTs it, built from Google's published shapes:
        - the skeleton (commonEventObject hostApp/platform; authorizationEventObject
          userOAuthToken/systemIdToken/userIdToken; gmail messageId/threadId/accessToken) is the
          message-open example event of "Build a Google Workspace add-on using HTTP endpoints";
        - userLocale and timeZone {id, offset in ms} are its JSON schema's commonEventObject
          (present with useLocaleFromApp and script.locale, which the descriptor sets);
        - a homepage event has no gmail object ("Event objects": "fields pertaining to widgets
          and contextual information are omitted");
        - a card action carries formInputs {name: {stringInputs: {value: [...]}}} next to the
          open message's gmail ids, and the ids of a message the user sent are msg-a:r… /
          thread-a:r… (googleworkspace/gws-genai-addon-sample
          sample_data_delete_before_prod/generate_reply_post.json); received ones msg-f:… /
          thread-f:… (the page's example). The emulator hands out the right form per message.
        """
        event = self._skeleton(email, form, params, tz)
        if msg is not None:
            user_token, message_token = tokens or self.google.gmail.addon_tokens(email, msg.id)
            event["authorizationEventObject"]["userOAuthToken"] = user_token
            message_id, thread_id = self.google.gmail.addon_ids(email, msg)
            event["gmail"] = {
                "messageId": message_id,
                "threadId": thread_id,
                "accessToken": message_token,
            }
        return event

    def compose_event(
        self,
        email: str,
        *,
        form: dict | None = None,
        params: dict | None = None,
        to: tuple[str, ...] = (),
        cc: tuple[str, ...] = (),
        bcc: tuple[str, ...] = (),
        tz: str | None = "Europe/Berlin",
    ) -> dict:
        """A compose-trigger (or compose card action) event. With draftAccess NONE Gmail sends
        `"gmail": {}` (googleworkspace/gws-genai-addon-sample
        sample_data_delete_before_prod/compose_post.json); with METADATA, as our descriptor
        asks, the draft's toRecipients / ccRecipients / bccRecipients (lists of addresses: the
        gmailEventObject JSON schema of "Build a Google Workspace add-on using HTTP endpoints")."""
        event = self._skeleton(email, form, params, tz)
        event["authorizationEventObject"]["userOAuthToken"] = "ya29.compose-" + _sub(email)
        gmail: dict = {}
        for key, values in (("toRecipients", to), ("ccRecipients", cc), ("bccRecipients", bcc)):
            if values:
                gmail[key] = list(values)
        event["gmail"] = gmail
        return event

    def _skeleton(self, email, form, params, tz) -> dict:
        common: dict = {"hostApp": "GMAIL", "platform": "WEB", "userLocale": "en-US"}
        if tz:
            common["timeZone"] = {"id": tz, "offset": 3600000}
        if form:
            common["formInputs"] = form
        if params:
            common["parameters"] = params
        return {
            "commonEventObject": common,
            "authorizationEventObject": {
                "userOAuthToken": "ya29.none",
                "userIdToken": self.user_token(email),
                "systemIdToken": "unused",
            },
        }

    def post(self, name: str, event, token: str | None = "sign", raw: bytes | None = None):
        headers = {}
        if token == "sign":
            token = self.system_token(name)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else json.dumps(event)
        return self.client.post(
            f"/addon/{name}", data=data, headers=headers, content_type="application/json"
        )


def text(value: str) -> dict:
    return {"stringInputs": {"value": [value]}}


def when(ms: int) -> dict:
    return {"dateTimeInput": {"msSinceEpoch": ms, "hasDate": True, "hasTime": True}}


# -- Card v1 checks -------------------------------------------------------------------------


def check_card(card: dict) -> dict:
    """Raises json_format.ParseError unless `card` is a valid google.apps.card.v1.Card."""
    json_format.ParseDict(card, card_v1.Card.pb(card_v1.Card()))
    return card


def trigger_card(body: dict) -> dict:
    """The card of a trigger answer: exactly {"action": {"navigations": [{"pushCard": c}]}}."""
    assert set(body) == {"action"}, body.keys()
    navigations = body["action"]["navigations"]
    assert len(navigations) == 1 and set(navigations[0]) == {"pushCard"}
    return check_card(navigations[0]["pushCard"])


def action_parts(body: dict) -> tuple[list[dict], str | None]:
    """(cards, notification text) of a widget action answer, every card checked."""
    assert set(body) == {"renderActions"}, body.keys()
    action = body["renderActions"]["action"]
    assert set(action) <= {"navigations", "notification"}, action.keys()
    found = []
    for nav in action.get("navigations", []):
        assert len(nav) == 1 and next(iter(nav)) in {"pushCard", "updateCard", "pop"}, nav
        for key in ("pushCard", "updateCard"):
            if key in nav:
                found.append(check_card(nav[key]))
    note = action.get("notification", {}).get("text")
    assert found or note, "an action answer shows a card or a notification"
    return found, note


def widgets(card: dict) -> list[dict]:
    return [w for section in card.get("sections", []) for w in section.get("widgets", [])]


def card_text(card: dict) -> str:
    return json.dumps(card, ensure_ascii=False)


def buttons(card: dict) -> list[dict]:
    found = []
    for w in widgets(card):
        found.extend(w.get("buttonList", {}).get("buttons", []))
        if "button" in w.get("decoratedText", {}):
            found.append(w["decoratedText"]["button"])
    return found


def sub_of(email: str) -> str:
    """The Google account id (`sub`) the emulated Google gives this address."""
    return _sub(email)


def _sub(email: str) -> str:
    import hashlib

    return str(int(hashlib.sha256(email.encode()).hexdigest()[:15], 16))


# -- Google's schema for responses that change the host app (draft updates) --------------------
# google-apps-card has Card only; RenderActions / HostAppActionMarkup have no public Python
# proto. So the check is built from Google's published reference, strictly (an unknown key is
# an error; Google's JSON schemas list the keys but do not forbid others):
# - "Build a Google Workspace add-on using HTTP endpoints", JSON Response Objects: "Form submit"
#   {renderActions, stateChanged}, "Render action" {action {navigations[{popToRoot, pop,
#   popToCard, pushCard, updateCard}], link, notification {text}}, hostAppAction, schema},
#   "Host app action markup" {gmailAction, ...}, "Gmail action markup";
# - field names and unions from "Package apps.extensions.markup": GmailClientActionMarkup is a
#   union (taskAction | updateDraftActionMarkup | openCreatedDraftActionMarkup |
#   addonComposeUiActionMarkup), HostAppActionMarkup a union, UpdateBccRecipients is
#   {bccRecipients[]: Recipient {email}}. (The page's JSON schema spells that list
#   "BccRecipients"; the reference's proto field, and so its JSON name, is bccRecipients.)


class OneOf(dict):
    """An object with exactly one of these keys (a proto oneof)."""


class Enum(frozenset):
    """A string among these."""


_RECIPIENTS = [{"email": str}]
_UPDATE_DRAFT = {
    "updateBody": {
        "insertContents": [
            {
                "content": str,
                "contentType": Enum({"TEXT", "MUTABLE_HTML", "IMMUTABLE_HTML"}),
            }
        ],
        "type": Enum({"IN_PLACE_INSERT", "INSERT_AT_START", "INSERT_AT_END", "REPLACE"}),
    },
    "updateToRecipients": {"toRecipients": _RECIPIENTS},
    "updateCcRecipients": {"ccRecipients": _RECIPIENTS},
    "updateBccRecipients": {"bccRecipients": _RECIPIENTS},
    "updateSubject": {"subject": str},
}
_GMAIL_ACTION = OneOf(
    updateDraftActionMarkup=_UPDATE_DRAFT,
    openCreatedDraftActionMarkup={"draftId": str, "draftThreadId": str, "draftStorageId": str},
    addonComposeUiActionMarkup={"type": Enum({"UNSPECIFIED", "DISMISS"})},
    taskAction={"reloadTasks": bool},
)
_NAVIGATION = OneOf(
    popToRoot=bool, pop=bool, popToCard=str, pushCard=check_card, updateCard=check_card
)
RENDER_ACTION = {
    "action": {"navigations": [_NAVIGATION], "notification": {"text": str}},
    "hostAppAction": OneOf(gmailAction=_GMAIL_ACTION),
    "schema": str,
}
SUBMIT_FORM_RESPONSE = {"renderActions": RENDER_ACTION, "stateChanged": bool}


def check_shape(value, schema, where: str = "response") -> None:
    """Raises AssertionError where `value` leaves the published shape `schema`."""
    if isinstance(schema, Enum):
        assert value in schema, f"{where}: {value!r} is not one of {sorted(schema)}"
    elif schema in (str, bool):
        assert isinstance(value, schema), f"{where}: {value!r} is not a {schema.__name__}"
    elif isinstance(schema, list):
        assert isinstance(value, list), f"{where} is not a list"
        for n, item in enumerate(value):
            check_shape(item, schema[0], f"{where}[{n}]")
    elif isinstance(schema, dict):
        assert isinstance(value, dict), f"{where} is not an object"
        unknown = set(value) - set(schema)
        assert not unknown, f"{where} has fields Google does not define: {sorted(unknown)}"
        if isinstance(schema, OneOf):
            assert len(value) == 1, f"{where} must set exactly one of {sorted(schema)}"
        for key, item in value.items():
            check_shape(item, schema[key], f"{where}.{key}")
    else:
        schema(value)  # a card: google.apps.card.v1.Card


def draft_update(body: dict) -> tuple[list[str], list[dict], str | None]:
    """(the draft's new Bcc, the cards shown, the notification) of a draft-update answer, the
    whole answer checked against Google's shape."""
    check_shape(body, SUBMIT_FORM_RESPONSE)
    render = body["renderActions"]
    markup = render["hostAppAction"]["gmailAction"]["updateDraftActionMarkup"]
    bcc = [r["email"] for r in markup["updateBccRecipients"]["bccRecipients"]]
    shown = [
        nav.get("updateCard") or nav.get("pushCard")
        for nav in render.get("action", {}).get("navigations", [])
        if "updateCard" in nav or "pushCard" in nav
    ]
    return bcc, shown, render.get("action", {}).get("notification", {}).get("text")
