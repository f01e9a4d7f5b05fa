"""The Replywatch user of a verified Google identity (Google sign-in, Gmail connect, add-on).

One rule for all three, pinned on Google's stable account id (`sub`), never on the address
alone (an address can change hands; a Workspace admin can re-create it):
1. watcher.access decides whether this address may use the deployment at all (else refused:
   no user row is made for an address that is not let in);
2. a user already pinned to this `sub` is the one;
3. an address with no user yet: a new user, pinned to this `sub`;
4. an existing user of that address pinned to another `sub`: refused;
5. an existing user with no `sub` yet (a local password user) is linked by address only when
   that user is the one signed in right now, or when Google vouches for the address: the ID
   token's `hd` claim names the address's domain (a Workspace domain Google hosts) or the
   address is @gmail.com/@googlemail.com. Anything else would let whoever controls a Google
   account for that address (a consumer account on someone else's domain) take the user over.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from watcher import access
from watcher.config import Config
from watcher.errors import ReplywatchError
from watcher.models import User
from watcher.store import Store

GOOGLE_MAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


class GoogleIdentityRefused(ReplywatchError):
    """This Google identity may not be (or become) that user."""

    status_code = 403


def google_vouches(email: str, claims: dict) -> bool:
    """Google itself hosts this address: a Workspace domain (`hd`) or Gmail."""
    domain = email.rsplit("@", 1)[-1].lower()
    hd = claims.get("hd")
    return (isinstance(hd, str) and hd.lower() == domain) or domain in GOOGLE_MAIL_DOMAINS


def user_for_google(
    store: Store, s: Session, config: Config, claims: dict, *, signed_in: int | None = None
) -> User:
    """The user of verified claims (`email`, `sub`, maybe `hd`); see the module docstring."""
    email, sub = str(claims["email"]).strip().lower(), str(claims["sub"])
    if not access.may_use_google(config, s, email):
        raise GoogleIdentityRefused(
            f"{email} may not use this Replywatch deployment: its operator lets in only its "
            "owner and the addresses on REPLYWATCH_ALLOWED_USERS. Ask them to add yours."
        )
    user = store.user_by_google_sub(s, sub)
    if user is not None:
        return user
    user = store.user_by_email(s, email)
    if user is None:
        user = store.get_or_create_user(s, email)
    elif user.google_sub:
        raise GoogleIdentityRefused(f"{email} is linked to a different Google account")
    elif user.id != signed_in and not google_vouches(email, claims):
        raise GoogleIdentityRefused(
            f"{email} already has a Replywatch password: sign in with it first, then connect "
            "Google on the Accounts page to link the two"
        )
    user.google_sub = sub
    return user
