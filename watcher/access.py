"""Who may use this deployment: one rule for the settings page, Google sign-in and the add-on.

- REPLYWATCH_ALLOWED_USERS set: the addresses and `@domain` entries on it may sign in with
  Google and use the add-on.
- Empty (the default) fails closed: only the owner may, i.e. the first user this deployment
  ever had (made by first-run setup, by the CLI, or by the very first Google sign-in while
  there was no user at all). Nobody else gets a user row just by having a Google account.
- A local password user was made by the operator (first-run setup or
  `python -m watcher user set-password`) and may always sign in with that password.

The rule is checked at sign-in *and* on every request, so taking an address off the list ends
its sessions at once.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import Config
from .models import User

MIN_PASSWORD_LENGTH = 10  # local passwords (settings page and CLI)


def owner(s: Session) -> User | None:
    """The first user ever made (lowest id), or None on a fresh deployment."""
    return s.scalar(select(User).order_by(User.id).limit(1))


def may_use_google(config: Config, s: Session, email: str) -> bool:
    """Whether a verified Google address may sign in or use the add-on."""
    email = email.strip().lower()
    if config.allowed_users:
        return config.listed(email)
    first = owner(s)
    return first is None or first.email == email


def may_stay_signed_in(config: Config, s: Session, user: User) -> bool:
    """Checked on every request: a password user always, a Google user while still allowed."""
    return bool(user.password_hash) or may_use_google(config, s, user.email)


def who_may_sign_in(config: Config) -> str:
    """The start-up line that says who may sign in."""
    if config.allowed_users:
        return (
            "Who may sign in with Google: "
            + ", ".join(config.allowed_users)
            + " (REPLYWATCH_ALLOWED_USERS)"
        )
    return (
        "Who may sign in with Google: only the owner (the first user); set "
        "REPLYWATCH_ALLOWED_USERS to let others in"
    )
