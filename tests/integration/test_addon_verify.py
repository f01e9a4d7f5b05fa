"""gmail/verify.py against the emulated certificate endpoint, with real google-auth."""

from __future__ import annotations

import base64
import json
import time

import pytest
from flask import Flask, g, jsonify

from gmail import verify
from tests.support.addon import (
    OTHER_PROJECT,
    SERVICE_ACCOUNT,
    foreign_signer,
    sign,
)

AUD = "https://replywatch.test/addon/homepage"


@pytest.fixture
def certs_url(google):
    verify.clear_cache()
    return google.oauth.url + "/oauth2/v1/certs"


def good(google, **claims) -> str:
    base = {"aud": AUD, "email": SERVICE_ACCOUNT, "email_verified": True, "sub": "1"}
    base.update(claims)
    return sign(google.oauth.signer, **base)


def test_a_google_signed_token_verifies(google, certs_url):
    claims = verify.verify_id_token(good(google), audience=AUD, certs_url=certs_url)
    assert claims["email"] == SERVICE_ACCOUNT
    both = [AUD, "https://replywatch.test/addon/create"]
    assert verify.verify_id_token(good(google), audience=both, certs_url=certs_url)


def _unsigned(alg: str) -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time())
    payload = {"iss": "https://accounts.google.com", "aud": AUD, "iat": now, "exp": now + 60}
    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(payload)}."


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda gg: sign(foreign_signer(gg.oauth.kid), aud=AUD), id="foreign key"),
        pytest.param(lambda gg: sign(foreign_signer("other-kid"), aud=AUD), id="unknown kid"),
        pytest.param(lambda gg: good(gg, exp=int(time.time()) - 60), id="expired"),
        pytest.param(lambda gg: good(gg, iat=int(time.time()) + 600), id="issued in the future"),
        pytest.param(lambda gg: good(gg, aud=AUD + "?trigger=1"), id="audience with query"),
        pytest.param(lambda gg: good(gg, aud="https://evil.example/addon/homepage"), id="aud"),
        pytest.param(lambda gg: good(gg, iss="https://evil.example"), id="issuer"),
        pytest.param(lambda gg: _unsigned("none"), id="alg none"),
        pytest.param(lambda gg: _unsigned("HS256"), id="alg HS256"),
        pytest.param(lambda gg: "a.b.c", id="garbage"),
        pytest.param(lambda gg: "", id="empty"),
    ],
)
def test_tokens_that_prove_nothing_are_rejected(google, certs_url, make):
    with pytest.raises(verify.TokenRejected) as caught:
        verify.verify_id_token(make(google), audience=AUD, certs_url=certs_url)
    assert caught.value.status == 401


def test_certificates_are_fetched_once_and_a_forged_kid_does_not_refetch(google, certs_url):
    verify.verify_id_token(good(google), audience=AUD, certs_url=certs_url)
    first = verify._cache[certs_url]
    for _ in range(5):
        with pytest.raises(verify.TokenRejected):
            verify.verify_id_token(
                sign(foreign_signer("rotated-kid"), aud=AUD), audience=AUD, certs_url=certs_url
            )
        verify.verify_id_token(good(google), audience=AUD, certs_url=certs_url)
    assert verify._cache[certs_url] is first


def test_unreachable_certificates_are_a_503_not_a_pass(google):
    verify.clear_cache()
    app = _app("http://127.0.0.1:9/certs")
    response = app.test_client().post("/hook", headers={"Authorization": f"Bearer {good(google)}"})
    assert response.status_code == 503


def _app(certs_url: str, email: str = SERVICE_ACCOUNT) -> Flask:
    class Cfg:
        google_certs_uri = certs_url

    app = Flask(__name__)
    app.extensions["replywatch"] = {"config": Cfg()}

    @app.post("/hook")
    @verify.google_signed(audience=lambda: AUD, email=lambda: email)
    def hook():
        return jsonify(sub=g.google_claims["sub"])

    return app


@pytest.mark.parametrize(
    "header, status",
    [
        (None, 401),
        ("Basic abc", 401),
        ("Bearer ", 401),
        ("Bearer x.y.z", 401),
    ],
)
def test_decorator_needs_a_bearer_token(certs_url, header, status):
    client = _app(certs_url).test_client()
    headers = {"Authorization": header} if header else {}
    response = client.post("/hook", headers=headers)
    assert response.status_code == status
    assert "Bearer" in response.headers.get("WWW-Authenticate", "")


def test_decorator_checks_the_exact_service_account(google, certs_url):
    client = _app(certs_url).test_client()

    def call(token):
        return client.post("/hook", headers={"Authorization": f"Bearer {token}"})

    ok = call(good(google))
    assert ok.status_code == 200 and ok.get_json() == {"sub": "1"}
    assert call(good(google, email=OTHER_PROJECT)).status_code == 403
    assert call(good(google, email_verified=False)).status_code == 403
    assert call(good(google, email_verified="false")).status_code == 403
    unconfigured = _app(certs_url, email="").test_client()
    headers = {"Authorization": f"Bearer {good(google)}"}
    assert unconfigured.post("/hook", headers=headers).status_code == 403
