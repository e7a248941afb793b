"""Free text and codes in files that machines read by position and people open in spreadsheets.

Neither accounting file is ever quoted: a positional GL02 reader and Business Central's
variable-text import split each line on the separator and nothing else. So text loses the
separator, quotes, tabs and line breaks, and text that would start a formula in a spreadsheet
gets a leading `'` (`domain.spreadsheet.neutralise`, OWASP's advice against CSV injection).
Codes from the settings are validated when stored; `code_field` cleans them again here, so a
file is safe whatever settings object a caller hands in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from domain.spreadsheet import neutralise

#: Files are written in pieces of about this many characters (one storage write each).
CHUNK = 64 * 1024


def field_text(value: Any, max_len: int) -> str:
    """One unquoted field: one line, no `;` or `"`, never a formula, at most max_len chars."""
    # Two replaces, not a translate table: each is a scan that usually finds nothing.
    text = " ".join(str(value or "").split()).replace(";", ",").replace('"', "'")
    return neutralise(text)[:max_len].rstrip()


@lru_cache(maxsize=4096)
def code_field(value: str) -> str:
    """A code (account, tax code, dimension, voucher type) as one clean field; few distinct
    values per file, so each is cleaned once."""
    return field_text(value, 250)


def chunked(texts: Iterable[str], size: int = CHUNK) -> Iterator[bytes]:
    """The texts joined into pieces of about `size` characters, UTF-8 encoded."""
    pending: list[str] = []
    length = 0
    for text in texts:
        pending.append(text)
        length += len(text)
        if length >= size:
            yield "".join(pending).encode("utf-8")
            pending.clear()
            length = 0
    if pending:
        yield "".join(pending).encode("utf-8")
