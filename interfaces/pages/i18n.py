"""Page language: bokmål by default, English on request; one Babel message catalogue.

Message ids in templates and code are English; `locale/nb/LC_MESSAGES/messages.po` translates
them (its compiled `.mo` is shipped beside it, `./dev messages` refreshes both). One Jinja2
environment per language, so concurrent requests in different languages never share state.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

HERE = Path(__file__).parent
LOCALE_DIR = HERE / "locale"
TEMPLATES = HERE / "templates"
LANGUAGES = ("nb", "en")
DEFAULT = "nb"
LANG_COOKIE = "lang"
OSLO = ZoneInfo("Europe/Oslo")
#: Norwegian written in any of its forms is shown in bokmål.
ALIASES = {"no": "nb", "nn": "nb"}


def N_(message: str) -> str:
    """Marks a message for the catalogue; translated where it is shown."""
    return message


class Message(str):
    """A catalogue message id with the values it names (`%(n)s`); `foreign` when it is not in
    the catalogue (an API message nobody has worded for the pages yet), shown as it is."""

    params: dict[str, Any]
    foreign: bool

    def __new__(cls, msgid: str, foreign: bool = False, **params: Any) -> Message:
        message = super().__new__(cls, msgid)
        message.params = params
        message.foreign = foreign
        return message


def say(language: str, message: Any) -> Markup:
    """A message (or a plain catalogue id) in the page language, HTML-escaped; a foreign one
    is marked with its own language so a screen reader pronounces it right."""
    if isinstance(message, Message) and message.foreign:
        return Markup('<span lang="en">{}</span>').format(message) if language != "en" else escape(
            str(message))
    text = escape(translations(language).gettext(str(message)))
    params = getattr(message, "params", None)
    if not params:
        return text
    return text % {k: say(language, v) if isinstance(v, Message) else v
                   for k, v in params.items()}


def negotiate(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    header = request.headers.get("accept-language", "")
    for part in header.split(","):
        tag = part.split(";")[0].strip().replace("_", "-")
        if not tag or tag == "*":
            continue
        try:
            language = Locale.parse(tag, sep="-").language
        except (ValueError, UnknownLocaleError):
            continue
        language = ALIASES.get(language, language)
        if language in LANGUAGES:
            return language
    return DEFAULT


@cache
def translations(language: str) -> NullTranslations:
    return Translations.load(str(LOCALE_DIR), [language], domain="messages")


def _when(value: datetime | str | None, language: str) -> str:
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_datetime(moment, "short", tzinfo=OSLO, locale=language)


def _day(value: date | str | None, language: str) -> str:
    if value is None or value == "":
        return ""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return format_date(day, "medium", locale=language)


def _amount(value: Any, language: str) -> str:
    try:
        return format_decimal(Decimal(str(value)), "#,##0.00", locale=language)
    except (InvalidOperation, ValueError):
        return str(value)


def _number(value: Any, language: str) -> str:
    return format_decimal(value, locale=language) if value is not None else ""


@cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = lambda v: _when(v, language)
    env.filters["day"] = lambda v: _day(v, language)
    env.filters["amount"] = lambda v: _amount(v, language)
    env.filters["number"] = lambda v: _number(v, language)
    env.globals["lang"] = language
    env.globals["say"] = lambda message: say(language, message)
    from interfaces.pages import labels

    env.globals.update(N_=N_, statuses=labels.STATUSES, roles=labels.ROLES, field_labels=labels.FIELDS,
                       targets=labels.TARGETS, triggers=labels.TRIGGERS,
                       reasons=labels.REASONS, setting_labels=labels.SETTINGS,
                       event_labels=labels.EVENTS)
    return env
