"""The API's validation messages in the pages' words: each pydantic error type and each message
the request models and domain checks give is mapped to a catalogue message, so a field's error
is shown in the page language. Anything not mapped yet is shown as the API words it, marked."""

from __future__ import annotations

import re
from typing import Any

from interfaces.http.input_safety import RANGE_MESSAGE
from interfaces.pages.i18n import N_, Message

DATE = N_("Enter a date as YYYY-MM-DD, for example 2026-01-31")
FILL_IN = N_("Fill in this field")
CHOOSE = N_("Choose one of the options")

#: pydantic's error types (its `type` field), whatever the English wording of its version.
BY_TYPE = {
    "missing": FILL_IN,
    "date_type": DATE,
    "date_parsing": DATE,
    "date_from_datetime_parsing": DATE,
    "date_from_datetime_inexact": DATE,
    "enum": CHOOSE,
    "literal_error": CHOOSE,
    "bool_type": CHOOSE,
    "bool_parsing": CHOOSE,
    "string_type": FILL_IN,
    "int_type": N_("Enter a whole number"),
    "int_parsing": N_("Enter a whole number"),
    "too_short": N_("Fill in at least one"),
    "extra_forbidden": N_("This field is not expected here"),
    "json_invalid": N_("This is not valid JSON"),
}

#: The exact words of our own validators and domain checks.
BY_TEXT = {
    "period_end must not be before period_start": N_("The last day must not be before the first day"),
    "must be an ISO date string YYYY-MM-DD": DATE,
    RANGE_MESSAGE: N_("Enter a date between 1900-01-01 and 2200-12-31"),
    "must be 1 to 64 letters, digits, '_' or '-'": N_("Use 1 to 64 letters, digits, _ or -"),
    "must be a non-empty string": FILL_IN,
    "must not contain ; \" or control characters": N_('Do not use ; or " or control characters'),
    "must not contain control characters": N_("Do not use control characters"),
    "must not start with = + - or @": N_("Do not start with =, +, - or @"),
    "must not start with =, +, - or @": N_("Do not start with =, +, - or @"),
    "must be a string of 1 to 20 digits": N_("Use 1 to 20 digits and nothing else"),
    "must be 1-7 capital letters, digits, _ or -, so numbers fit Code[20]": N_(
        "Use 1 to 7 capital letters, digits, _ or -"),
    "category names must be non-empty": N_("Give every category a name"),
    "is not a known field": N_("This field is not expected here"),
    "is not a known setting": N_("This field is not expected here"),
    # The Bufdir report's configuration (domain/bufdir_config.py).
    "date_format must be a strftime pattern such as %d.%m.%Y": N_(
        "Give the date format as a pattern such as %d.%m.%Y"),
    "a column has exactly one of 'source' and 'constant'": N_(
        "Give each column either a source or a constant, not both"),
    "required_when needs a source to check": N_(
        "A column with required_when needs a source to check"),
}

#: Words with values in them: (pattern, message), the pattern's named groups being the values.
BY_PATTERN = [
    (re.compile(r"must be at most (?P<n>\d+) characters"), N_("Use at most %(n)s characters")),
    (re.compile(r"must be one of (?P<n>.+)"), N_("Choose one of: %(n)s")),
    (re.compile(r"date_format (?P<problem>.+)"), N_("Date format: %(problem)s")),
    (re.compile(r"duplicate column headers: (?P<headers>.+)"),
     N_("Two columns have the same header: %(headers)s")),
    (re.compile(r"column '(?P<column>.*)': unknown source '(?P<source>.*)'"),
     N_("Column '%(column)s' reads '%(source)s', which activities do not have")),
    (re.compile(r"column '(?P<column>.*)': unknown field '(?P<field>.*)'"),
     N_("Column '%(column)s' checks '%(field)s', which activities do not have")),
    (re.compile(r"'(?P<kind>.*)' is not peer work under (?P<rules>.+); set its category to null"),
     N_("'%(kind)s' is not peer work under %(rules)s: leave its category empty (null)")),
    (re.compile(r"(?P<category>.+?) needs at least (?P<n>\d+) participants under (?P<rules>.+); "
                r"a configuration may only be stricter"),
     N_("%(category)s needs at least %(n)s participants under %(rules)s; "
        "a configuration may only be stricter")),
    (re.compile(r"(?P<category>.+?) needs at least (?P<n>\d+) minutes a day under (?P<rules>.+); "
                r"a configuration may only be stricter"),
     N_("%(category)s needs at least %(n)s minutes a day under %(rules)s; "
        "a configuration may only be stricter")),
]


def from_text(text: str, field: str | None = None) -> Message:
    """One message of the API (a validator's or a domain error's words) for the pages."""
    text = text.strip()
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    if field and text.startswith(f"{field}: "):
        text = text[len(field) + 2:]  # a domain error names its field first
    if text in BY_TEXT:
        return Message(BY_TEXT[text])
    for pattern, message in BY_PATTERN:
        found = pattern.fullmatch(text)
        if found:
            return Message(message, False, **{  # a `problem` is itself one of our messages
                name: from_text(value) if name == "problem" else value
                for name, value in found.groupdict().items()})
    return Message(text, foreign=True)


def from_error(error: Any) -> Message:
    """One pydantic error (an item of ValidationError.errors()) for the pages."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "string_too_long" and "max_length" in ctx:
        return Message(N_("Use at most %(n)s characters"), n=ctx["max_length"])
    if kind == "string_too_short" and ctx.get("min_length", 1) <= 1:
        return Message(FILL_IN)
    if kind in ("value_error", "assertion_error"):
        return from_text(str(ctx.get("error", "")) or str(error.get("msg", "")))
    if kind in BY_TYPE:
        return Message(BY_TYPE[kind])
    return from_text(str(error.get("msg", "invalid")))
