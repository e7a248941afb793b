"""The statements an append writes, prepared once on each connection of the event log's pool.

An append travels as one simple query (infrastructure/recorder.py), and the server parses and
plans every statement of a simple query each time: for the few small statements of an append
that was about a fifth of the server's time. Each statement below is prepared once per
connection (`PREPARE`), and an append sends `EXECUTE name(values)` in its place, still bound on
the client and still in the one query; a group's function runs the same `EXECUTE` texts.

Values are written as SQL literals by `Literals` for the few types appends hold (text through
libpq's own escaping); any other value is left to psycopg's general adaptation. psycopg's
`mogrify` was a fifth of an append's Python.

Each is prepared on first use on a connection, in the query of the append that first needs it.
A statement that is not listed here is sent as its own text, as before: preparing is a speed-up,
never a condition. A connection whose server lost its prepared statements (a pooler in
transaction mode, a `DISCARD ALL`) answers 26000: the append is sent again as text, and so are
that connection's appends from then on.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, cached_property
from typing import Any
from uuid import UUID

import psycopg
from psycopg import pq
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from infrastructure.sql import queries

#: The named queries written inside appends, by file.
APPEND_QUERIES = {
    "event_store": ("defer_job", "remember_response", "insert_event"),
    "guards": ("open_run", "run_moved", "run_ended", "take_period", "take_claims",
               "cover_period", "free_claims", "free_period", "scheduled_start", "sync_started",
               "sync_linked", "sync_ended", "schedule_configured", "schedule_removed"),
    "deliveries": ("delivery_opened", "delivery_moved", "delivery_ended"),
}
_PARAM = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class Prepared:
    """One statement: its `PREPARE` and the `EXECUTE` that stands in for its text."""

    name: str
    prepare: str
    execute: str  # with the statement's own %(name)s placeholders, bound on the client
    params: tuple[str, ...] = ()  # the parameters' names in the order EXECUTE takes them


def _prepared(name: str, sql: str) -> Prepared:
    order: list[str] = []
    for param in _PARAM.findall(sql):
        if param not in order:
            order.append(param)
    numbered = _PARAM.sub(lambda m: f"${order.index(m.group(1)) + 1}", sql)
    arguments = ", ".join(f"%({p})s" for p in order)
    return Prepared(name, f"PREPARE {name} AS\n{numbered}",
                    f"EXECUTE {name}({arguments})" if order else f"EXECUTE {name}", tuple(order))


@cache
def prepared_statements() -> dict[str, Prepared]:
    """`{statement text: Prepared}` for every statement an append may write."""
    found: dict[str, Prepared] = {}
    for file, names in APPEND_QUERIES.items():
        sql = queries(file)
        for name in names:
            found[sql[name]] = _prepared(f"export_service_{file}_{name}", sql[name])
    return found


#: On a psycopg connection: the names prepared there, None when a failed query left that
#: unknown (a new connection has none), or UNPREPARED once the server lost them under it.
_KNOWN = "_export_service_prepared"
UNPREPARED = "unprepared"
SQL = queries("event_store")
log = logging.getLogger(__name__)


def known(conn: psycopg.Connection[Any]) -> set[str] | None:
    """The append statements prepared on `conn` (asked of the server when unknown); None for a
    connection whose appends go unprepared."""
    names: set[str] | str | None = getattr(conn, _KNOWN, set())
    if names == UNPREPARED:
        return None
    if names is None:
        cursor = psycopg.ClientCursor(conn, row_factory=tuple_row)
        names = {name for (name,) in cursor.execute(SQL["prepared_here"])}
    setattr(conn, _KNOWN, names)
    return names if isinstance(names, set) else None


def send_unprepared(conn: psycopg.Connection[Any]) -> None:
    """From now on `conn` sends its appends' statements as text. The server lost what was
    prepared on it (a pooler in transaction mode hands each transaction another server
    connection, or it ran DISCARD ALL): preparing again would only be lost again."""
    if getattr(conn, _KNOWN, None) != UNPREPARED:
        log.warning("the database lost the prepared append statements of a connection; its "
                    "appends are sent unprepared (is a pooler in transaction mode in between?)")
    setattr(conn, _KNOWN, UNPREPARED)


#: Texts up to this length are remembered with their literal (`Literals.recurring`); longer
#: ones (a job's arguments, an answer's body) are written each time.
RECURRING_TEXT_MAX = 64
RECURRING_MAX = 1024


class Literals:
    """SQL literals for the types an append's values have, written as psycopg writes them
    (text through libpq's `PQescapeLiteral`, typed values with psycopg's casts), without its
    general adaptation machinery. `literal` answers None for anything else, and `ready` is
    false on a connection that is not UTF-8 or not standard_conforming_strings: the caller then
    asks psycopg."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.escape = pq.Escaping(conn.pgconn).escape_literal
        #: Literals of the short texts and the ids written again and again (a queue, a task,
        #: a topic; a run's id three times in its own append): looked up, not written anew.
        #: Emptied when full, so it holds what recurs now, not every id ever met.
        self.recurring: dict[str | UUID, str] = {}

    @property
    def ready(self) -> bool:
        """Asked each time: a session may change its settings (libpq tracks them)."""
        return (self.conn.info.encoding == "utf-8" and self.conn.pgconn.parameter_status(
            b"standard_conforming_strings") == b"on")

    def literal(self, value: Any) -> str | None:
        kind = type(value)
        if kind is str:
            found = self.recurring.get(value)
            if found is not None:
                return found
            if "\x00" in value:
                return None
            try:
                found = self.escape(value.encode()).decode()
            except UnicodeEncodeError:  # a lone surrogate: psycopg says what is wrong
                return None
            if len(value) <= RECURRING_TEXT_MAX:
                self._recur(value, found)
            return found
        if kind is UUID:
            found = self.recurring.get(value)
            if found is None:
                found = f"'{value}'::uuid"
                self._recur(value, found)
            return found
        if kind is int:
            return str(value) if value >= 0 else f"({value})"
        if value is None:
            return "NULL"
        if kind is bytes:
            return f"'\\x{value.hex()}'::bytea"
        if kind is datetime:
            return f"'{value.isoformat()}'::{'timestamp' if value.tzinfo is None else 'timestamptz'}"
        if kind is date:
            return f"'{value.isoformat()}'::date"
        if kind is bool:
            return "true" if value else "false"
        if kind is Jsonb and value.dumps is None:
            found = self.literal(json.dumps(value.obj))
            return None if found is None else f"{found}::jsonb"
        return None

    def _recur(self, value: str | UUID, literal: str) -> None:
        if len(self.recurring) >= RECURRING_MAX:
            self.recurring.clear()
        self.recurring[value] = literal

    def array(self, values: Sequence[Any]) -> str | None:
        """`ARRAY[…]` of the values' literals, `'{}'` when empty (the caller casts it)."""
        if not values:
            return "'{}'"
        literal = self.literal
        items = [literal(v) for v in values]
        return None if None in items else f"ARRAY[{', '.join(items)}]"  # type: ignore[arg-type]


_LITERALS = "_export_service_literals"


def literals(conn: psycopg.Connection[Any]) -> Literals:
    """The connection's `Literals` (made once per connection)."""
    found: Literals | None = getattr(conn, _LITERALS, None)
    if found is None:
        found = Literals(conn)
        setattr(conn, _LITERALS, found)
    return found


class Binder:
    """Binds one query's statements on the client, each as `EXECUTE` of its prepared form.

    A statement this connection has not prepared yet is prepared in the same query, inside the
    append's transaction (bounded by its lock timeout): `inline`, just before its first
    `EXECUTE` (preparing an INSERT takes the lock the INSERT takes, so it must not come before
    the events table's LOCK), or else collected by `prepares()` to go before a group's call.
    PREPARE is not undone by a rollback: after a failed query the connection asks the server
    what it has before its next append."""

    def __init__(self, conn: psycopg.Connection[Any], inline: bool = True) -> None:
        self.conn = conn
        self.inline = inline
        self.known = known(conn)
        self.literals = literals(conn)
        self.ready = self.literals.ready
        self.preparing: dict[str, str] = {}

    def bind(self, sql: str, params: Any) -> str:
        prepared = prepared_statements().get(sql)
        if prepared is None or self.known is None:
            return self.cursor.mogrify(sql, params)
        execute = self._execute(prepared, params)
        if prepared.name in self.known or prepared.name in self.preparing:
            return execute
        self.preparing[prepared.name] = prepared.prepare
        return f"{prepared.prepare};\n{execute}" if self.inline else execute

    @cached_property
    def cursor(self) -> psycopg.ClientCursor[Any]:
        """psycopg's binding, for the values `Literals` leaves to it (made only then)."""
        return psycopg.ClientCursor(self.conn)

    def _execute(self, prepared: Prepared, params: Any) -> str:
        if prepared.params and self.ready:
            literal = self.literals.literal
            values = [literal(params[name]) for name in prepared.params]
            if None not in values:
                return f"EXECUTE {prepared.name}({', '.join(values)})"  # type: ignore[arg-type]
        return self.cursor.mogrify(prepared.execute, params)

    def value(self, value: Any) -> str:
        """One value's literal."""
        if self.ready and (found := self.literals.literal(value)) is not None:
            return found
        return self.cursor.mogrify("%s", [value])

    def row(self, values: Sequence[Any]) -> str:
        """`(v1, v2, …)`: one row of a VALUES list."""
        if self.ready:
            literal = self.literals.literal
            items = [literal(v) for v in values]
            if None not in items:
                return f"({', '.join(items)})"  # type: ignore[arg-type]
        return self.cursor.mogrify("(" + ", ".join(["%s"] * len(values)) + ")", values)

    def array(self, values: Sequence[Any]) -> str:
        """The values as an array expression (cast by the statement it goes into)."""
        if self.ready and (found := self.literals.array(values)) is not None:
            return found
        return self.cursor.mogrify("%s", [list(values)])

    def prepares(self) -> list[str]:
        """The PREPAREs a group's call needs first (none when inline)."""
        return [] if self.inline else list(self.preparing.values())

    def sent(self, error: BaseException | None) -> None:
        if self.known is None:
            return
        if error is None:
            self.known.update(self.preparing)
        elif lost_preparation(error):
            send_unprepared(self.conn)
        else:
            setattr(self.conn, _KNOWN, None)


def prepare(conn: psycopg.Connection[Any]) -> None:
    """Prepare every append statement `conn` lacks, in one round trip (for a connection that
    sends appends built beforehand, as the benchmarks do)."""
    have = known(conn)
    if have is None:
        return
    wanted = [p for p in prepared_statements().values() if p.name not in have]
    if wanted:
        psycopg.ClientCursor(conn).execute(
            ";\n".join(p.prepare for p in wanted).encode("utf-8"), prepare=False)
        have.update(p.name for p in wanted)


def lost_preparation(error: BaseException) -> bool:
    """The server's prepared statements are not this connection's: it lost them (26000), or
    it has one of that name already (42P05: prepared by another client's transaction, which a
    pooler in transaction mode ran on the same server connection)."""
    return isinstance(error, (psycopg.errors.InvalidSqlStatementName,
                              psycopg.errors.DuplicatePreparedStatement))
