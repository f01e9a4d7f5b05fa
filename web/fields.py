"""Field-by-field checks for the settings page's forms: every field is checked at once.

WTForms checks shape (required, length); the meaning of a value (a delay, a zone, a template) is
checked by the watcher's own parsers, which raise ValidationError on the first problem. Run
through `check`, each parser's error lands on its own field, so a form with three bad fields
shows three marked errors in one round trip, and the typed values stay in the form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from watcher.errors import ReplywatchError


def sentence(text: str) -> str:
    """A parser's message as a sentence: capital first letter, one full stop."""
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


def mark(field, message: str) -> None:
    """Put one more error on a field (WTForms keeps a tuple until validate() has run)."""
    field.errors = [*field.errors, sentence(message)]


def check(field, parse: Callable[[Any], Any], default: Any = None) -> Any:
    """`parse(field.data)`, or `default` after marking the field with the parser's message.
    A field already marked by WTForms is not parsed again (one message per problem)."""
    if field.errors:
        return default
    try:
        return parse(field.data)
    except ReplywatchError as e:
        mark(field, e.message)
        return default


def has_errors(form) -> bool:
    return bool(form.form_errors) or any(f.errors for f in form)
