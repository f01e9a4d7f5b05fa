"""The settings page's forms (Flask-WTF: each carries the CSRF token).

Field checks here are the shallow ones (required, lengths); the meaning of a value (a delay, a
sending window, a template) is checked by the watcher's own parsers, so there is one rule each.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import EqualTo, InputRequired, Length, NumberRange, Optional, Regexp

from web.auth import MIN_PASSWORD_LENGTH

SECURITY = [("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("none", "None")]
REPLIER = [
    ("anyone", "Anyone on the thread (except you)"),
    ("recipients", "Only the people I wrote to"),
    ("domain", "Anyone at the recipients' domains"),
]
OOO = [
    ("pause", "Wait until they are back (uses the return date when the reply gives one)"),
    ("ignore", "Ignore it: keep the schedule"),
    ("reply", "Treat it as a reply: stop the follow-up"),
]
WINDOW = [
    ("mine", "Within my sending days and hours"),
    (
        "recipient",
        "Also within the recipient's working hours (Mon-Fri 09:00-17:00 in their time "
        "zone, learnt from the Date of their mail)",
    ),
]
OWN_MESSAGE = [
    ("restart", "Restart the wait"),
    ("ignore", "Keep the schedule"),
    ("stop", "Stop the follow-up"),
]
DAYS = [
    ("mon", "Mon"),
    ("tue", "Tue"),
    ("wed", "Wed"),
    ("thu", "Thu"),
    ("fri", "Fri"),
    ("sat", "Sat"),
    ("sun", "Sun"),
]
MODES = [("send", "Send a bump to them"), ("remind", "Only remind me (back to my inbox)")]

ADDRESS = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter an e-mail address.")

_SENT_HINT = (
    "Gmail files every message its SMTP server takes in Sent, so Sent tells whether a bump "
    "cut off mid-send went out."
)
_RECEIPT_HINT = (
    "Each bump also goes to you+rw-receipt@ (envelope only; filed away on arrival): its copy "
    "tells whether a bump cut off mid-send went out."
)
_OUTLOOK_HINT = (
    "Each bump also goes to you+rw-receipt@ (envelope only; filed away on arrival; needs plus "
    "addressing, on by default in Exchange Online): its copy tells whether a bump cut off "
    "mid-send went out."
)
_NONE_HINT = (
    "Yahoo has no plus addresses: a bump cut off mid-send is shown as unconfirmed and you say "
    "whether it arrived."
)

# Providers' documented servers. Most of them need an app password when 2-step sign-in is on.
# "evidence": what shows whether a bump cut off mid-send went out (watcher.evidence): "receipt"
# (a copy to you+rw-receipt@, envelope only), "sent" (the server files it in Sent) or "none".
PRESETS = {
    "gmail": {
        "label": "Gmail (app password)",
        "imap_host": "imap.gmail.com",
        "imap_port": 993,
        "imap_security": "ssl",
        "smtp_host": "smtp.gmail.com",
        "smtp_port": 465,
        "smtp_security": "ssl",
        "hint": "Create an app password at myaccount.google.com/apppasswords "
        "(needs 2-Step Verification). Or use Connect Google above: no password needed.",
        "evidence": "sent",
        "evidence_hint": _SENT_HINT,
    },
    "fastmail": {
        "label": "Fastmail",
        "imap_host": "imap.fastmail.com",
        "imap_port": 993,
        "imap_security": "ssl",
        "smtp_host": "smtp.fastmail.com",
        "smtp_port": 465,
        "smtp_security": "ssl",
        "hint": "Use an app password (Settings → Privacy & Security → App passwords).",
        "evidence": "receipt",
        "evidence_hint": _RECEIPT_HINT,
    },
    "outlook": {
        "label": "Outlook / Office 365",
        "imap_host": "outlook.office365.com",
        "imap_port": 993,
        "imap_security": "ssl",
        "smtp_host": "smtp.office365.com",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "hint": "Your organisation must allow IMAP and SMTP AUTH for your mailbox; "
        "with two-step verification, use an app password.",
        "evidence": "receipt",
        "evidence_hint": _OUTLOOK_HINT,
    },
    "icloud": {
        "label": "iCloud Mail",
        "imap_host": "imap.mail.me.com",
        "imap_port": 993,
        "imap_security": "ssl",
        "smtp_host": "smtp.mail.me.com",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "hint": "Create an app-specific password at account.apple.com.",
        "evidence": "receipt",
        "evidence_hint": _RECEIPT_HINT,
    },
    "yahoo": {
        "label": "Yahoo Mail",
        "imap_host": "imap.mail.yahoo.com",
        "imap_port": 993,
        "imap_security": "ssl",
        "smtp_host": "smtp.mail.yahoo.com",
        "smtp_port": 465,
        "smtp_security": "ssl",
        "hint": "Generate an app password in Yahoo Account Security.",
        "evidence": "none",
        "evidence_hint": _NONE_HINT,
    },
    "custom": {
        "label": "Another provider (enter servers)",
        "hint": "",
        # Known SMTP hosts get their provider's evidence (watcher.evidence); others none.
        "evidence_hint": "A bump cut off mid-send is shown as unconfirmed and you say whether "
        "it arrived (python -m watcher account add-imap --send-evidence receipt turns receipt "
        "copies on for a server that delivers you+tag@ addresses).",
    },
}


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class SigninForm(FlaskForm):
    email = EmailField("E-mail", validators=[InputRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=200)])


class SetupForm(FlaskForm):
    email = EmailField(
        "Your e-mail address", validators=[InputRequired(), ADDRESS, Length(max=320)]
    )
    password = PasswordField(
        "Choose a password",
        validators=[
            InputRequired(),
            Length(MIN_PASSWORD_LENGTH, 200, f"Use at least {MIN_PASSWORD_LENGTH} characters."),
        ],
    )
    confirm = PasswordField(
        "Repeat it", validators=[InputRequired(), EqualTo("password", "The passwords differ.")]
    )


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[Optional(), Length(max=200)])
    password = PasswordField(
        "New password",
        validators=[
            InputRequired(),
            Length(MIN_PASSWORD_LENGTH, 200, f"Use at least {MIN_PASSWORD_LENGTH} characters."),
        ],
    )
    confirm = PasswordField(
        "Repeat it", validators=[InputRequired(), EqualTo("password", "The passwords differ.")]
    )


class ImapForm(FlaskForm):
    preset = SelectField(
        "Provider", choices=[(k, v["label"]) for k, v in PRESETS.items()], default="custom"
    )
    email = EmailField("E-mail address", validators=[InputRequired(), ADDRESS, Length(max=320)])
    name = StringField("Your name on bumps", validators=[Optional(), Length(max=200)])
    password = PasswordField("Password or app password", validators=[InputRequired()])
    smtp_password = PasswordField("SMTP password, if different", validators=[Optional()])
    imap_host = StringField("IMAP server", validators=[Optional(), Length(max=255)])
    imap_port = IntegerField("Port", validators=[Optional(), NumberRange(1, 65535)])
    imap_security = SelectField("Security", choices=SECURITY, default="ssl")
    imap_username = StringField("IMAP user name (default: the address)", validators=[Optional()])
    smtp_host = StringField("SMTP server", validators=[Optional(), Length(max=255)])
    smtp_port = IntegerField("Port", validators=[Optional(), NumberRange(1, 65535)])
    smtp_security = SelectField("Security", choices=SECURITY, default="starttls")
    smtp_username = StringField("SMTP user name (default: the IMAP one)", validators=[Optional()])
    aliases = StringField(
        "Other addresses of yours (comma-separated)", validators=[Optional(), Length(max=2000)]
    )


class DefaultsForm(FlaskForm):
    delay = StringField("Wait before the first bump", validators=[InputRequired(), Length(max=20)])
    template = TextAreaField("Bump text", validators=[InputRequired(), Length(max=5000)])
    days = MultiCheckboxField("Sending days", choices=DAYS)
    hours_start = StringField("From", validators=[InputRequired(), Length(max=5)])
    hours_end = StringField("Until", validators=[InputRequired(), Length(max=5)])
    timezone = StringField("Time zone", validators=[InputRequired(), Length(max=64)])
    holiday_country = StringField(
        "Skip public holidays of (country code, optional)", validators=[Optional(), Length(max=8)]
    )
    window_mode = RadioField("When bumps may go out", choices=WINDOW)
    replier_policy = RadioField("Who counts as a reply", choices=REPLIER)
    ooo_policy = RadioField("When an out-of-office reply comes", choices=OOO)
    own_message_policy = RadioField("When you write in the thread yourself", choices=OWN_MESSAGE)


class NewFollowupForm(FlaskForm):
    """One click on a sent message (its button sends `pick`), or a pasted Message-ID."""

    account = SelectField("From account", coerce=int)
    pick = StringField("Sent message", validators=[Optional(), Length(max=998)])
    message_id = StringField(
        "Message-ID of the message you sent", validators=[Optional(), Length(max=2000)]
    )
    after = StringField("Bump after", validators=[Optional(), Length(max=40)])
    text = TextAreaField(
        "Bump text (empty: your default)", validators=[Optional(), Length(max=5000)]
    )
    mode = RadioField("What to do", choices=MODES, default="send")
    replier_policy = SelectField("Who counts as a reply", choices=REPLIER)


class SnoozeForm(FlaskForm):
    until = StringField("Snooze until", validators=[InputRequired(), Length(max=40)])


class EditForm(FlaskForm):
    """The pending stages' fields (stage-N-when, stage-N-text) are read from the request."""

    replier_policy = SelectField("Who counts as a reply", choices=REPLIER)
    mode = RadioField("What to do", choices=MODES, validate_choice=False)  # edit_stages checks


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class DisconnectForm(FlaskForm):
    followups = RadioField(
        "Follow-ups of this account",
        choices=[
            ("keep", "Keep them (history stays; scheduled ones wait until you reconnect)"),
            ("delete", "Delete them with their history"),
        ],
        default="keep",
    )


class DeleteEverythingForm(FlaskForm):
    """Typing the address is the re-confirmation: it works for password and Google users."""

    address = StringField(
        "Type your address to confirm",
        validators=[InputRequired(message="Type your address to confirm."), Length(max=320)],
    )
