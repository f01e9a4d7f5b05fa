"""Google sign-in and "connect Gmail": the OAuth 2.0 web-server flow with google-auth-oauthlib.

    GET /settings/signin/google          sign in (scopes: openid, email)
    GET /settings/connect/google         connect a Gmail account (adds gmail.modify, offline);
                                         the add-on's authorization prompt links here too
    GET /settings/oauth/google/callback  the one redirect URI to register with Google

Both flows use PKCE (S256) and a random `state` kept in the session, checked on the way back;
the ID token is verified with google-auth against the configured certificate endpoint
(audience = our client id, issuer = Google). The refresh token goes straight into
`Store.add_account` / `reconnect_account`, which encrypt it (MultiFernet); it never reaches the
session, a page or a log. Disconnecting revokes it at `Config.google_revoke_uri`
(`revoke_refresh_token`, called by the settings page's disconnect).
"""

from __future__ import annotations

import json
import logging
import secrets

import google.auth.exceptions
import google.auth.transport.requests
import requests
from flask import Blueprint, flash, redirect, request, session, url_for
from google.oauth2 import id_token
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from watcher.config import Config
from watcher.errors import ConflictError, ReplywatchError
from watcher.mailbox import AccountSpec, open_mailbox
from watcher.user_data import revoke_google_token
from web import auth

from .api import SCOPES as GMAIL_SCOPES
from .identity import user_for_google

log = logging.getLogger(__name__)

bp = Blueprint("google_oauth", __name__)

EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"  # what Google returns for "email"
SIGNIN_SCOPES = ("openid", EMAIL_SCOPE)
CONNECT_SCOPES = ("openid", EMAIL_SCOPE, *GMAIL_SCOPES)
ISSUERS = ("accounts.google.com", "https://accounts.google.com")
TIMEOUT = 15


class GoogleFlowFailed(ReplywatchError):
    """Google sign-in or connection did not complete."""

    status_code = 400


def redirect_uri(cfg: Config) -> str:
    return cfg.base_url.rstrip("/") + "/settings/oauth/google/callback"


def _flow(cfg: Config, scopes, state: str | None = None) -> Flow:
    client = {
        "web": {
            "client_id": cfg.google_client_id,
            "client_secret": cfg.google_client_secret,
            "auth_uri": cfg.google_auth_uri,
            "token_uri": cfg.google_token_uri,
            "redirect_uris": [redirect_uri(cfg)],
        }
    }
    return Flow.from_client_config(
        client, scopes=list(scopes), redirect_uri=redirect_uri(cfg), state=state
    )


def _start(purpose: str, scopes, **params):
    cfg = auth.config()
    missing = auth.missing_google_settings(cfg)
    if missing:
        flash(f"Google is not configured on this server: set {', '.join(missing)}.", "error")
        return redirect(url_for("settings.signin"))
    flow = _flow(cfg, scopes, state=secrets.token_urlsafe(24))
    nonce = secrets.token_urlsafe(24)  # the ID token must echo it: it was minted for us
    url, state = flow.authorization_url(nonce=nonce, **params)
    # Kept in the (signed, HttpOnly) session only until the callback: state, nonce and the
    # PKCE verifier.
    session["google_oauth"] = {
        "purpose": purpose,
        "state": state,
        "nonce": nonce,
        "verifier": flow.code_verifier,
        "next": auth.safe_next(request.args.get("next")),
    }
    return redirect(url)


@bp.get("/settings/signin/google")
def signin():
    """Sign in with Google (OpenID Connect): only the address is asked for."""
    # Online access: sign-in needs only the ID token. (google-auth-oauthlib asks "offline" by
    # default, which made Google mint a refresh token that was then thrown away.)
    return _start("signin", SIGNIN_SCOPES, prompt="select_account", access_type="online")


@bp.get("/settings/connect/google")
def connect():
    """Connect a Gmail account: offline access (a refresh token), the one Gmail scope we use."""
    params = {"access_type": "offline", "prompt": "consent", "include_granted_scopes": "false"}
    hint = request.args.get("login_hint") or ""
    if "@" in hint:
        params["login_hint"] = hint
    return _start("connect", CONNECT_SCOPES, **params)


@bp.get("/settings/oauth/google/callback")
def callback():
    pending = session.pop("google_oauth", None)
    back = url_for("settings.accounts") if auth.current_user() else url_for("settings.signin")
    if not pending or not secrets.compare_digest(
        request.args.get("state", ""), pending.get("state", "")
    ):
        flash(
            "That Google sign-in could not be matched to this browser (it expired, or it was "
            "started elsewhere). Please start again.",
            "error",
        )
        return redirect(back), 303
    if request.args.get("error"):
        reason = "you declined" if request.args["error"] == "access_denied" else "Google refused"
        flash(f"Nothing was changed: {reason} ({request.args['error'][:40]}).", "error")
        return redirect(back), 303
    try:
        creds, claims = _exchange(pending, request.args.get("code", ""))
        if pending["purpose"] == "signin":
            user = _user_for(claims)
            auth.sign_in(user)
            return redirect(pending["next"]), 303
        email = _connect(creds, claims)
    except ReplywatchError as e:
        flash(e.message, "error")
        return redirect(back), 303
    flash(
        f"Connected {email} through the Gmail API. If you came from the Gmail add-on, you can "
        "close this tab and go back to Gmail.",
        "ok",
    )
    return redirect(url_for("settings.accounts")), 303


def _exchange(pending: dict, code: str):
    """Trade the code (with the PKCE verifier) for tokens; verify the ID token."""
    cfg = auth.config()
    scopes = SIGNIN_SCOPES if pending["purpose"] == "signin" else CONNECT_SCOPES
    flow = _flow(cfg, scopes, state=pending["state"])
    flow.code_verifier = pending["verifier"]
    try:
        flow.fetch_token(code=code, timeout=TIMEOUT)
    except OAuth2Error as e:
        raise GoogleFlowFailed(f"Google did not accept the sign-in ({e.error}).") from None
    except Warning as w:
        if getattr(w, "new_scope", None) is not None:  # oauthlib: "Scope has changed from ..."
            _partial_grant(cfg, pending, w)
        log.warning("token exchange failed: %s", type(w).__name__)
        raise GoogleFlowFailed("Google could not be reached to finish signing in.") from None
    except requests.RequestException as e:
        log.warning("token exchange failed: %s", type(e).__name__)
        raise GoogleFlowFailed("Google could not be reached to finish signing in.") from None
    creds = flow.credentials
    try:
        claims = id_token.verify_token(
            creds.id_token,
            google.auth.transport.requests.Request(),
            audience=cfg.google_client_id,
            certs_url=cfg.google_certs_uri,
            clock_skew_in_seconds=30,
        )
    except (ValueError, google.auth.exceptions.GoogleAuthError) as e:
        log.warning("ID token rejected: %s", type(e).__name__)
        raise GoogleFlowFailed("Google's answer could not be verified; nothing changed.") from None
    if not secrets.compare_digest(str(claims.get("nonce", "")), pending.get("nonce", "")):
        log.warning("ID token rejected: its nonce is not the one this sign-in sent")
        raise GoogleFlowFailed("Google's answer was not made for this sign-in; nothing changed.")
    if claims.get("iss") not in ISSUERS:
        raise GoogleFlowFailed("Google's answer came from an unexpected issuer.")
    if not claims.get("email") or not claims.get("email_verified"):
        raise GoogleFlowFailed("Google did not confirm an e-mail address for that account.")
    return creds, claims


# gmail.modify as Google's consent screen names it (Google's client libraries' scope text, e.g.
# GmailScopes.GMAIL_MODIFY: "Read, compose, and send emails from your Gmail account").
GMAIL_BOX = "Read, compose, and send emails from your Gmail account"


def _partial_grant(cfg: Config, pending: dict, w: Warning) -> None:
    """Under granular consent the user may untick scopes: Google then grants fewer than asked,
    and oauthlib says so with a Warning carrying the token. Without Gmail access Replywatch can
    do nothing, so the partial grant is revoked (nothing half-connected stays at Google) and
    the user is told which box to tick."""
    granted = set(getattr(w, "new_scope", None) or ())
    token = getattr(w, "token", None) or {}
    if pending["purpose"] != "connect" or set(GMAIL_SCOPES) <= granted:
        return
    grant = token.get("refresh_token") or token.get("access_token")
    withdrawn = bool(grant) and revoke_refresh_token(cfg, grant)
    raise GoogleFlowFailed(
        "Nothing was connected: on Google's permission screen the box "
        f'"{GMAIL_BOX}" was not ticked, and Replywatch needs it to see replies and send your '
        "follow-ups. "
        + (
            "The partial permission was withdrawn. "
            if withdrawn
            else "Remove Replywatch at myaccount.google.com/permissions. "
        )
        + "Press Connect Google again and tick that box."
    )


def _user_for(claims: dict):
    """The user of a verified Google identity, pinned by subject (gmail.identity)."""
    store = auth.store()
    signed_in = auth.current_user()
    with store.session() as s:
        return user_for_google(
            store, s, auth.config(), claims, signed_in=signed_in.id if signed_in else None
        )


def _connect(creds, claims) -> str:
    """Check the new grant against the Gmail API, then save it on the user's account record."""
    cfg = auth.config()
    email = claims["email"].strip().lower()
    if not creds.refresh_token:
        raise GoogleFlowFailed(
            "Google sent no refresh token, so Replywatch could not work while you are away. "
            "Remove Replywatch at myaccount.google.com/permissions and connect again."
        )
    secret = json.dumps({"refresh_token": creds.refresh_token})
    spec = AccountSpec(kind="gmail", email=email, settings={}, secret=secret)
    try:
        with open_mailbox(spec, cfg) as mailbox:
            mailbox.check()
    except ReplywatchError:
        revoke_refresh_token(cfg, creds.refresh_token)
        raise
    store = auth.store()
    user = auth.current_user()
    signing_in = user is None  # started signed out (e.g. from the add-on): this signs in too
    if signing_in:
        user = _user_for(claims)
    with store.session() as s:
        owner = store.get_user(s, user.id)
        if owner.google_sub is None and store.user_by_google_sub(s, claims["sub"]) is None:
            # Link the Google identity to this user, so "Sign in with Google" (and an add-on
            # looking users up by subject) finds this same record later.
            owner.google_sub = claims["sub"]
        existing = next((a for a in store.list_accounts(s, owner.id) if a.email == email), None)
        settings = {"scopes": sorted(creds.scopes or CONNECT_SCOPES)}
        if existing is not None:
            if existing.kind != "gmail" and existing.status != "disabled":
                raise ConflictError(
                    f"{email} is already connected over IMAP; disconnect it first to use the "
                    "Gmail API instead"
                )
            existing.kind = "gmail"
            store.reconnect_account(s, existing, settings=settings, secret=secret, now=auth.now())
        else:
            store.add_account(
                s,
                owner,
                kind="gmail",
                email=email,
                settings=settings,
                secret=secret,
                display_name=claims.get("name", ""),
                now=auth.now(),
            )
    if signing_in:
        auth.sign_in(user)
    return email


def revoke_refresh_token(cfg: Config, refresh_token: str) -> bool:
    """Ask Google to revoke a grant; False if it could not confirm (the caller says so)."""
    return revoke_google_token(cfg.google_revoke_uri, refresh_token)
