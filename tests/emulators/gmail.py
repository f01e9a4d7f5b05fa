"""The Gmail API v1 (REST), emulated on 127.0.0.1 for tests and benchmarks.

Per-user mailboxes with messages, threads, labels and a history log; the request paths, query
parameters, resources and error bodies are those of the discovery document and
reference/mail-mechanics.md 1-2. What it does like Gmail:

- history ids grow with every change; `history.list` answers records after `startHistoryId`
  (historyTypes, labelId, maxResults <= 500, nextPageToken) and 404 `notFound` for a start id older
  than the kept history (`expire_history()`).
- `messages.send` threads the message into `threadId` only when the thread exists, the Subject
  matches (Re:/Fwd: prefixes ignored) and In-Reply-To/References name a message of the thread;
  otherwise it starts a new thread. Mail between the emulator's users is delivered (INBOX, UNREAD),
  threaded on the recipient's side by the same subject + references rule. A well-formed
  Message-ID is kept, a malformed one replaced (original in X-Google-Original-Message-ID).
- `q`: rfc822msgid:, in:/label:, is:unread/starred, from:, to:, subject:, after:/before: (epoch
  seconds or YYYY/MM/DD, UTC here), newer_than:/older_than: (Nd, Nm, Ny), words, OR, -negation;
  SPAM/TRASH are left out unless includeSpamTrash (or in:spam/trash/anywhere).
- Drafts (`create_draft()`, drafts.list/get/delete): a draft is a message with the DRAFT label;
  drafts.delete removes it for good (a messagesDeleted history record). Labels added or removed
  (`add_label()`, `remove_label()`, messages.modify) leave labelsAdded/labelsRemoved history
  records shaped as Google's: {"message": {id, threadId, labelIds}, "labelIds": [changed]}.
- Quota units per method from Google's table, counted per user (`units()`, `calls()`), a per-user
  units-per-minute limit (403 userRateLimitExceeded) and a concurrent-request limit (429).
- Faults per method (`fail()`): an HTTP error in Google's shape (with Retry-After if asked), a
  dropped connection before or after the request was carried out, or a delay.
- Ids in every form Gmail uses. The REST id is hex; the Gmail add-on names the same message
  `msg-f:<decimal of the hex id>` when it was received (Google's example event in "Build a
  Google Workspace add-on using HTTP endpoints") and `msg-a:r<signed decimal>` when the user
  sent it, its thread then being `thread-a:r<signed decimal>` (the event Google captured in
  googleworkspace/gws-genai-addon-sample sample_data_delete_before_prod/generate_reply_post.json:
  "msg-a:r-762107668661183924", "thread-a:r8302010144516718545"). `addon_ids()` gives the
  forms the add-on sees; messages.get/modify and threads.get/modify accept every form (Google's
  samples pass gmail.messageId unchanged to users.messages.get) and answer with the hex `id`
  and `threadId`. An id in no known form is 400 "Invalid id value", a known form naming
  nothing 404 notFound.
- messages.send with a threadId Gmail will not take answers 400 "Invalid thread_id value"
  (`reject_thread()`, or a threadId in no known form): Gmail's own words as applications
  report them (e.g. PipedreamHQ/pipedream#15223, "Gmail reply error: Invalid thread_id value");
  a threadId in a known form that names no thread is 404 notFound.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import email.utils
import html
import itertools
import re
import secrets
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message

from tests.emulators.http import Drop, EmulatorServer, Request, Response, google_error
from tests.emulators.oauth import ACCESS_TOKEN_SECONDS, AccessToken, OAuthEmulator

QUOTA_UNITS = {
    "getProfile": 1,
    "history.list": 2,
    "labels.list": 1,
    "labels.create": 5,
    "messages.get": 5,
    "messages.list": 5,
    "messages.modify": 5,
    "messages.send": 100,
    "drafts.list": 5,
    "drafts.get": 5,
    "drafts.delete": 10,
    "threads.get": 10,
    "threads.modify": 10,
    "watch": 100,
    "stop": 50,
}
_U = r"/gmail/v1/users/(?P<user>[^/]+)"
ROUTES = [
    ("GET", rf"{_U}/profile", "getProfile"),
    ("GET", rf"{_U}/history", "history.list"),
    ("GET", rf"{_U}/labels", "labels.list"),
    ("POST", rf"{_U}/labels", "labels.create"),
    ("GET", rf"{_U}/messages", "messages.list"),
    ("POST", rf"{_U}/messages/send", "messages.send"),
    ("GET", rf"{_U}/messages/(?P<id>[^/]+)", "messages.get"),
    ("POST", rf"{_U}/messages/(?P<id>[^/]+)/modify", "messages.modify"),
    ("GET", rf"{_U}/drafts", "drafts.list"),
    ("GET", rf"{_U}/drafts/(?P<id>[^/]+)", "drafts.get"),
    ("DELETE", rf"{_U}/drafts/(?P<id>[^/]+)", "drafts.delete"),
    ("GET", rf"{_U}/threads/(?P<id>[^/]+)", "threads.get"),
    ("POST", rf"{_U}/threads/(?P<id>[^/]+)/modify", "threads.modify"),
    ("POST", rf"{_U}/watch", "watch"),
    ("POST", rf"{_U}/stop", "stop"),
]
SYSTEM_LABELS = (
    "INBOX",
    "SENT",
    "UNREAD",
    "STARRED",
    "IMPORTANT",
    "TRASH",
    "SPAM",
    "DRAFT",
    "CHAT",
    "CATEGORY_PERSONAL",
    "CATEGORY_SOCIAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_UPDATES",
    "CATEGORY_FORUMS",
)
READ_SCOPES = {
    "https://mail.google.com/",
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.metadata",
}
WRITE_SCOPES = {"https://mail.google.com/", "https://www.googleapis.com/auth/gmail.modify"}
# Gmail add-on scopes: a message is readable only together with its per-message token
# (X-Goog-Gmail-Access-Token, the event's gmail.accessToken), and .metadata only in
# format=metadata/minimal (developers.google.com/workspace/add-ons/concepts/workspace-scopes).
_ADDON_MESSAGE = "https://www.googleapis.com/auth/gmail.addons.current.message."
ADDON_MESSAGE_SCOPES = {
    _ADDON_MESSAGE + "metadata": {"metadata", "minimal"},
    _ADDON_MESSAGE + "readonly": {"metadata", "minimal", "raw", "full"},
}
ADDON_SCOPES = (
    "https://www.googleapis.com/auth/gmail.addons.execute",
    "https://www.googleapis.com/auth/gmail.addons.current.message.metadata",
    "https://www.googleapis.com/auth/userinfo.email",
)
SEND_SCOPES = WRITE_SCOPES | {
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.compose",
}
_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|sv|antw|tr)\s*(\[\d+\])?\s*:\s*)+", re.I)
_MSGID = re.compile(r"<[^<>\s]+>")
_parser = email.parser.BytesParser(policy=email.policy.compat32)


def normalized_subject(subject: str) -> str:
    return " ".join(_PREFIX.sub("", subject or "").split()).lower()


@dataclass
class Msg:
    id: str
    thread_id: str
    labels: set[str]
    raw: bytes
    internal_date: int  # epoch ms
    history_id: int
    parsed: Message = field(repr=False)
    addon_id: str = ""  # gmail.messageId as the add-on sees it (msg-f:… or msg-a:r…)

    def header(self, name: str) -> str:
        return str(self.parsed.get(name, "") or "")

    @property
    def message_id(self) -> str:
        found = _MSGID.findall(self.header("Message-ID"))
        return found[0] if found else ""

    @property
    def linked(self) -> set[str]:
        ids = set(_MSGID.findall(self.header("In-Reply-To")))
        ids.update(_MSGID.findall(self.header("References")))
        return ids

    def text(self) -> str:
        for part in self.parsed.walk():
            if part.get_content_type() == "text/plain" and not part.is_multipart():
                data = part.get_payload(decode=True) or b""
                return data.decode(part.get_content_charset() or "utf-8", errors="replace")
        return ""

    def snippet(self) -> str:
        return html.escape(" ".join(self.text().split())[:200], quote=True).replace(
            "&#x27;", "&#39;"
        )


@dataclass
class UserBox:
    email: str
    name: str
    history_id: int
    messages: dict[str, Msg] = field(default_factory=dict)
    threads: dict[str, list[str]] = field(default_factory=dict)
    labels: dict[str, dict] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    history_floor: int = 0
    drafts: dict[str, str] = field(default_factory=dict)  # draft id -> message id
    watch: dict | None = None
    label_seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    aliases: dict[str, str] = field(default_factory=dict)  # msg-f:… / msg-a:r… -> hex id
    thread_aliases: dict[str, str] = field(default_factory=dict)  # thread-f/a:… -> hex id
    thread_addon: dict[str, str] = field(default_factory=dict)  # hex thread id -> add-on form
    rejected_threads: set[str] = field(default_factory=set)  # send answers 400 for these


@dataclass
class Fault:
    method: str
    status: int = 503
    reason: str | None = None
    message: str | None = None
    retry_after: str | None = None
    times: int = 1
    user: str | None = None
    mode: str = "error"  # error | drop | drop_after | delay
    seconds: float = 0.0


class GmailEmulator:
    def __init__(self, oauth: OAuthEmulator):
        self.oauth = oauth
        self.lock = threading.RLock()
        self.users: dict[str, UserBox] = {}
        self.faults: list[Fault] = []
        self._units: dict[str, Counter] = defaultdict(Counter)
        self._calls: dict[str, Counter] = defaultdict(Counter)
        self._recent: dict[str, deque] = defaultdict(deque)  # (time, units) for the rate limit
        self.user_rate_limit: int | None = 15_000  # units per user per minute (Google's figure)
        self.max_concurrent = 10
        self._inflight: Counter = Counter()
        self.max_inflight: Counter = Counter()  # highest concurrency seen per user
        self.outbound: list[tuple[str, list[str], bytes]] = []  # mail to non-emulated addresses
        self.requests: list[tuple[str, str, int]] = []  # (method, user, status)
        self._ids = itertools.count(int(time.time() * 1000) << 4)
        self.message_tokens: dict[str, tuple[str, str]] = {}  # add-on token -> (user, msg id)
        self.server = EmulatorServer(self.handle)
        self.url = self.server.url

    def start(self) -> GmailEmulator:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    # -- test API: people and mail ----------------------------------------------------------

    def add_user(self, address: str, name: str = "") -> None:
        address = address.lower()
        with self.lock:
            box = UserBox(address, name, history_id=1000 + secrets.randbelow(9000))
            for label in SYSTEM_LABELS:
                box.labels[label] = {"id": label, "name": label, "type": "system"}
            self.users[address] = box
        self.oauth.add_user(address, name)

    def send_as(self, address: str, raw: bytes, thread_id: str | None = None) -> Msg:
        """What the user's own Gmail does when they press Send (no quota counted)."""
        with self.lock:
            return self._send(self.users[address.lower()], raw, thread_id)

    def deliver(self, address: str, raw: bytes | str, labels=("INBOX", "UNREAD")) -> Msg:
        """Mail arriving from outside (an out-of-office, a bounce), threaded as Gmail would."""
        if isinstance(raw, str):
            raw = raw.replace("\r\n", "\n").replace("\n", "\r\n").encode()
        with self.lock:
            box = self.users[address.lower()]
            parsed = _parser.parsebytes(raw)
            return self._add(box, raw, parsed, set(labels), self._thread_for(box, parsed))

    def create_draft(self, address: str, raw: bytes | str, labels: tuple[str, ...] = ()) -> Msg:
        """The user saves a draft in Gmail (label DRAFT plus the user labels named in `labels`,
        e.g. ("Replywatch/Bumps",), each created if missing). Threaded like a reply would be."""
        if isinstance(raw, str):
            raw = raw.replace("\r\n", "\n").replace("\n", "\r\n").encode()
        with self.lock:
            box = self.users[address.lower()]
            parsed = _parser.parsebytes(raw)
            ids = {"DRAFT", *(self._label_named(box, name) for name in labels)}
            msg = self._add(box, raw, parsed, ids, self._thread_for(box, parsed))
            box.drafts["r" + format(next(self._ids), "x")[-15:]] = msg.id
            return msg

    def save_draft_again(self, address: str, draft_id: str, raw: bytes) -> Msg:
        """The user edits a saved draft in Gmail and it is saved again: the draft keeps its id
        and its content is replaced ("drafts.update: Replaces a draft's content"), by a new
        message, since a message's id is immutable ("Message.id: The immutable ID of the
        message"): messagesDeleted history for the old one, messagesAdded for the new.
        Sources: developers.google.com/gmail/api/reference/rest/v1/users.drafts/update and
        .../rest/v1/users.messages#Message (the quoted lines)."""
        with self.lock:
            box = self.users[address.lower()]
            old = box.messages[box.drafts[draft_id]]
            parsed = _parser.parsebytes(raw)
            msg = self._add(box, raw, parsed, set(old.labels), self._thread_for(box, parsed))
            box.drafts[draft_id] = msg.id
            del box.messages[old.id]
            box.threads[old.thread_id].remove(old.id)
            if not box.threads[old.thread_id]:
                del box.threads[old.thread_id]
            self._record(box, old, "messagesDeleted")
            return msg

    def update_draft(self, address: str, draft_id: str, markup: dict) -> Msg:
        """What Gmail's compose window does with an add-on's `updateDraftActionMarkup`: each
        update set replaces that part of the draft ("Package apps.extensions.markup",
        UpdateDraftActionMarkup: "If set, replaces the existing Bcc recipients of the draft the
        user is currently editing"; likewise To, Cc and Subject)."""
        with self.lock:
            box = self.users[address.lower()]
            msg = box.messages[box.drafts[draft_id]]
            for key, header, field_name in (
                ("updateToRecipients", "To", "toRecipients"),
                ("updateCcRecipients", "Cc", "ccRecipients"),
                ("updateBccRecipients", "Bcc", "bccRecipients"),
            ):
                if key in markup:
                    del msg.parsed[header]
                    emails = [r["email"] for r in markup[key].get(field_name, [])]
                    if emails:
                        msg.parsed[header] = ", ".join(emails)
            if "updateSubject" in markup:
                del msg.parsed["Subject"]
                msg.parsed["Subject"] = markup["updateSubject"]["subject"]
            msg.raw = msg.parsed.as_bytes()
            return msg

    def send_draft(self, address: str, draft_id: str) -> Msg:
        """The user presses Send on a draft: it leaves Drafts and goes out like any message
        (into its thread when it is a reply there)."""
        with self.lock:
            box = self.users[address.lower()]
            msg = box.messages[box.drafts.pop(draft_id)]
            del box.messages[msg.id]
            box.threads[msg.thread_id].remove(msg.id)
            thread = msg.thread_id if box.threads[msg.thread_id] else None
            if not box.threads[msg.thread_id]:
                del box.threads[msg.thread_id]
            self._record(box, msg, "messagesDeleted")
            return self._send(box, msg.raw, thread)

    def add_label(self, address: str, msg_id: str, name: str) -> None:
        """Put a label on a message by its name, as the user does in Gmail (the label is
        created if missing); records labelsAdded history. `msg_id` is the Gmail message id."""
        with self.lock:
            box = self.users[address.lower()]
            self._relabel(box, [box.messages[msg_id]], [self._label_named(box, name)], [])

    def remove_label(self, address: str, msg_id: str, name: str) -> None:
        """Take a label (by name) off a message; records labelsRemoved history."""
        with self.lock:
            box = self.users[address.lower()]
            self._relabel(box, [box.messages[msg_id]], [], [self._label_named(box, name)])

    def label_id(self, address: str, name: str) -> str | None:
        """The id of the user's label with this name (case-insensitive), None if none."""
        with self.lock:
            box = self.users[address.lower()]
            return next(
                (i for i, lab in box.labels.items() if lab["name"].lower() == name.lower()), None
            )

    def drafts_of(self, address: str) -> dict[str, Msg]:
        """draft id -> draft message, for the user's current drafts."""
        with self.lock:
            box = self.users[address.lower()]
            return {d: box.messages[m] for d, m in box.drafts.items() if m in box.messages}

    def find(self, address: str, message_id: str) -> list[Msg]:
        with self.lock:
            box = self.users[address.lower()]
            return [m for m in box.messages.values() if m.message_id == message_id]

    def label_names(self, address: str, msg: Msg) -> set[str]:
        with self.lock:
            box = self.users[address.lower()]
            return {box.labels[label]["name"] for label in msg.labels}

    def thread_of(self, address: str, thread_id: str) -> list[Msg]:
        with self.lock:
            box = self.users[address.lower()]
            return [box.messages[i] for i in box.threads.get(thread_id, [])]

    def messages(self, address: str, label: str = "INBOX") -> list[Msg]:
        with self.lock:
            box = self.users[address.lower()]
            return [m for m in box.messages.values() if label in m.labels]

    def expire_history(self, address: str) -> None:
        """History older than now is gone: any earlier startHistoryId answers 404."""
        with self.lock:
            box = self.users[address.lower()]
            box.history_floor = box.history_id + 1
            box.history_id += 1

    def history_id(self, address: str) -> int:
        with self.lock:
            return self.users[address.lower()].history_id

    def addon_ids(self, address: str, msg: Msg) -> tuple[str, str]:
        """(gmail.messageId, gmail.threadId) as Gmail hands them to the add-on for `msg`."""
        with self.lock:
            box = self.users[address.lower()]
            return msg.addon_id, box.thread_addon[msg.thread_id]

    def reject_thread(self, address: str, thread_id: str) -> None:
        """From now on messages.send into this thread answers 400 "Invalid thread_id value"."""
        with self.lock:
            self.users[address.lower()].rejected_threads.add(thread_id)

    # -- test API: the Gmail add-on's per-request tokens -------------------------------------

    def addon_tokens(
        self, address: str, msg_id: str, scopes: tuple[str, ...] = ADDON_SCOPES
    ) -> tuple[str, str]:
        """(userOAuthToken, gmail.accessToken) as Gmail hands an add-on on message open."""
        address = address.lower()
        access = "ya29.emu-addon-" + secrets.token_urlsafe(24)
        per_message = "emu-msg-" + secrets.token_urlsafe(24)
        with self.oauth.lock:
            self.oauth.state.access[access] = AccessToken(
                address, self.oauth.client_id, tuple(scopes), time.time() + ACCESS_TOKEN_SECONDS
            )
        with self.lock:
            self.message_tokens[per_message] = (address, msg_id)
        return access, per_message

    # -- test API: quota and faults ---------------------------------------------------------

    def units(self, address: str | None = None, method: str | None = None) -> int:
        with self.lock:
            counters = [self._units[address.lower()]] if address else self._units.values()
            return sum(c[method] if method else sum(c.values()) for c in counters)

    def calls(self, address: str | None = None) -> Counter:
        with self.lock:
            total: Counter = Counter()
            for who, c in self._calls.items():
                if address is None or who == address.lower():
                    total.update(c)
            return total

    def reset_quota(self) -> None:
        with self.lock:
            self._units.clear()
            self._calls.clear()
            self._recent.clear()

    def fail(self, method: str, status: int = 503, **kw) -> Fault:
        fault = Fault(method, status, **kw)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def clear_outbound(self) -> None:
        with self.lock:
            self.outbound.clear()

    # -- HTTP -------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        for verb, pattern, method in ROUTES:
            match = re.fullmatch(pattern, req.path)
            if verb == req.method and match:
                name = method
                break
        else:
            return google_error(404, "Not Found", "notFound")
        token = req.headers.get("Authorization", "")
        grant = self.oauth.access_info(token[7:]) if token.startswith("Bearer ") else None
        if grant is None:
            resp = google_error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
                "authError",
            )
            resp.body["error"]["errors"][0].update(
                message="Invalid Credentials", location="Authorization", locationType="header"
            )
            resp.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
            return resp
        who = match["user"].lower()
        if who not in ("me", grant.email):
            return google_error(403, "Delegation denied for " + grant.email, "forbidden")
        who = grant.email
        if who not in self.users:
            return google_error(400, "Mail service not enabled", "failedPrecondition")
        fault = self._take_fault(name, who)
        if fault is not None and fault.mode != "drop_after":
            if fault.mode == "drop":
                raise Drop
            if fault.mode == "delay":
                time.sleep(fault.seconds)
            else:
                return self._fault_response(fault, name, who)
        with self.lock:
            self._inflight[who] += 1
            self.max_inflight[who] = max(self.max_inflight[who], self._inflight[who])
            busy = self._inflight[who] > self.max_concurrent
        try:
            if busy:
                resp = google_error(
                    429, "Too many concurrent requests for user", "rateLimitExceeded"
                )
            else:
                resp = self._limited(name, who) or self._dispatch(name, req, match, grant)
            with self.lock:
                self.requests.append((name, who, resp.status))
        finally:
            with self.lock:
                self._inflight[who] -= 1
        if fault is not None and fault.mode == "drop_after":
            raise Drop  # carried out, but the answer never reaches the client
        return resp

    def _take_fault(self, name: str, who: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == name and fault.user in (None, who) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _fault_response(self, fault: Fault, name: str, who: str) -> Response:
        defaults = {
            400: ("Bad Request", "badRequest"),
            401: ("Invalid Credentials", "authError"),
            403: ("User Rate Limit Exceeded", "userRateLimitExceeded"),
            404: ("Requested entity was not found.", "notFound"),
            429: ("Too many concurrent requests for user", "rateLimitExceeded"),
            500: ("Backend Error", "backendError"),
            503: ("The service is currently unavailable.", "backendError"),
        }
        message, reason = defaults.get(fault.status, ("Error", "unknown"))
        domain = "usageLimits" if "RateLimit" in (fault.reason or reason) else "global"
        resp = google_error(fault.status, fault.message or message, fault.reason or reason, domain)
        if fault.retry_after is not None:
            resp.headers["Retry-After"] = str(fault.retry_after)
        with self.lock:
            self.requests.append((name, who, fault.status))
        return resp

    def _limited(self, name: str, who: str) -> Response | None:
        with self.lock:
            cost = QUOTA_UNITS[name]
            now = time.monotonic()
            recent = self._recent[who]
            while recent and recent[0][0] < now - 60:
                recent.popleft()
            used = sum(u for _, u in recent)
            if self.user_rate_limit is not None and used + cost > self.user_rate_limit:
                return google_error(
                    403, "User Rate Limit Exceeded", "userRateLimitExceeded", "usageLimits"
                )
            recent.append((now, cost))
            self._units[who][name] += cost
            self._calls[who][name] += 1
        return None

    def _dispatch(self, name: str, req: Request, match, grant) -> Response:
        scopes = set(grant.scopes)
        needed = SEND_SCOPES if name == "messages.send" else READ_SCOPES
        if name.endswith("modify") or name in ("labels.create", "drafts.delete"):
            needed = WRITE_SCOPES
        if not scopes & needed and not self._addon_allowed(name, req, match, grant):
            return google_error(
                403, "Request had insufficient authentication scopes.", "insufficientPermissions"
            )
        if (
            name == "messages.list"
            and req.arg("q")
            and scopes
            <= READ_SCOPES
            - {
                "https://mail.google.com/",
                "https://www.googleapis.com/auth/gmail.modify",
                "https://www.googleapis.com/auth/gmail.readonly",
            }
        ):
            return google_error(403, "Metadata scope does not support 'q' parameter", "forbidden")
        with self.lock:
            box = self.users[grant.email]
            handler = getattr(self, "_" + name.replace(".", "_"))
            try:
                return handler(box, req, match)
            except _ApiError as e:
                return e.response

    def _addon_allowed(self, name: str, req: Request, match, grant) -> bool:
        """messages.get of the one message its X-Goog-Gmail-Access-Token was issued for."""
        formats: set[str] = set()
        for scope in grant.scopes:
            formats |= ADDON_MESSAGE_SCOPES.get(scope, set())
        if name != "messages.get" or not formats:
            return False
        with self.lock:
            bound = self.message_tokens.get(req.headers.get("X-Goog-Gmail-Access-Token", ""))
        fmt = req.arg("format") or "full"
        with self.lock:
            box = self.users[grant.email]
            wanted = box.aliases.get(match["id"], match["id"])
            if wanted not in box.messages:
                return True  # the handler answers: 400 for no known id form, else 404
        return bound is not None and bound == (grant.email, wanted) and fmt in formats

    # -- methods ----------------------------------------------------------------------------

    def _getProfile(self, box: UserBox, req, match) -> Response:
        return Response(
            200,
            {
                "emailAddress": box.email,
                "messagesTotal": len(box.messages),
                "threadsTotal": len(box.threads),
                "historyId": str(box.history_id),
            },
        )

    def _history_list(self, box: UserBox, req: Request, match) -> Response:
        start = _int(req.arg("startHistoryId"), "startHistoryId")
        if start < box.history_floor:
            raise _ApiError(google_error(404, "Requested entity was not found.", "notFound"))
        types = set(req.args("historyTypes")) or {
            "messageAdded",
            "messageDeleted",
            "labelAdded",
            "labelRemoved",
        }
        label = req.arg("labelId")
        size = min(_int(req.arg("maxResults") or "100", "maxResults"), 500)
        offset = _page(req.arg("pageToken"))
        records = []
        for rec in box.history:
            if rec["id"] <= start:
                continue
            kept = {"id": str(rec["id"]), "messages": rec["messages"]}
            for kind, key in (
                ("messageAdded", "messagesAdded"),
                ("messageDeleted", "messagesDeleted"),
                ("labelAdded", "labelsAdded"),
                ("labelRemoved", "labelsRemoved"),
            ):
                items = rec.get(key)
                if items and kind in types:
                    if label:
                        items = [
                            i
                            for i in items
                            if label in box.messages.get(i["message"]["id"], _NOLABELS).labels
                        ]
                    if items:
                        kept[key] = items
            if len(kept) > 2:
                records.append(kept)
        page = records[offset : offset + size]
        body: dict = {"historyId": str(box.history_id)}
        if page:
            body["history"] = page
        if offset + size < len(records):
            body["nextPageToken"] = _token(offset + size)
        return Response(200, body)

    def _labels_list(self, box: UserBox, req, match) -> Response:
        return Response(200, {"labels": list(box.labels.values())})

    def _labels_create(self, box: UserBox, req: Request, match) -> Response:
        body = req.json()
        name = (body.get("name") or "").strip()
        if not name:
            raise _ApiError(google_error(400, "Invalid label name", "invalidArgument"))
        if any(lab["name"].lower() == name.lower() for lab in box.labels.values()):
            raise _ApiError(google_error(409, "Label name exists or conflicts", "duplicate"))
        label = {
            "id": f"Label_{next(box.label_seq)}",
            "name": name,
            "type": "user",
            "labelListVisibility": body.get("labelListVisibility", "labelShow"),
            "messageListVisibility": body.get("messageListVisibility", "show"),
        }
        box.labels[label["id"]] = label
        return Response(200, label)

    def _messages_list(self, box: UserBox, req: Request, match) -> Response:
        q = req.arg("q") or ""
        spam_trash = req.arg("includeSpamTrash") == "true" or re.search(
            r"\bin:(spam|trash|anywhere)\b", q, re.I
        )
        label_ids = req.args("labelIds")
        hits = [
            m
            for m in box.messages.values()
            if (spam_trash or not m.labels & {"SPAM", "TRASH"})
            and all(lab in m.labels for lab in label_ids)
            and _matches(box, m, q)
        ]
        hits.sort(key=lambda m: (m.internal_date, m.id), reverse=True)
        size = min(_int(req.arg("maxResults") or "100", "maxResults"), 500)
        offset = _page(req.arg("pageToken"))
        page = hits[offset : offset + size]
        body: dict = {"resultSizeEstimate": len(hits)}
        if page:
            body["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if offset + size < len(hits):
            body["nextPageToken"] = _token(offset + size)
        return Response(200, body)

    def _messages_get(self, box: UserBox, req: Request, match) -> Response:
        msg = self._message(box, match["id"])
        return Response(
            200, _resource(box, msg, req.arg("format") or "full", req.args("metadataHeaders"))
        )

    def _messages_modify(self, box: UserBox, req: Request, match) -> Response:
        msg = self._message(box, match["id"])
        body = req.json()
        self._relabel(box, [msg], body.get("addLabelIds") or [], body.get("removeLabelIds") or [])
        return Response(200, _resource(box, msg, "minimal", []))

    def _drafts_list(self, box: UserBox, req: Request, match) -> Response:
        q = req.arg("q") or ""
        drafts = [
            (d, box.messages[m])
            for d, m in box.drafts.items()
            if m in box.messages and _matches(box, box.messages[m], q)
        ]
        drafts.sort(key=lambda dm: (dm[1].internal_date, dm[1].id), reverse=True)
        size = min(_int(req.arg("maxResults") or "100", "maxResults"), 500)
        offset = _page(req.arg("pageToken"))
        page = drafts[offset : offset + size]
        body: dict = {"resultSizeEstimate": len(drafts)}
        if page:
            body["drafts"] = [
                {"id": d, "message": {"id": m.id, "threadId": m.thread_id}} for d, m in page
            ]
        if offset + size < len(drafts):
            body["nextPageToken"] = _token(offset + size)
        return Response(200, body)

    def _draft(self, box: UserBox, draft_id: str) -> Msg:
        msg = box.messages.get(box.drafts.get(draft_id, ""))
        if msg is None:
            raise _ApiError(google_error(404, "Requested entity was not found.", "notFound"))
        return msg

    def _drafts_get(self, box: UserBox, req: Request, match) -> Response:
        msg = self._draft(box, match["id"])
        fmt = req.arg("format") or "full"
        return Response(200, {"id": match["id"], "message": _resource(box, msg, fmt, [])})

    def _drafts_delete(self, box: UserBox, req: Request, match) -> Response:
        msg = self._draft(box, match["id"])
        del box.drafts[match["id"]]
        del box.messages[msg.id]
        box.threads[msg.thread_id].remove(msg.id)
        if not box.threads[msg.thread_id]:
            del box.threads[msg.thread_id]
        self._record(box, msg, "messagesDeleted")
        return Response(204, None)

    def _threads_get(self, box: UserBox, req: Request, match) -> Response:
        thread_id = self._thread_id(box, match["id"])
        ids = box.threads.get(thread_id)
        if not ids:
            raise _ApiError(google_error(404, "Requested entity was not found.", "notFound"))
        fmt = req.arg("format") or "full"
        msgs = [box.messages[i] for i in ids]
        return Response(
            200,
            {
                "id": thread_id,
                "historyId": str(max(m.history_id for m in msgs)),
                "messages": [_resource(box, m, fmt, req.args("metadataHeaders")) for m in msgs],
            },
        )

    def _threads_modify(self, box: UserBox, req: Request, match) -> Response:
        thread_id = self._thread_id(box, match["id"])
        ids = box.threads.get(thread_id)
        if not ids:
            raise _ApiError(google_error(404, "Requested entity was not found.", "notFound"))
        body = req.json()
        msgs = [box.messages[i] for i in ids]
        self._relabel(box, msgs, body.get("addLabelIds") or [], body.get("removeLabelIds") or [])
        return Response(
            200,
            {"id": thread_id, "messages": [_resource(box, m, "minimal", []) for m in msgs]},
        )

    def _messages_send(self, box: UserBox, req: Request, match) -> Response:
        body = req.json()
        raw = body.get("raw")
        if not raw:
            raise _ApiError(
                google_error(
                    400,
                    "'raw' RFC822 payload message string or uploading message via /upload/* "
                    "URL required",
                    "invalidArgument",
                )
            )
        try:
            data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except ValueError:
            raise _ApiError(
                google_error(400, "Invalid value for ByteString: raw", "invalidArgument")
            ) from None
        msg = self._send(box, data, body.get("threadId"))
        return Response(200, {"id": msg.id, "threadId": msg.thread_id, "labelIds": ["SENT"]})

    def _watch(self, box: UserBox, req: Request, match) -> Response:
        body = req.json()
        topic = body.get("topicName") or ""
        if not re.fullmatch(r"projects/[^/]+/topics/[^/]+", topic):
            raise _ApiError(google_error(400, "Invalid topicName", "invalidArgument"))
        expiration = int((time.time() + 7 * 86400) * 1000)
        box.watch = {"topicName": topic, "labelIds": body.get("labelIds") or []}
        return Response(200, {"historyId": str(box.history_id), "expiration": str(expiration)})

    def _stop(self, box: UserBox, req, match) -> Response:
        box.watch = None
        return Response(204, None)

    # -- mailbox mechanics ------------------------------------------------------------------

    def _message(self, box: UserBox, msg_id: str) -> Msg:
        msg = box.messages.get(box.aliases.get(msg_id, msg_id))
        if msg is None:
            if not _MESSAGE_ID_FORM.fullmatch(msg_id):
                raise _ApiError(google_error(400, "Invalid id value", "invalidArgument"))
            raise _ApiError(google_error(404, "Requested entity was not found.", "notFound"))
        return msg

    def _thread_id(self, box: UserBox, thread_id: str) -> str:
        """The hex id of a thread named in any form; 400 for no known form."""
        if not _THREAD_ID_FORM.fullmatch(thread_id):
            raise _ApiError(google_error(400, "Invalid id value", "invalidArgument"))
        return box.thread_aliases.get(thread_id, thread_id)

    def _label_named(self, box: UserBox, name: str) -> str:
        """The id of the label with this name, created (as a user label) if missing."""
        for label_id, label in box.labels.items():
            if label["name"].lower() == name.lower():
                return label_id
        label = {"id": f"Label_{next(box.label_seq)}", "name": name, "type": "user"}
        box.labels[label["id"]] = label
        return label["id"]

    def _relabel(self, box: UserBox, msgs: list[Msg], add: list[str], remove: list[str]) -> None:
        for label in (*add, *remove):
            if label not in box.labels:
                raise _ApiError(google_error(400, f"Invalid label: {label}", "invalidArgument"))
        for msg in msgs:
            added = [lab for lab in add if lab not in msg.labels]
            removed = [lab for lab in remove if lab in msg.labels and lab not in add]
            msg.labels.update(added)
            msg.labels.difference_update(removed)
            if added:
                self._record(box, msg, "labelsAdded", added)
            if removed:
                self._record(box, msg, "labelsRemoved", removed)

    def _record(self, box: UserBox, msg: Msg, key: str, labels: list[str] | None = None) -> None:
        box.history_id += 1
        msg.history_id = box.history_id
        stub = {"id": msg.id, "threadId": msg.thread_id, "labelIds": sorted(msg.labels)}
        item: dict = {"message": stub}
        if labels is not None:
            item["labelIds"] = labels
        box.history.append(
            {
                "id": box.history_id,
                "messages": [{"id": msg.id, "threadId": msg.thread_id}],
                key: [item],
            }
        )

    def _add(self, box: UserBox, raw: bytes, parsed: Message, labels: set[str], thread_id):
        msg_id = format(next(self._ids), "x")[-16:]
        msg = Msg(
            id=msg_id,
            thread_id=thread_id or msg_id,
            labels=labels,
            raw=raw,
            internal_date=int(time.time() * 1000),
            history_id=0,
            parsed=parsed,
        )
        own = bool(labels & {"SENT", "DRAFT"})
        msg.addon_id = f"msg-a:r{_signed64()}" if own else f"msg-f:{int(msg_id, 16)}"
        box.aliases[msg.addon_id] = msg_id
        box.aliases[f"msg-f:{int(msg_id, 16)}"] = msg_id
        box.messages[msg_id] = msg
        if msg.thread_id not in box.thread_addon:  # the thread's first message names it
            form = f"thread-a:r{_signed64()}" if own else f"thread-f:{int(msg.thread_id, 16)}"
            box.thread_addon[msg.thread_id] = form
            box.thread_aliases[form] = msg.thread_id
            box.thread_aliases[f"thread-f:{int(msg.thread_id, 16)}"] = msg.thread_id
        box.threads.setdefault(msg.thread_id, []).append(msg_id)
        self._record(box, msg, "messagesAdded")
        return msg

    def _thread_for(self, box: UserBox, parsed: Message, candidate: str | None = None):
        """Gmail's rule: same thread only if the subject matches and a reference points in."""
        subject = normalized_subject(str(parsed.get("Subject", "") or ""))
        linked = set(_MSGID.findall(str(parsed.get("In-Reply-To", "") or "")))
        linked.update(_MSGID.findall(str(parsed.get("References", "") or "")))
        if not linked:
            return None
        threads = [candidate] if candidate else list(box.threads)
        for tid in reversed(threads):
            msgs = [box.messages[i] for i in box.threads.get(tid, [])]
            if not msgs:
                continue
            same_subject = any(normalized_subject(m.header("Subject")) == subject for m in msgs)
            if same_subject and any(m.message_id in linked for m in msgs):
                return tid
        return None

    def _send(self, box: UserBox, raw: bytes, thread_id: str | None) -> Msg:
        parsed = _parser.parsebytes(raw)
        recipients = [
            a.lower()
            for _, a in email.utils.getaddresses(
                [str(v) for f in ("To", "Cc", "Bcc") for v in parsed.get_all(f, [])]
            )
            if a
        ]
        if not recipients:
            raise _ApiError(google_error(400, "Recipient address required", "invalidArgument"))
        if any("@" not in a for a in recipients):
            raise _ApiError(google_error(400, "Invalid To header", "invalidArgument"))
        sender = email.utils.parseaddr(str(parsed.get("From", "")))[1].lower()
        if sender != box.email:  # Gmail sends as the authenticated user (no send-as aliases here)
            del parsed["From"]
            parsed["From"] = email.utils.formataddr((box.name, box.email))
        mid = str(parsed.get("Message-ID", "") or "").strip()
        if not mid or not re.fullmatch(r"<[^<>\s@]+@[^<>\s@]+>", mid):
            if mid:
                parsed["X-Google-Original-Message-ID"] = mid
            del parsed["Message-ID"]
            parsed["Message-ID"] = f"<CA{secrets.token_hex(12)}@mail.gmail.com>"
        if not parsed.get("Date"):
            parsed["Date"] = email.utils.formatdate()
        if thread_id is not None:
            if not _THREAD_ID_FORM.fullmatch(thread_id) or thread_id in box.rejected_threads:
                raise _ApiError(google_error(400, "Invalid thread_id value", "invalidArgument"))
            thread_id = box.thread_aliases.get(thread_id, thread_id)
            if thread_id not in box.threads:
                raise _ApiError(google_error(404, "Requested entity was not found.", "notFound"))
        tid = self._thread_for(box, parsed, thread_id) if thread_id else None
        bcc = parsed.get_all("Bcc", [])
        del parsed["Bcc"]
        delivered = parsed.as_bytes()
        if bcc:
            for value in bcc:
                parsed["Bcc"] = value
        # SENT is "applied automatically to messages that are sent with drafts.send or
        # messages.send ... or sent by the user through the web interface" and can never be
        # applied by hand (developers.google.com/gmail/api/guides/labels, system labels), so
        # mail delivered from outside (deliver()) never carries it, whatever its From says.
        labels = {"SENT"}
        if box.email in map(_base_address, recipients):  # to oneself (me+2w@ too): one copy
            labels |= {"INBOX", "UNREAD"}
        msg = self._add(box, parsed.as_bytes(), parsed, labels, tid)
        outside = []
        for rcpt in dict.fromkeys(recipients):
            if _base_address(rcpt) == box.email:
                continue
            other = self.users.get(_base_address(rcpt))
            if other is None:
                outside.append(rcpt)
                continue
            copy = b"Delivered-To: " + rcpt.encode() + b"\r\n" + delivered
            parsed_copy = _parser.parsebytes(copy)
            self._add(
                other, copy, parsed_copy, {"INBOX", "UNREAD"}, self._thread_for(other, parsed_copy)
            )
        if outside:
            self.outbound.append((box.email, outside, delivered))
        return msg


_MESSAGE_ID_FORM = re.compile(r"[0-9a-f]{1,16}|msg-f:[0-9]{1,20}|msg-a:r-?[0-9]{1,20}")
_THREAD_ID_FORM = re.compile(r"[0-9a-f]{1,16}|thread-f:[0-9]{1,20}|thread-a:r-?[0-9]{1,20}")


def _signed64() -> int:
    """A signed 64-bit number, as in msg-a:r-762107668661183924 / thread-a:r8302010144516718545."""
    return secrets.randbits(64) - (1 << 63)


class _ApiError(Exception):
    def __init__(self, response: Response):
        self.response = response


class _NoLabels:
    labels: set[str] = set()


_NOLABELS = _NoLabels()


def _base_address(address: str) -> str:
    """alice+tag@x -> alice@x: Gmail delivers a plus-address to the base mailbox."""
    local, at, domain = address.partition("@")
    return f"{local.split('+', 1)[0]}{at}{domain}"


def _int(value: str | None, name: str) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise _ApiError(google_error(400, f"Invalid value for {name}", "invalidArgument")) from None


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _page(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode().split(":")[1])
    except (ValueError, IndexError):
        raise _ApiError(google_error(400, "Invalid pageToken", "invalidArgument")) from None


def _resource(box: UserBox, msg: Msg, fmt: str, wanted: list[str]) -> dict:
    # As Google documents the formats (developers.google.com/gmail/api/reference/rest/v1/Format
    # and .../rest/v1/users.messages#Message): RAW gives the whole RFC 2822 message base64url
    # encoded in `raw`, no `payload`; FULL parses it into `payload` (MessagePart: partId,
    # mimeType, filename, headers, body, parts; text in body.data base64url, an attachment
    # only as body.attachmentId), no `raw`; METADATA only ids, labels and headers.
    base = {
        "id": msg.id,
        "threadId": msg.thread_id,
        "labelIds": sorted(msg.labels),
        "snippet": msg.snippet(),
        "historyId": str(msg.history_id),
        "internalDate": str(msg.internal_date),
        "sizeEstimate": len(msg.raw),
    }
    if fmt == "minimal":
        return base
    if fmt == "raw":
        base["raw"] = base64.urlsafe_b64encode(msg.raw).decode()
        return base
    if fmt == "metadata":
        wanted_lower = {w.lower() for w in wanted}
        headers = [
            {"name": k, "value": _unfold(str(v))}
            for k, v in msg.parsed.items()
            if not wanted_lower or k.lower() in wanted_lower
        ]
        base["payload"] = {
            "partId": "",
            "mimeType": msg.parsed.get_content_type(),
            "filename": "",
            "headers": headers,
        }
        return base
    if fmt == "full":
        base["payload"] = _part(msg.parsed, "")
        return base
    raise _ApiError(google_error(400, f"Invalid format: {fmt}", "invalidArgument"))


def _part(part: Message, part_id: str) -> dict:
    out = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": part.get_filename() or "",
        "headers": [{"name": k, "value": _unfold(str(v))} for k, v in part.items()],
    }
    if part.get_content_type() == "message/delivery-status":
        # One leaf holding the status fields as text, not a part per header block.
        blocks = part.get_payload()
        text = "".join(b.as_string() for b in blocks) if isinstance(blocks, list) else blocks
        data = str(text).encode()
        out["body"] = {"size": len(data), "data": base64.urlsafe_b64encode(data).decode()}
    elif part.is_multipart():
        out["body"] = {"size": 0}
        out["parts"] = [
            _part(sub, f"{part_id}.{i}" if part_id else str(i))
            for i, sub in enumerate(part.get_payload())
        ]
    elif out["filename"]:
        # MessagePartBody: an attachment's content is not inlined; `attachmentId` names it for
        # messages.attachments.get (developers.google.com/gmail/api/reference/rest/v1/
        # users.messages.attachments#MessagePartBody).
        data = part.get_payload(decode=True) or b""
        out["body"] = {"size": len(data), "attachmentId": f"att.{part_id or '0'}"}
    else:
        data = part.get_payload(decode=True) or b""
        out["body"] = {"size": len(data), "data": base64.urlsafe_b64encode(data).decode()}
    return out


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", value).strip()


def _matches(box: UserBox, msg: Msg, q: str) -> bool:
    """Gmail search, the part tests need: AND of terms, `a OR b` groups, quotes kept."""
    tokens = re.findall(r'\S+:"[^"]*"|"[^"]*"|\S+', q)
    groups: list[list[str]] = []
    join = False
    for tok in tokens:
        if tok == "OR":
            join = True
            continue
        if join and groups:
            groups[-1].append(tok)
        else:
            groups.append([tok])
        join = False
    return all(any(_term(box, msg, t) for t in group) for group in groups)


def _term(box: UserBox, msg: Msg, term: str) -> bool:
    negate = term.startswith("-")
    term = term.lstrip("-")
    key, sep, value = term.partition(":")
    value = value.strip('"')
    if not sep:
        key, value = "", term.strip('"')
    key = key.lower()
    if key == "rfc822msgid":
        wanted = value if value.startswith("<") else f"<{value}>"
        hit = msg.message_id == wanted
    elif key in ("in", "label"):
        name = value.lower()
        if name == "anywhere":
            hit = True
        else:
            ids = {lab_id for lab_id, lab in box.labels.items() if lab["name"].lower() == name}
            hit = bool(ids & msg.labels)
    elif key == "is":
        hit = {"unread": "UNREAD", "starred": "STARRED", "important": "IMPORTANT"}.get(
            value.lower(), "?"
        ) in msg.labels
    elif key in ("from", "to", "cc", "subject"):
        hit = value.lower() in msg.header(key).lower()
    elif key in ("after", "before", "newer_than", "older_than"):
        seconds = _when(key, value)
        stamp = msg.internal_date / 1000
        hit = stamp >= seconds if key in ("after", "newer_than") else stamp < seconds
    else:
        hit = value.lower() in (msg.header("Subject") + " " + msg.text()).lower()
    return hit != negate


_AGE_UNITS = {"d": 86400, "m": 30 * 86400, "y": 365 * 86400}


def _when(key: str, value: str) -> float:
    """Epoch seconds named by after:/before: (epoch seconds or YYYY/MM/DD, taken as UTC here;
    Gmail reads a date in the account's zone) or newer_than:/older_than: (2d, 3m, 1y)."""
    try:
        if key in ("newer_than", "older_than"):
            number, unit = int(value[:-1]), value[-1].lower()
            return time.time() - number * _AGE_UNITS[unit]
        if value.isdigit():
            return float(value)
        y, m, d = (int(p) for p in re.split(r"[/-]", value))
        return datetime(y, m, d, tzinfo=UTC).timestamp()
    except (ValueError, KeyError, IndexError):
        raise _ApiError(google_error(400, "Invalid search query", "invalidArgument")) from None
