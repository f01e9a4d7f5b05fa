"""Google's OAuth 2.0 / OpenID endpoints, emulated on 127.0.0.1 (tests only).

Follows developers.google.com/identity/protocols/oauth2 (web server flow) and the formats in
reference/mail-mechanics.md 1.4 and 2.5:

- GET  /o/oauth2/v2/auth   authorization endpoint; the "browser" is signed in as
                           `login_hint` (or `default_login`) and is redirected back with
                           `code` and `state` (or `error=access_denied` after `deny_next`).
- POST /token              grant_type authorization_code (PKCE S256/plain checked) and
                           refresh_token; client credentials in the form or HTTP Basic.
                           Errors: 400 invalid_grant, 401 invalid_client,
                           400 unsupported_grant_type.
- POST /revoke             token=... (refresh or access); a refresh token takes its access tokens.
                           200 on success, 400 {"error": "invalid_token"} for an unknown or
                           revoked one ("Using OAuth 2.0 for Web Server Applications",
                           developers.google.com/identity/protocols/oauth2/web-server,
                           section "Revoking a token").
- GET  /v1/userinfo        OpenID userinfo for a Bearer access token.
- GET  /oauth2/v1/certs    {"kid": "<PEM certificate>"}; /oauth2/v3/certs the same key as JWKS.

Granular consent: Google's consent screen lets the user untick each scope but the basic sign-in
ones (openid, email, profile); the redirect and the token response then name only the granted
scopes in `scope` ("Using OAuth 2.0 to Access Google APIs", granular permissions: the `scope`
of the response lists the scopes granted). `untick_next` is what the next user leaves unticked.

ID tokens are RS256 JWTs (kid in the header) signed by a key generated at start, so
google.oauth2.id_token.verify_token(..., certs_url=<emulator>/oauth2/v1/certs) accepts them.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from tests.emulators.http import EmulatorServer, Request, Response

GMAIL_MODIFY = "https://www.googleapis.com/auth/gmail.modify"
DEFAULT_SCOPES = ("openid", "email", GMAIL_MODIFY)
ACCESS_TOKEN_SECONDS = 3599
ISSUER = "https://accounts.google.com"


@dataclass
class Grant:
    email: str
    client_id: str
    scopes: tuple[str, ...]
    revoked: bool = False


@dataclass
class AccessToken:
    email: str
    client_id: str
    scopes: tuple[str, ...]
    expires: float
    refresh_token: str | None = None


@dataclass
class AuthCode:
    email: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    challenge: str | None
    method: str
    offline: bool
    nonce: str | None
    used: bool = False


@dataclass
class OAuthState:
    clients: dict[str, dict] = field(default_factory=dict)  # id -> {"secret", "redirect_uris"}
    users: dict[str, str] = field(default_factory=dict)  # email -> display name
    refresh: dict[str, Grant] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)


class OAuthEmulator:
    def __init__(self, client_id: str = "replywatch-test.apps.googleusercontent.com"):
        self.lock = threading.RLock()
        self.state = OAuthState()
        self.client_id = client_id
        self.client_secret = "GOCSPX-" + secrets.token_urlsafe(18)
        self.add_client(client_id, self.client_secret)
        self.default_login: str | None = None
        self.deny_next = False
        self.untick_next: set[str] = set()  # scopes the next consenting user leaves unticked
        # Claims forced into the next ID tokens (tests: a replayed or forged token's nonce).
        self.id_token_overrides: dict = {}
        self.token_requests: list[dict] = []  # grant_type and outcome of every POST /token
        self.kid = secrets.token_hex(20)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._pem_key = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.cert_pem = self._certificate()
        self.signer = crypt.RSASigner.from_string(self._pem_key, key_id=self.kid)
        self.server = EmulatorServer(self.handle)
        self.url = self.server.url

    # -- lifecycle / test API --------------------------------------------------------------

    def start(self) -> OAuthEmulator:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def endpoints(self) -> dict[str, str]:
        return {
            "google_auth_uri": f"{self.url}/o/oauth2/v2/auth",
            "google_token_uri": f"{self.url}/token",
            "google_revoke_uri": f"{self.url}/revoke",
            "google_userinfo_uri": f"{self.url}/v1/userinfo",
            "google_certs_uri": f"{self.url}/oauth2/v1/certs",
            "google_client_id": self.client_id,
            "google_client_secret": self.client_secret,
        }

    def add_client(self, client_id: str, secret: str, redirect_uris=None) -> None:
        with self.lock:
            self.state.clients[client_id] = {"secret": secret, "redirect_uris": redirect_uris}

    def add_user(self, email: str, name: str = "") -> None:
        with self.lock:
            self.state.users[email.lower()] = name

    def issue_refresh_token(self, email: str, scopes=DEFAULT_SCOPES, client_id=None) -> str:
        """A refresh token as if the user had completed consent (no browser needed)."""
        token = "1//emu-" + secrets.token_urlsafe(24)
        with self.lock:
            self.state.refresh[token] = Grant(
                email.lower(), client_id or self.client_id, tuple(scopes)
            )
        return token

    def revoke_user(self, email: str) -> None:
        """The user removed the app's access (or Google expired their tokens)."""
        with self.lock:
            for grant in self.state.refresh.values():
                if grant.email == email.lower():
                    grant.revoked = True
            for token in [t for t, a in self.state.access.items() if a.email == email.lower()]:
                del self.state.access[token]

    def restore_user(self, email: str) -> None:
        with self.lock:
            for grant in self.state.refresh.values():
                if grant.email == email.lower():
                    grant.revoked = False

    def expire_access_tokens(self) -> None:
        with self.lock:
            for a in self.state.access.values():
                a.expires = 0

    def access_info(self, token: str) -> AccessToken | None:
        """The live access token's grant, or None (unknown, expired or revoked)."""
        with self.lock:
            a = self.state.access.get(token)
            if a is None or a.expires < time.time():
                return None
            if a.refresh_token and self.state.refresh[a.refresh_token].revoked:
                return None
            return a

    def id_token(self, claims: dict | None = None, **overrides) -> str:
        """An RS256 ID token signed with the key the certs endpoint serves."""
        now = int(time.time())
        payload = {"iss": ISSUER, "iat": now, "exp": now + 3600, "aud": self.client_id}
        payload.update(claims or {})
        payload.update(overrides)
        return jwt.encode(self.signer, payload).decode()

    # -- HTTP -------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        routes = {
            ("GET", "/o/oauth2/v2/auth"): self._authorize,
            ("GET", "/o/oauth2/auth"): self._authorize,
            ("POST", "/token"): self._token,
            ("POST", "/revoke"): self._revoke,
            ("GET", "/v1/userinfo"): self._userinfo,
            ("GET", "/oauth2/v3/userinfo"): self._userinfo,
            ("GET", "/oauth2/v1/certs"): self._certs_pem,
            ("GET", "/oauth2/v3/certs"): self._certs_jwks,
        }
        fn = routes.get((req.method, req.path))
        if fn is None:
            return Response(404, "<h1>404. That's an error.</h1>")
        with self.lock:
            return fn(req)

    def _authorize(self, req: Request) -> Response:
        client_id = req.arg("client_id") or ""
        client = self.state.clients.get(client_id)
        if client is None:
            return Response(
                401, "<h1>Error 401: invalid_client</h1><p>The OAuth client was not found."
            )
        redirect_uri = req.arg("redirect_uri") or ""
        allowed = client["redirect_uris"]
        if not redirect_uri or (allowed is not None and redirect_uri not in allowed):
            return Response(400, "<h1>Error 400: redirect_uri_mismatch</h1>")
        if req.arg("response_type") != "code":
            return _redirect(
                redirect_uri, error="unsupported_response_type", state=req.arg("state")
            )
        scopes = tuple((req.arg("scope") or "").split())
        if not scopes:
            return Response(
                400, "<h1>Error 400: invalid_request</h1><p>Missing required parameter: scope"
            )
        if self.deny_next:
            self.deny_next = False
            return _redirect(redirect_uri, error="access_denied", state=req.arg("state"))
        login = (req.arg("login_hint") or self.default_login or "").lower()
        if login not in self.state.users:
            return Response(400, f"<h1>Sign in</h1><p>No emulated Google account {login!r}")
        basic = {"openid", "email", "profile", "https://www.googleapis.com/auth/userinfo.email"}
        scopes = tuple(sc for sc in scopes if sc in basic or sc not in self.untick_next)
        self.untick_next = set()
        method = req.arg("code_challenge_method") or "plain"
        code = "4/emu-" + secrets.token_urlsafe(24)
        self.state.codes[code] = AuthCode(
            email=login,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            challenge=req.arg("code_challenge"),
            method=method,
            offline=req.arg("access_type") == "offline",
            nonce=req.arg("nonce"),
        )
        return _redirect(redirect_uri, code=code, scope=" ".join(scopes), state=req.arg("state"))

    def _client_auth(self, req: Request, form: dict) -> str | None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = req.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            decoded = base64.b64decode(auth[6:]).decode()
            client_id, _, secret = decoded.partition(":")
        client = self.state.clients.get(client_id or "")
        if client is None or not secrets.compare_digest(client["secret"], secret or ""):
            return None
        return client_id

    def _token(self, req: Request) -> Response:
        form = req.form()
        grant_type = form.get("grant_type", "")
        client_id = self._client_auth(req, form)
        outcome = self._token_outcome(form, grant_type, client_id)
        self.token_requests.append({"grant_type": grant_type, "status": outcome.status})
        return outcome

    def _token_outcome(self, form: dict, grant_type: str, client_id: str | None) -> Response:
        if client_id is None:
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if grant_type == "authorization_code":
            code = self.state.codes.get(form.get("code", ""))
            if code is None or code.client_id != client_id:
                return _oauth_error(400, "invalid_grant", "Malformed auth code.")
            if code.used:
                return _oauth_error(400, "invalid_grant", "Bad Request")
            if form.get("redirect_uri") != code.redirect_uri:
                return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
            if code.challenge is not None:
                verifier = form.get("code_verifier")
                if not verifier:
                    return _oauth_error(400, "invalid_grant", "Missing code verifier.")
                if _challenge(verifier, code.method) != code.challenge:
                    return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
            code.used = True
            refresh = None
            if code.offline:
                refresh = self.issue_refresh_token(code.email, code.scopes, client_id)
            body = self._tokens(code.email, client_id, code.scopes, refresh, True, nonce=code.nonce)
            return Response(200, body)
        if grant_type == "refresh_token":
            token = form.get("refresh_token", "")
            grant = self.state.refresh.get(token)
            if grant is None or grant.revoked or grant.client_id != client_id:
                return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            body = self._tokens(grant.email, client_id, grant.scopes, None, False, token)
            return Response(200, body)
        return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _tokens(
        self, email, client_id, scopes, refresh, with_refresh, parent=None, nonce=None
    ) -> dict:
        access = "ya29.emu-" + secrets.token_urlsafe(32)
        self.state.access[access] = AccessToken(
            email, client_id, scopes, time.time() + ACCESS_TOKEN_SECONDS, refresh or parent
        )
        body = {
            "access_token": access,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }
        if with_refresh and refresh:
            body["refresh_token"] = refresh
        if "openid" in scopes:
            # Google echoes the authorization request's nonce in the ID token (OIDC 3.1.2.1).
            claims = {"nonce": nonce} if nonce else {}
            body["id_token"] = self.id_token(
                {**claims, **self.id_token_overrides},
                sub=_sub(email),
                email=email,
                email_verified=True,
                azp=client_id,
            )
        return body

    def _revoke(self, req: Request) -> Response:
        token = req.arg("token") or req.form().get("token", "")
        if token in self.state.refresh:
            self.state.refresh[token].revoked = True
            for t in [t for t, a in self.state.access.items() if a.refresh_token == token]:
                del self.state.access[t]
            return Response(200, {})
        if token in self.state.access:
            del self.state.access[token]
            return Response(200, {})
        return _oauth_error(400, "invalid_token", "Token expired or revoked")

    def _userinfo(self, req: Request) -> Response:
        auth = req.headers.get("Authorization", "")
        info = self.access_info(auth[7:]) if auth.startswith("Bearer ") else None
        if info is None:
            return Response(
                401,
                {"error": "invalid_request", "error_description": "Invalid Credentials"},
                {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
        return Response(
            200,
            {
                "sub": _sub(info.email),
                "email": info.email,
                "email_verified": True,
                "name": self.state.users.get(info.email, ""),
            },
        )

    def _certs_pem(self, req: Request) -> Response:
        return Response(200, {self.kid: self.cert_pem}, {"Cache-Control": "public, max-age=3600"})

    def _certs_jwks(self, req: Request) -> Response:
        numbers = self._key.public_key().public_numbers()
        key = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": _b64int(numbers.n),
            "e": _b64int(numbers.e),
        }
        return Response(200, {"keys": [key]})

    def _certificate(self) -> str:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "emulated.googleapis.test")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=14))
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()


def _redirect(uri: str, **params) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    sep = "&" if urlsplit(uri).query else "?"
    return Response(302, "", {"Location": f"{uri}{sep}{query}"})


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response(status, {"error": error, "error_description": description})


def _challenge(verifier: str, method: str) -> str:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return verifier


def _sub(email: str) -> str:
    return str(int(hashlib.sha256(email.encode()).hexdigest()[:15], 16))


def _b64int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def query_of(location: str) -> dict[str, str]:
    """The query parameters of a redirect Location, for tests driving the browser flow."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
