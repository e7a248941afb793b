"""The statements an append writes, prepared once on each connection of the event log's pool.

An append travels as one simple query (infrastructure/recorder.py), and the server parses and
plans every statement of a simple query each time: for the few small statements of an append
that was about a fifth of the server's time. Each statement below is prepared once per
connection (`PREPARE`), and an append sends `EXECUTE name(values)` in its place, still bound on
the client and still in the one query; a group's function runs the same `EXECUTE` texts.

Each is prepared on first use on a connection, in the query of the append that first needs it.
A statement that is not listed here is sent as its own text, as before: preparing is a speed-up,
never a condition. A connection that lost its prepared statements (a `DISCARD ALL` by a pooler
in front of the server) answers 26000, and the recorder asks the server what it still has and
sends the append again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg
from psycopg.rows import tuple_row

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


def _prepared(name: str, sql: str) -> Prepared:
    order: list[str] = []
    for param in _PARAM.findall(sql):
        if param not in order:
            order.append(param)
    numbered = _PARAM.sub(lambda m: f"${order.index(m.group(1)) + 1}", sql)
    arguments = ", ".join(f"%({p})s" for p in order)
    return Prepared(name, f"PREPARE {name} AS\n{numbered}",
                    f"EXECUTE {name}({arguments})" if order else f"EXECUTE {name}")


@cache
def prepared_statements() -> dict[str, Prepared]:
    """`{statement text: Prepared}` for every statement an append may write."""
    found: dict[str, Prepared] = {}
    for file, names in APPEND_QUERIES.items():
        sql = queries(file)
        for name in names:
            found[sql[name]] = _prepared(f"export_service_{file}_{name}", sql[name])
    return found


#: On a psycopg connection: the names prepared there, or None when a failed query left that
#: unknown (a new connection has none).
_KNOWN = "_export_service_prepared"
SQL = queries("event_store")


def known(conn: psycopg.Connection[Any]) -> set[str]:
    """The append statements prepared on `conn` (asked of the server when unknown)."""
    names: set[str] | None = getattr(conn, _KNOWN, set())
    if names is None:
        cursor = psycopg.ClientCursor(conn, row_factory=tuple_row)
        names = {name for (name,) in cursor.execute(SQL["prepared_here"])}
    setattr(conn, _KNOWN, names)
    return names


class Binder:
    """Binds one query's statements on the client, each as `EXECUTE` of its prepared form.

    A statement this connection has not prepared yet is prepared in the same query, inside the
    append's transaction (bounded by its lock timeout): `inline`, just before its first
    `EXECUTE` (preparing an INSERT takes the lock the INSERT takes, so it must not come before
    the events table's LOCK), or else collected by `prepares()` to go before a group's call.
    PREPARE is not undone by a rollback: after a failed query the connection asks the server
    what it has before its next append."""

    def __init__(self, cursor: psycopg.ClientCursor[Any], inline: bool = True) -> None:
        self.cursor = cursor
        self.inline = inline
        self.known = known(cursor.connection)
        self.preparing: dict[str, str] = {}

    def bind(self, sql: str, params: Any) -> str:
        prepared = prepared_statements().get(sql)
        if prepared is None:
            return self.cursor.mogrify(sql, params)
        execute = self.cursor.mogrify(prepared.execute, params)
        if prepared.name in self.known or prepared.name in self.preparing:
            return execute
        self.preparing[prepared.name] = prepared.prepare
        return f"{prepared.prepare};\n{execute}" if self.inline else execute

    def prepares(self) -> list[str]:
        """The PREPAREs a group's call needs first (none when inline)."""
        return [] if self.inline else list(self.preparing.values())

    def sent(self, error: BaseException | None) -> None:
        if error is None:
            self.known.update(self.preparing)
        else:
            setattr(self.cursor.connection, _KNOWN, None)


def prepare(conn: psycopg.Connection[Any]) -> None:
    """Prepare every append statement `conn` lacks, in one round trip (for a connection that
    sends appends built beforehand, as the benchmarks do)."""
    have = known(conn)
    wanted = [p for p in prepared_statements().values() if p.name not in have]
    if wanted:
        psycopg.ClientCursor(conn).execute(
            ";\n".join(p.prepare for p in wanted).encode("utf-8"), prepare=False)
        have.update(p.name for p in wanted)


def lost_preparation(error: BaseException) -> bool:
    """The server no longer knows a prepared statement of ours (SQLSTATE 26000: a pooler in
    front of it ran DISCARD ALL)."""
    return isinstance(error, psycopg.errors.InvalidSqlStatementName)
