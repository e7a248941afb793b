"""Spreadsheet safety: text from users never becomes a live formula in a csv or xlsx we write.

Excel, LibreOffice and Google Sheets treat a cell that starts with `=`, `+`, `-` or `@` (and,
after a tab or carriage return, the same) as a formula: "CSV injection" (OWASP). OWASP's advice
is followed: such text gets a leading single quote, so it is shown as the text it is. Numbers,
dates and None are not text and pass through unchanged, so amounts stay numeric. Every csv and
xlsx writer calls `safe_cell` on each value of each row, as the last step before writing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import TypeVar

#: The first characters OWASP lists as formula triggers.
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"

T = TypeVar("T")


def neutralise(text: str) -> str:
    """The text with a leading `'` when it would otherwise start a formula."""
    return QUOTE + text if text.startswith(FORMULA_TRIGGERS) else text


def safe_cell(value: T) -> T | str:
    """Text is neutralised; any other value (int, Decimal, date, None, ...) is returned as is."""
    return neutralise(value) if isinstance(value, str) else value


def safe_row(values: Iterable[T]) -> list[T | str]:
    """`safe_cell` over a whole row."""
    return [safe_cell(value) for value in values]


def code_problem(value: str) -> str | None:
    """Why a configured code (company code, tax code, date format, ...) is refused, or None.

    Codes go into files and ledgers verbatim: no control characters and no formula start,
    so they never need neutralising (which would change the code)."""
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        return "must not contain control characters"
    if value.startswith(("=", "+", "-", "@")):
        return "must not start with =, +, - or @"
    return None


def is_safe_text(text: str) -> bool:
    """True when a text cell cannot start a formula (what the writers guarantee)."""
    return not text.startswith(FORMULA_TRIGGERS)
