"""Granular consent on "Connect Google": a user who unticks Gmail is told which box to tick,
and the partial grant is revoked at Google (the OAuth emulator grants only the ticked scopes,
as Google's consent screen does)."""

from __future__ import annotations

from tests.e2e.test_settings_http import _through_google, google_app  # noqa: F401 (fixture)

GMAIL_MODIFY = "https://www.googleapis.com/auth/gmail.modify"


def test_connect_without_the_gmail_box_says_which_box_and_revokes_the_partial_grant(
    google_app,  # noqa: F811
    google,
):
    alice = google.new_user("alice")
    client = google_app.test_client()
    google.oauth.untick_next = {GMAIL_MODIFY}
    callback = _through_google(client, "/settings/connect/google", alice.email)
    done = client.get(callback, follow_redirects=True)
    page = done.get_data(as_text=True)
    assert "Read, compose, and send emails from your Gmail account" in page
    assert "partial permission was withdrawn" in page
    assert "could not be reached" not in page
    store = google_app.extensions["replywatch"]["store"]
    with store.session() as s:
        assert store.list_accounts(s) == []
    with google.oauth.lock:
        grants = [g for g in google.oauth.state.refresh.values() if g.email == alice.email]
    assert grants and all(g.revoked for g in grants)  # nothing half-connected stays at Google

    # Ticked the second time: connected.
    callback = _through_google(client, "/settings/connect/google", alice.email)
    client.get(callback)
    with store.session() as s:
        [account] = store.list_accounts(s)
        assert account.email == alice.email and account.kind == "gmail"
