"""Named SQL files: every block parses, names are unique, placeholders are psycopg's."""

from __future__ import annotations

from importlib import resources

import pytest
from psycopg import sql

from infrastructure.sql import parse, queries
from infrastructure.sql.composed import composed

FILES = sorted(
    p.name.removesuffix(".sql")
    for p in resources.files("infrastructure.sql").iterdir()
    if p.name.endswith(".sql")
)


def test_blocks_are_split_by_their_name_headers() -> None:
    text = "-- about the file\n\n-- name: first\n-- why\nSELECT 1\n\n-- name: second\nSELECT 2\n"
    assert parse(text) == {"first": "-- why\nSELECT 1", "second": "SELECT 2"}


def test_a_name_used_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n")


@pytest.mark.parametrize("adapter", FILES)
def test_every_query_file_loads_with_non_empty_queries(adapter: str) -> None:
    named = queries(adapter)
    assert named, f"{adapter}.sql has no named query"
    for name, text in named.items():
        body = [line for line in text.splitlines() if not line.startswith("--")]
        assert "".join(body).strip(), f"{adapter}.{name} is empty"
        assert "%s" not in text or "%(" not in text, f"{adapter}.{name} mixes placeholder styles"


def test_identifiers_are_quoted_by_psycopg_not_formatted_in() -> None:
    audit = composed("audit", events='odd"name')
    assert isinstance(audit["run_rows"], sql.Composed)
    rendered = audit["run_rows"].as_string(None)
    assert '"odd""name"' in rendered and "{events}" not in rendered


def test_one_query_takes_identifiers_and_literals_quoted_by_psycopg() -> None:
    from infrastructure.sql.composed import query

    statement = query("analytics", "create_role_login", role='x"y',
                      verifier=sql.Literal("SCRAM-SHA-256$it's"))
    rendered = statement.as_string(None)
    assert rendered.startswith('CREATE ROLE "x""y" LOGIN PASSWORD ')
    assert "'SCRAM-SHA-256$it''s'" in rendered and "{" not in rendered
