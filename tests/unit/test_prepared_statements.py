"""How a named query becomes a prepared statement and the EXECUTE that stands in for it."""

from __future__ import annotations

from infrastructure.prepared import _prepared, prepared_statements
from infrastructure.sql import queries


def test_parameters_are_numbered_by_first_appearance_and_reused() -> None:
    p = _prepared("s", "SELECT %(b)s::int, %(a)s::text, %(b)s::int + 1")
    assert p.prepare == "PREPARE s AS\nSELECT $1::int, $2::text, $1::int + 1"
    assert p.execute == "EXECUTE s(%(b)s, %(a)s)"


def test_a_statement_without_parameters_is_executed_bare() -> None:
    assert _prepared("s", "SELECT 1").execute == "EXECUTE s"


def test_the_statements_an_append_writes_are_prepared_under_distinct_names() -> None:
    prepared = prepared_statements()
    assert queries("event_store")["insert_event"] in prepared
    assert queries("guards")["take_period"] in prepared
    names = [p.name for p in prepared.values()]
    assert len(names) == len(set(names))
    assert all(n.startswith("export_service_") for n in names)
