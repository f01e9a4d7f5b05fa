"""Does the user's own text ask something? Reading the words they wrote (quotes, forwards and
signatures cut off) and finding the first question or request in them."""

from __future__ import annotations

import re

# Where the user's own words end: an attribution line ("On ... wrote:", also wrapped over a few
# lines; de "Am ... schrieb ...:", fr "Le ... a écrit :"), Outlook's quoted header block, a
# forwarded message, a signature ("-- ").
_CUTS = (
    re.compile(r"^[ \t]*On\b[^\n]{0,300}(?:\n[^\n]{0,300}){0,2}?\bwrote:[ \t]*$", re.M | re.I),
    re.compile(
        r"^[ \t]*Am\b[^\n]{0,300}(?:\n[^\n]{0,300}){0,2}?\bschrieb\b[^\n]{0,200}:[ \t]*$", re.M
    ),
    re.compile(r"^[ \t]*Le\b[^\n]{0,300}(?:\n[^\n]{0,300}){0,2}?\ba écrit[ \t]*:[ \t]*$", re.M),
    re.compile(r"^[ \t]*-{2,}[ \t]*Original Message[ \t]*-{2,}", re.M | re.I),
    re.compile(r"^[ \t]*-{2,}[ \t]*Forwarded message[ \t]*-{2,}", re.M | re.I),
    re.compile(r"^[ \t]*Begin forwarded message:", re.M | re.I),
    re.compile(r"^[ \t]*_{10,}[ \t]*$", re.M),  # Outlook's rule above "From: ... Sent: ..."
    re.compile(r"^From:[^\n]*\n(?:[^\n]*\n)?Sent:", re.M),
    re.compile(r"^-- ?$", re.M),  # the signature separator (RFC 3676 "-- ")
)
_URL = re.compile(r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.|\bmailto:)\S+", re.I)
# A sentence and the punctuation that ends it; linear (no nested repeats: texts are untrusted).
_SENTENCE = re.compile(r"[^.!?\n]+([.!?]*)")
_CLOSERS = frozenset("\"')]\u00bb\u201d\u2019")
_OPENERS = "([\"'\u00ab\u201c"
# Asking without a question mark. Whole words, any case.
REQUEST_PHRASES = (
    "let me know",
    "let us know",
    "could you",
    "would you",
    "can you",
    "will you",
    "please confirm",
    "please advise",
    "please let me",
    "please send",
    "please reply",
    "please get back",
    "get back to me",
    "any thoughts",
    "your thoughts",
    "what do you think",
    "are you available",
    "are you free",
    "would it be possible",
    "is it possible",
    "do you have",
    "if you could",
    "i wonder if",
    "i was wondering",
    "looking forward to hearing",
    "look forward to hearing",
    "looking forward to your reply",
    "awaiting your reply",
)
_REQUEST = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in REQUEST_PHRASES) + r")\b", re.I)


def own_words(text: str) -> str:
    """The part of a message the user wrote: quoted lines, the quoted message after an
    attribution line, a forwarded message and the signature removed."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    end = len(text)
    for cut in _CUTS:
        match = cut.search(text)
        if match is not None:
            end = min(end, match.start())
    lines = [line for line in text[:end].split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def _first_question_mark(words: str) -> tuple[int, str] | None:
    """(where, sentence) of the first sentence ending in "?" right after a word: not a "?"
    inside a word, nor a lone "?" after a colon or a number list."""
    for match in _SENTENCE.finditer(words):
        ending = match.group(1)
        if "?" not in ending:
            continue
        after = words[match.end() : match.end() + 1]
        if after and not (after.isspace() or after in _CLOSERS):
            continue  # "file?id" or similar: not the end of a sentence
        body = match.group()[: len(match.group()) - len(ending)].rstrip()
        if body and body[-1].isalnum() and any(c.isalpha() for c in body):
            return match.start(), body.strip().lstrip(_OPENERS) + "?"
    return None


def find_question(text: str) -> str | None:
    """The first sentence of the user's own words that asks something, or None."""
    words = _URL.sub(" ", own_words(text))
    found = []
    asked = _first_question_mark(words)
    if asked is not None:
        found.append(asked)
    request = _REQUEST.search(words)
    if request is not None:
        start = max(words.rfind(c, 0, request.start()) for c in ".!?\n") + 1
        stops = [i for i in (words.find(c, request.end()) for c in ".!?\n") if i != -1]
        end = min(stops) + 1 if stops else len(words)
        found.append((start, words[start:end].strip()))
    if not found:
        return None
    return " ".join(min(found)[1].split())
