"""Characters that must never reach a document or a terminal unseen.

Control characters (ANSI escape sequences among them) can repaint a terminal, so a signer's name
could print "VALID" over "INVALID"; bidi overrides and zero-width characters make a name read
differently from what it is ("…exe.png"). Park data is refused when it holds one
(:func:`unsafe_character`); anything printed from outside data is shown escaped
(:func:`escape_unsafe`).
"""

from __future__ import annotations

import re
import unicodedata

# Cc control (C0, DEL, C1), Cf format (bidi embeddings/overrides/isolates, zero-width space and
# joiners, BOM, soft hyphen), Cs surrogates, Co private use, Zl/Zp line and paragraph separators.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def unsafe_character(text: str, allowed: str = "") -> str | None:
    """The first control, bidi or invisible character of ``text`` (not in ``allowed``), or None."""
    if text.isascii():  # the common case, without a look-up per character
        return next((c for c in _ASCII_CONTROL.findall(text) if c not in allowed), None)
    return next((c for c in text if c not in allowed and unicodedata.category(c) in UNSAFE_CATEGORIES), None)


def describe(char: str) -> str:
    """``U+202E (RIGHT-TO-LEFT OVERRIDE)``: how a message names a refused character."""
    return f"U+{ord(char):04X} ({unicodedata.name(char, 'unnamed control character')})"


def escape_unsafe(text: str, allowed: str = "\n\t") -> str:
    """``text`` with every unsafe character written as a visible ``\\x1b`` / ``\\u202e`` escape."""
    if unsafe_character(text, allowed) is None:
        return text
    return "".join(c if c in allowed or unicodedata.category(c) not in UNSAFE_CATEGORIES
                   else c.encode("unicode_escape").decode("ascii") for c in text)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A text cell of a CSV export that a spreadsheet will not run as a formula (``=cmd|…``,
    ``+HYPERLINK(…)``): prefixed with ``'``, as OWASP advises. Numbers and other values pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
