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
        common: dict = {"hostApp": "GMAIL", "platform": "WEB", "userLocale": "en-US"}
        if tz:
            common["timeZone"] = {"id": tz, "offset": 3600000}
        if form:
            common["formInputs"] = form
        if params:
            common["parameters"] = params
        event = {
            "commonEventObject": common,
            "authorizationEventObject": {
                "userOAuthToken": "ya29.none",
                "userIdToken": self.user_token(email),
                "systemIdToken": "unused",
            },
        }
        if msg is not None:
            user_token, message_token = tokens or self.google.gmail.addon_tokens(email, msg.id)
            event["authorizationEventObject"]["userOAuthToken"] = user_token
            event["gmail"] = {
                "messageId": f"msg-f:{int(msg.id, 16)}",
                "threadId": f"thread-f:{int(msg.thread_id, 16)}",
                "accessToken": message_token,
            }
        return event

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
