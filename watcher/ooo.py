"""Out-of-office return dates: the day a person says they are back, read from their auto-reply.

Pure: text in, date out. The text is the start of the auto-reply's plain-text body
(`MessageSummary.text`); dates without a year, weekdays and "tomorrow" are read relative to the
message's own Date. Parsing of the date words is left to `dateparser` (many languages); this
module only finds *where* a return date is stated and decides what it means:

- "back on / wieder am / de retour le / de vuelta el / terug op / rientro il / de volta em /
  より出社" + date: that date is the first day back.
- "through / bis / jusqu'au / hasta el / tot en met / fino al / até / まで" + date: the last day
  away, so the first day back is the day after (a one-day-late bump is harmless; a bump into
  the last day of a holiday is what users complain about). English "until Monday" and Dutch
  "tot maandag" are read the way they are meant in practice: back on Monday. An explicit
  "back on" outranks an "until" elsewhere in the text.

Only the author's own text counts: quoted originals ("On ... wrote:", "-----Original Message-----",
"> ...") are cut off first, so a date in the quoted message is never read as a return date.
A date in the past, or more than MAX_AHEAD after the message, is no return date.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

MAX_AHEAD = timedelta(days=120)
_WINDOW_TOKENS = 7  # how many words after a trigger may hold the date


@dataclass(frozen=True)
class ReturnDate:
    day: date  # the first day the person is back
    phrase: str  # the words it was read from, for the event log

    def __str__(self) -> str:
        return f"{self.day.isoformat()} (from {self.phrase!r})"


# (language, meaning, pattern of the words before the date). "on": the date is the first day
# back; "until-on": "until X", meaning back on X; "until": the date is the last day away.
_TRIGGERS: list[tuple[str, str, str]] = [
    # English: "until Monday" is read as "back on Monday"; "through" is the last day away.
    ("en", "until", r"\b(?:through|thru|up to and including|until and including)\s+"),
    ("en", "until-on", r"\b(?:until|till|til)\s+"),
    (
        "en",
        "on",
        r"\b(?:back|return(?:ing)?|returns|be in the office|in the office again)"
        r"(?:\s+(?:to|in|at)\s+(?:the\s+|my\s+)?(?:office|work|desk))?"
        r"(?:\s+(?:on|from|by))?\s+",
    ),
    # German
    ("de", "until", r"\bbis\s+(?:einschlie(?:ß|ss)lich|einschl\.|inkl\.)?\s*(?:zum|am|den)?\s*"),
    (
        "de",
        "on",
        r"\b(?:wieder|zurück)\s+(?:im\s+büro\s+|erreichbar\s+|da\s+)?(?:am|ab)\s+(?:dem\s+)?",
    ),
    ("de", "on", r"\bab\s+(?:dem\s+)?(?=[^\n]{0,40}?\bwieder\b)"),
    # French
    ("fr", "until", r"\bjusqu['\u2019]\s*(?:au|à|a)\s+(?:le\s+)?(?:inclus\s+)?"),
    (
        "fr",
        "on",
        r"\b(?:de\s+retour|je\s+reviendrai|je\s+rentre)(?:\s+au\s+bureau)?\s+(?:le|dès\s+le|à\s+partir\s+du)?\s*",
    ),
    # Spanish
    ("es", "until", r"\bhasta\s+(?:el\s+)?(?:día\s+)?"),
    (
        "es",
        "on",
        r"\b(?:de\s+vuelta|de\s+regreso|regreso|regresaré|volveré|estaré\s+de\s+vuelta|"
        r"me\s+reincorporo|me\s+reincorporaré)(?:\s+a\s+la\s+oficina)?\s+(?:el\s+|a\s+partir\s+del\s+)?(?:día\s+)?",
    ),
    # Dutch
    ("nl", "until", r"\b(?:tot\s+en\s+met|t/m)\s+"),
    ("nl", "until-on", r"\btot\s+(?!en\s+met\b)"),
    (
        "nl",
        "on",
        r"\b(?:terug|weer\s+aanwezig|weer\s+op\s+kantoor|weer\s+bereikbaar)\s+(?:op|vanaf)?\s*",
    ),
    ("nl", "on", r"\bvanaf\s+(?=[^\n]{0,40}?\bweer\b)"),
    # Italian
    ("it", "until", r"\bfino\s+al(?:l['\u2019])?\s+(?:giorno\s+)?"),
    (
        "it",
        "on",
        r"\b(?:rientro|rientrerò|sarò di ritorno|di ritorno|tornerò)(?:\s+in\s+ufficio)?"
        r"\s+(?:il|dal|a partire dal)?\s*",
    ),
    # Portuguese
    ("pt", "until", r"\baté\s+(?:o\s+dia\s+|dia\s+|a\s+)?"),
    (
        "pt",
        "on",
        r"\b(?:de\s+volta|retorno|retornarei|voltarei|regresso)(?:\s+ao\s+escritório)?\s+"
        r"(?:em|no\s+dia|dia|a\s+partir\s+de)?\s*",
    ),
]
_COMPILED = [(lang, meaning, re.compile(p, re.IGNORECASE)) for lang, meaning, p in _TRIGGERS]

# Japanese puts the date first: "3月16日まで不在", "3月17日(火)より出社".
_JA = re.compile(
    r"(?:(?P<y>\d{4})\s*年\s*)?(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日\s*(?:[\uff08(][^\uff09)]{1,3}[\uff09)])?\s*"
    r"(?P<kind>まで|迄|より|から|以降)"
)
_JA_BACK = re.compile(r"出社|出勤|戻り|戻ります|復帰|対応")

_NUMERIC = re.compile(r"^(?P<a>\d{1,2})[./-](?P<b>\d{1,2})(?:[./-](?P<y>\d{2,4}))?\.?$")
_ISO = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$")
_DATEISH = re.compile(
    r"[^\W\d_]{3,}|\d{1,2}[./-]\d{1,2}|\d{1,2}\s*(?:st|nd|rd|th|er|e|º|o)\b", re.IGNORECASE
)
_WORDS_NOT_DATES = re.compile(
    r"^(?:further|i|we|then|that|the\s+end|notice|my|our|you|it|further\s+notice|now)\b",
    re.IGNORECASE,
)

_QUOTE_START = re.compile(
    r"^(?:>|-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"oorspronkelijk bericht|mensagem original)|_{8,}|"
    r"(?:on|am|le|el|op|em)\s.{4,120}(?:wrote|schrieb|a écrit|escribió|schreef|escreveu)\s*:|"
    r"(?:from|von|de|van)\s*:\s.+$)",
    re.IGNORECASE,
)


def own_text(text: str) -> str:
    """The author's part of a message: everything before the first quoted original."""
    out = []
    for line in text.splitlines():
        if _QUOTE_START.match(line.strip()):
            break
        out.append(line)
    return "\n".join(out)


def return_date(text: str, sent_at: datetime | None, subject: str = "") -> ReturnDate | None:
    """The first day back stated in an out-of-office text, or None if it states none."""
    if not text and not subject:
        return None
    base = (sent_at or datetime.now(UTC)).astimezone(UTC)
    body = unicodedata.normalize("NFKC", own_text(text or ""))
    found: list[tuple[tuple[int, int], ReturnDate]] = []
    for source in (unicodedata.normalize("NFKC", subject or ""), body):
        found.extend(_japanese(source, base))
        for lang, meaning, pattern in _COMPILED:
            for match in pattern.finditer(source):
                hit = _date_after(source, match, lang, base)
                if hit is None:
                    continue
                day, words = hit
                if meaning == "until":
                    day += timedelta(days=1)
                phrase = " ".join((match.group(0) + words).split())
                # An explicit "back on" outranks an "until" that comes earlier in the text.
                rank = 0 if meaning == "on" else 1
                found.append(((rank, match.start()), ReturnDate(day, phrase)))
        if found:
            break  # the subject wins when it states a date ("Out of office until 16 March")
    if not found:
        return None
    found.sort(key=lambda item: item[0])
    return found[0][1]


def _plausible(day: date, base: datetime) -> bool:
    start = base.date()
    return start <= day <= (base + MAX_AHEAD).date()


def _japanese(text: str, base: datetime) -> list[tuple[tuple[int, int], ReturnDate]]:
    out = []
    for match in _JA.finditer(text):
        year = int(match.group("y")) if match.group("y") else None
        day = _nearest_future(year, int(match.group("m")), int(match.group("d")), base)
        if day is None:
            continue
        kind = match.group("kind")
        tail = text[match.end() : match.end() + 12]
        if kind in ("まで", "迄"):
            day += timedelta(days=1)
        elif not _JA_BACK.search(tail):
            continue  # "3月2日から不在" is when the absence starts, not when it ends
        if _plausible(day, base):
            rank = 1 if kind in ("まで", "迄") else 0
            out.append(((rank, match.start()), ReturnDate(day, match.group(0) + tail[:4])))
    return out


def _nearest_future(year: int | None, month: int, day: int, base: datetime) -> date | None:
    years = [year] if year else [base.year, base.year + 1]
    for y in years:
        try:
            candidate = date(y, month, day)
        except ValueError:
            continue
        if year or candidate >= base.date():
            return candidate
    return None


def _date_after(text: str, match: re.Match, lang: str, base: datetime) -> tuple[date, str] | None:
    rest = text[match.end() : match.end() + 80].split("\n", 1)[0]
    tokens = rest.split()[:_WINDOW_TOKENS]
    if tokens:
        first = tokens[0].rstrip(",;:!)")
        if _NUMERIC.match(first) or _ISO.match(first):  # "16/03/2026": read it ourselves
            day = _parse(first, lang, base)
            return (day, " " + first) if day is not None and _plausible(day, base) else None
    for n in range(len(tokens), 0, -1):
        words = " ".join(tokens[:n]).rstrip(".,;:!)")
        words = re.sub(r"^\(|^[,:]\s*", "", words)
        if not words or not _DATEISH.search(words) or _WORDS_NOT_DATES.match(words):
            continue
        day = _parse(words, lang, base)
        if day is not None and _plausible(day, base):
            return day, " " + words
    return None


def _parse(words: str, lang: str, base: datetime) -> date | None:
    numeric = _NUMERIC.match(words)
    if numeric:
        return _numeric(numeric, lang, base)
    iso = _ISO.match(words)
    if iso:
        try:
            return date(int(iso.group("y")), int(iso.group("m")), int(iso.group("d")))
        except ValueError:
            return None
    import dateparser  # imported late: only auto-replies with a trigger phrase get here

    parsed = dateparser.parse(
        words,
        languages=[lang],
        settings={
            "RELATIVE_BASE": base.replace(tzinfo=None),
            "PREFER_DATES_FROM": "future",
            "PREFER_DAY_OF_MONTH": "first",
            "DATE_ORDER": "MDY" if lang == "en" else "DMY",
            "REQUIRE_PARTS": [],
            "STRICT_PARSING": False,
        },
    )
    if parsed is None:
        return None
    return parsed.date()


def _numeric(match: re.Match, lang: str, base: datetime) -> date | None:
    """ "16/03", "3/16/2026", "16.03.26": of the readings that make sense, the nearest ahead."""
    a, b = int(match.group("a")), int(match.group("b"))
    year = match.group("y")
    y = None
    if year:
        y = int(year) + (2000 if len(year) == 2 else 0)
    readings = [(b, a), (a, b)] if lang != "en" or "." in match.group(0) else [(a, b), (b, a)]
    best: date | None = None
    for month, day in readings:
        candidate = _nearest_future(y, month, day, base)
        if candidate is None or not _plausible(candidate, base):
            continue
        if best is None or candidate < best:
            best = candidate
    return best
