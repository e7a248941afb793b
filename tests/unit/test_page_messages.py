"""The pages' one message catalogue: every text is translated to bokmål, and the shipped .mo is
the compiled .po (so a fresh install shows the same words the catalogue has)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from babel.support import Translations

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "interfaces" / "pages" / "locale"
METHODS = [("interfaces/pages/**.py", "python"), ("interfaces/pages/templates/**.html", "jinja2")]


def extracted() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, options_map={"interfaces/pages/templates/**.html": {
            "extensions": "jinja2.ext.i18n"}}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalogue() -> dict[str, str]:
    """Translations a person confirmed: a fuzzy guess of the tools counts as missing."""
    with (LOCALE / "nb" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return {str(m.id): str(m.string) for m in read_po(f) if m.id and not m.fuzzy}


def test_every_page_text_has_a_bokmal_translation() -> None:
    messages = extracted()
    assert len(messages) > 100  # the extraction really read the templates
    translated = catalogue()
    assert sorted(m for m in messages if not translated.get(m)) == []


def test_the_shipped_mo_is_the_compiled_po() -> None:
    compiled = Translations.load(str(LOCALE), ["nb"], domain="messages")
    differing = {m: s for m, s in catalogue().items() if compiled.gettext(m) != s}
    assert differing == {}
