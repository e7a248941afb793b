"""Named SQL queries, one `.sql` file per adapter, read once at import (as procrastinate does).

A file holds blocks introduced by `-- name: <query_name>`; the lines up to the next such
header are the query. Keeping the SQL in files lets it be read, reviewed and EXPLAINed as SQL.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^-- name: ([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    """`{name: query}` for every `-- name:` block of `text` (comments kept, edges trimmed)."""
    parts = _HEADER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name} is defined twice")
        queries[name] = body.strip()
    return queries


@cache
def queries(adapter: str) -> dict[str, str]:
    """The named queries of `infrastructure/sql/<adapter>.sql`."""
    return parse(resources.files(__name__).joinpath(f"{adapter}.sql").read_text("utf-8"))
