"""Named queries whose table names are settings, filled in with `psycopg.sql`.

A `.sql` file may write `{events}`; `composed("audit", events=EVENTS_TABLE)` gives every query
of `audit.sql` with that placeholder replaced by the quoted identifier (never by string
formatting), so no query is built with an f-string. `query()` fills in one query, with
identifiers (str) or other composables (`sql.Literal`).
"""

from __future__ import annotations

from psycopg import sql

from infrastructure.sql import queries


def composed(adapter: str, **identifiers: str) -> dict[str, sql.Composed]:
    """The named queries of `<adapter>.sql` with `{name}` replaced by quoted identifiers."""
    names = {key: sql.Identifier(value) for key, value in identifiers.items()}
    return {name: sql.SQL(text).format(**names) for name, text in queries(adapter).items()}


def query(adapter: str, name: str, **parts: str | sql.Composable) -> sql.Composed:
    """One named query of `<adapter>.sql`: a str part is quoted as an identifier, a
    composable (e.g. `sql.Literal`) is inserted as psycopg renders it."""
    values = {key: sql.Identifier(v) if isinstance(v, str) else v for key, v in parts.items()}
    return sql.SQL(queries(adapter)[name]).format(**values)
