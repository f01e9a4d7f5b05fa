"""What the start of a message's body says about who wrote it: a person, or software.

Pure: `read(text)` takes `MessageSummary.text` (the bounded start of the body) and returns the
machine phrases found in the author's own part only: quoted originals ("On ... wrote:", "> ",
"-----Original Message-----", a forwarded message) and signatures ("-- ", "Sent from my
iPhone") are cut off first, so a person who quotes or forwards a bounce, or signs with "Out of
office Fridays", is never read as the machine they quote. The wording lists live in
watcher/wording.py; what the signals mean is decided in watcher/classify.py.

`person_first` guards the safe side once more: MTAs and responders start with their template;
a message whose own text opens with a person's sentences before the first machine phrase (a
colleague pasting a bounce into a reply) is a person writing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from watcher import wording

# Where the author's own text ends: a quote header, a quoted line, a forward, a signature.
_CUT = re.compile(
    r"^(?:>"
    r"|-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"oorspronkelijk bericht|mensagem original|messaggio originale|forwarded message|"
    r"weitergeleitete nachricht|message transféré|mensaje reenviado|doorgestuurd bericht)"
    r"|begin forwarded message|_{8,}"
    r"|(?:on|am|le|el|op|em|il)\s.{4,160}(?:wrote|schrieb|a écrit|escribió|schreef|escreveu|"
    r"ha scritto)\s*:"
    r"|(?:from|von|de|van|da)\s*:\s.+"
    r"|--\s*$"
    r"|sent from my |get outlook for |von meinem \S+ gesendet|envoyé de mon |enviado desde mi "
    r"|verstuurd vanaf mijn |inviato da |enviado do meu |iphoneから送信)",
    re.IGNORECASE,
)
# "On Mon, 2 Mar 2026 at 09:14, Alice Smith <alice@example.com>" + "wrote:" on the next line.
_WROTE_NEXT = re.compile(r"^\s*(?:wrote|schrieb|a écrit|escribió|schreef|escreveu)\s*:", re.I)
# Before the first machine phrase, a person greets someone by name, asks, or speaks of
# themselves; templates open with their phrase ("This is the mail system at host ...").
_PERSON_OPENING = re.compile(
    r"\b(?:hi|hello|hey|dear|hallo|liebe[rs]?|bonjour|salut|hola|ciao|olá|beste|hej)\s+"
    r"[^\W\d_][\w.-]*\s*[,!]"
    r"|\?|\b(?:i|i'm|i've|my|me|ich|mein|meine|je|j'ai|mon|ma|yo|mi|ik|mijn|io|eu|meu|minha)\b",
    re.IGNORECASE,
)
_PERSON_WORDS = 40  # a longer preamble than this is a person's text, whatever it says


def authored_text(text: str) -> str:
    """The author's part of a message: everything before the first quote, forward or
    signature marker."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    out: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if _CUT.match(stripped) or (
            re.match(r"^(?:on|am|le|el|op|em)\s", stripped, re.I) and _WROTE_NEXT.match(following)
        ):
            break
        out.append(line)
    return "\n".join(out)


@dataclass(frozen=True)
class BodySignals:
    own: str  # the authored text, whitespace collapsed
    failure: str = ""  # a final-failure phrase of an MTA ("" if none)
    delay: str = ""  # a still-trying phrase
    permanent: bool = False  # words that make a failure final
    success: bool = False  # a delivery or relay confirmation
    smtp_code: bool = False  # an SMTP reply / enhanced status code
    absence: str = ""  # "I am out of the office" and translations
    template: tuple[str, ...] = ()  # distinct template phrases of an absence notice
    self_declared: bool = False  # "this is an automatic reply"
    challenge: bool = False  # "please verify you are human"
    person_first: bool = False  # a person's sentences come before the first machine phrase

    @property
    def machine_failure(self) -> bool:
        return bool(self.failure) and not self.person_first

    @property
    def machine_delay(self) -> bool:
        return bool(self.delay) and not self.person_first


def _words_before(text: str, position: int) -> int:
    return len(re.findall(r"\w+", text[:position]))


def read(text: str) -> BodySignals:
    own = wording.flat(authored_text(text))
    if not own:
        return BodySignals(own="")
    failure = wording.FAILURE_TEXT.search(own)
    delay = wording.DELAY_TEXT.search(own)
    absence = wording.ABSENCE_TEXT.search(own)
    templates = tuple(
        dict.fromkeys(m.group(0).lower() for m in wording.TEMPLATE_TEXT.finditer(own))
    )
    code = wording.SMTP_CODE.search(own)
    firsts = [m.start() for m in (failure, delay, code) if m is not None]
    person_first = False
    if firsts:
        before = own[: min(firsts)]
        person_first = bool(_PERSON_OPENING.search(before)) or (
            _words_before(own, min(firsts)) > _PERSON_WORDS
        )
    return BodySignals(
        own=own,
        failure=failure.group(0) if failure else "",
        delay=delay.group(0) if delay else "",
        permanent=bool(wording.PERMANENT_TEXT.search(own)),
        success=bool(wording.SUCCESS_TEXT.search(own)),
        smtp_code=code is not None,
        absence=absence.group(0) if absence else "",
        template=templates,
        self_declared=bool(wording.SELF_DECLARED_AUTO.search(own)),
        challenge=bool(wording.CHALLENGE_WORDS.search(own)),
        person_first=person_first,
    )
