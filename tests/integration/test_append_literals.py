"""The literals appends are written with (infrastructure/prepared.py `Literals`): whatever the
value, the server reads back exactly that value, so no text can end a literal early; values of
other types, and text holding NUL, are left to psycopg."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from infrastructure.prepared import (
    RECURRING_MAX,
    RECURRING_TEXT_MAX,
    Binder,
    Literals,
    prepared_statements,
)
from infrastructure.sql import queries

ONCE = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=40)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


def read_back(conn: psycopg.Connection[Any], literal: str) -> Any:
    row = conn.execute(f"SELECT {literal}").fetchone()
    assert row is not None
    return row[0]


@ONCE
@given(TEXT)
def test_any_text_reads_back_as_itself(conn: psycopg.Connection[Any], text: str) -> None:
    literal = Literals(conn).literal(text)
    assert literal is not None
    assert read_back(conn, literal) == text


@ONCE
@given(st.text(alphabet="'\\\"$;-–/* \n\tEe", max_size=30))
def test_quotes_backslashes_and_comment_marks_stay_inside(
    conn: psycopg.Connection[Any], text: str
) -> None:
    literal = Literals(conn).literal(text)
    assert literal is not None
    assert read_back(conn, f"{literal} || 'end'") == text + "end"


@ONCE
@given(st.one_of(
    st.uuids(), st.integers(-(2**63), 2**63 - 1), st.booleans(), st.binary(max_size=64),
    st.dates(), st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3))])),
    st.datetimes(),
))
def test_typed_values_read_back_as_themselves(conn: psycopg.Connection[Any], value: Any) -> None:
    literal = Literals(conn).literal(value)
    assert literal is not None
    assert read_back(conn, literal) == value


@ONCE
@given(JSON)
def test_json_reads_back_as_itself(conn: psycopg.Connection[Any], value: Any) -> None:
    literal = Literals(conn).literal(Jsonb(value))
    assert literal is not None
    assert read_back(conn, literal) == json.loads(json.dumps(value))


@ONCE
@given(st.lists(st.one_of(st.none(), TEXT), max_size=6))
def test_arrays_read_back_as_themselves(conn: psycopg.Connection[Any], values: list[Any]) -> None:
    array = Literals(conn).array(values)
    assert array is not None
    assert read_back(conn, f"{array}::text[]") == values


def test_none_is_null_and_other_types_are_left_to_psycopg(conn: psycopg.Connection[Any]) -> None:
    literals = Literals(conn)
    assert literals.literal(None) == "NULL"
    for other in (Decimal("1.5"), [1, 2], "nul\x00inside", "lone \ud800 surrogate",
                  Jsonb({"a": 1}, dumps=json.dumps), 1.5, UUID):
        assert literals.literal(other) is None
    assert literals.array([1, Decimal("2")]) is None


def test_a_statement_with_a_value_of_another_type_is_bound_by_psycopg(
    conn: psycopg.Connection[Any],
) -> None:
    """Binding falls back whole, never half: the EXECUTE text is psycopg's own."""
    sql = queries("guards")["run_moved"]
    prepared = prepared_statements()[sql]
    binder = Binder(conn)
    params = {"run_id": UUID(int=7), "status": "running", "at": Decimal("1")}
    assert binder._execute(prepared, params) == binder.cursor.mogrify(prepared.execute, params)
    typed = dict(params, at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    written = {"run_id": f"'{typed['run_id']}'::uuid", "status": "'running'",
               "at": "'2025-01-02T03:04:05+00:00'::timestamptz"}
    assert binder._execute(prepared, typed) == (
        f"EXECUTE {prepared.name}({', '.join(written[p] for p in prepared.params)})")


def test_text_with_nul_is_refused_as_psycopg_refuses_it(conn: psycopg.Connection[Any]) -> None:
    binder = Binder(conn)
    with pytest.raises(psycopg.DataError):
        binder.row(("a\x00b",))


def test_a_connection_without_standard_strings_is_left_to_psycopg(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("SET standard_conforming_strings = off")
        assert not Literals(c).ready
        binder = Binder(c)
        assert binder.row(("it's \\ here",)) == binder.cursor.mogrify("(%s)", ("it's \\ here",))
        assert read_back(c, binder.row(("it's \\ here",))) == "it's \\ here"


@ONCE
@given(st.lists(st.one_of(TEXT, st.uuids()), min_size=1, max_size=12))
def test_remembered_literals_read_back_as_their_values(
    conn: psycopg.Connection[Any], values: list[Any]
) -> None:
    """One connection's Literals meets the same texts and ids again and again: what it
    remembered is the literal of that value, never of another (a text and the id it spells
    are two values)."""
    literals = Literals(conn)
    mixed = values + [str(v) for v in values if isinstance(v, UUID)] + values[::-1]
    for value in mixed:
        literal = literals.literal(value)
        assert literal is not None
        assert read_back(conn, literal) == value


def test_what_is_remembered_stays_bounded_and_long_texts_are_not(
    conn: psycopg.Connection[Any],
) -> None:
    literals = Literals(conn)
    long_text = "x" * (RECURRING_TEXT_MAX + 1)
    assert literals.literal(long_text) == f"'{long_text}'"
    assert long_text not in literals.recurring
    for n in range(RECURRING_MAX * 2 + 5):
        assert literals.literal(UUID(int=n)) == f"'{UUID(int=n)}'::uuid"
        assert len(literals.recurring) <= RECURRING_MAX
    assert literals.literal("it's") == "'it''s'"
    assert literals.recurring["it's"] == "'it''s'"
