"""What every read model shares: a page of the log in, rows written in the batch's transaction.

The runner (`batching.py`) reads about a thousand events at a time, hands a read model only the
rows of the event types it handles, and commits its writes together with one tracking row. A
read model built from domain events says, per event type, which statements it implies
(`statements`, a `singledispatchmethod`); the event types it registers there are the only ones
read and decoded for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import singledispatchmethod
from typing import Any, ClassVar, NamedTuple
from uuid import UUID

import psycopg
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.utils import get_topic

from infrastructure.sql.composed import query

Statement = tuple[str, Any]


class Row(NamedTuple):
    """One stored event as the log holds it (a tuple: a page makes thousands of them)."""

    notification_id: int
    originator_id: UUID
    originator_version: int
    topic: str
    #: None for a topic the read model takes bare (`bare_topics`): the payload is not read.
    state: bytes | None


Decode = Callable[[Row], Any]


class ReadModel:
    """A projection: turns pages of the log into writes in the page's own transaction."""

    name: ClassVar[str]
    #: Emptied by `reset` before a rebuild.
    tables: ClassVar[Sequence[str]] = ()
    #: True: every event of the log is handed over (not decoded); False: only `topics()`.
    every_event: ClassVar[bool] = False
    #: True: a rebuild only catches up (the audit chain must never be re-hashed).
    append_only: ClassVar[bool] = False

    def topics(self) -> list[str]:
        return []

    def bare_topics(self) -> list[str]:
        """Topics handed over without their payload (neither read nor decoded): the read
        model needs only that they happened (e.g. to move a row's version on)."""
        return []

    def write(self, conn: psycopg.Connection[Any], rows: Sequence[Row], decode: Decode) -> None:
        raise NotImplementedError

    def forget(self) -> None:
        """Drop anything remembered between pages (called when a page was rolled back)."""

    def reset(self, conn: psycopg.Connection[Any]) -> None:
        for table in self.tables:
            conn.execute(query("read_model_tables", "empty", table=table))


def handled_topics(method: Any) -> list[str]:
    """The topics of the event classes registered on a `singledispatchmethod`."""
    registry = method.dispatcher.registry
    return sorted(get_topic(cls) for cls in registry if cls is not object)


def columns(rows: Iterable[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    """Rows as one list per column: the parameters of an `INSERT ... SELECT FROM unnest(...)`
    that writes them all in one statement."""
    out: dict[str, list[Any]] = {name: [] for name in names}
    appenders = [(out[name].append, name) for name in names]
    for row in rows:
        for append, name in appenders:
            append(row[name])
    return out


def copy_rows(conn: psycopg.Connection[Any], statement: str, rows: Iterable[dict[str, Any]],
              names: Sequence[str], types: Sequence[str]) -> None:
    """Rows that are new to their table, sent by one binary COPY (`statement` names the
    columns in the order of `names`, whose PostgreSQL types are `types`)."""
    with conn.cursor().copy(statement) as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row([row[name] for name in names])


class EventReadModel(ReadModel):
    """A read model of decoded domain events: `statements` is registered per event class."""

    @singledispatchmethod
    def statements(self, event: Any) -> list[Statement]:
        return []

    def topics(self) -> list[str]:
        return handled_topics(type(self).__dict__["statements"])

    def bare(self, row: Row) -> list[Statement]:
        """The statements of an event of a `bare_topics` topic (its payload was not read)."""
        return []

    def write(self, conn: psycopg.Connection[Any], rows: Sequence[Row], decode: Decode) -> None:
        """Every statement of the page sent in one pipeline: one round trip, in log order."""
        statements = [
            s for row in rows
            for s in (self.bare(row) if row.state is None else self.statements(decode(row)))
        ]
        if not statements:
            return
        with conn.pipeline(), conn.cursor() as curs:
            for sql, params in statements:
                curs.execute(sql, params)


class TrackingTable(PostgresTrackingRecorder):
    """The library's tracking table (DDL only): `<projection>_tracking`, one row per log."""
