"""The append: events, guard rows, queued jobs and the remembered answer in one transaction,
sent to PostgreSQL as one query (one round trip).

Every statement is bound on the client (`ClientCursor.mogrify`: the JSON of the events and
jobs is encoded before anything reaches the server) and the whole transaction travels as one
simple query: `BEGIN; jobs; guards; answer; LOCK; NOTIFY; INSERT … RETURNING; COMMIT`. The table
lock is therefore held for the server's own time only, never across a network wait. A guard
violation aborts the transaction at its statement and surfaces as that statement's error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg.types.json import Jsonb

from application.ports import IdempotentResponse
from infrastructure.sql import queries

QUEUE = "exports"
#: Appends whose events weigh more than this go as bound statements (`_insert_bound`): as one
#: SQL text, a run taking 100 000 claims would be held three times over (the events, their hex
#: literals, the query), some 150 MB.
INLINE_MAX_BYTES = 256 * 1024
SQL = queries("event_store")


def append_query(
    cursor: psycopg.ClientCursor[Any], stored_events: Sequence[StoredEvent], **kwargs: Any
) -> str:
    """The whole append as one SQL text (every value bound here, on the client)."""
    parts = [SQL["begin"], SQL["lock_timeout"]]
    for job in kwargs.get("jobs", ()):
        parts.append(cursor.mogrify(
            SQL["defer_job"], {"queue": QUEUE, "task": job.task, "args": Jsonb(job.args)}
        ))
    parts.extend(cursor.mogrify(sql, params) for sql, params in kwargs.get("guard_statements", ()))
    response: IdempotentResponse | None = kwargs.get("response")
    if response is not None:
        parts.append(cursor.mogrify(SQL["remember_response"], {
            "status_code": response.status_code, "body": Jsonb(response.body),
            "org_id": response.org_id, "key": response.key,
        }))
    if stored_events:
        values = ", ".join(
            cursor.mogrify(SQL["event_values"], (e.originator_id, e.originator_version, e.topic,
                                                 e.state))
            for e in stored_events
        )
        parts += [SQL["lock_events"], SQL["notify"], SQL["insert_events"].replace("{values}", values)]
    parts.append(SQL["commit"])
    return ";\n".join(parts)


def bound_statements(
    stored_events: Sequence[StoredEvent], **kwargs: Any
) -> list[tuple[str, Any]]:
    """The same append as statements with their parameters, bound by the server."""
    statements: list[tuple[str, Any]] = [(SQL["lock_timeout"], None)]
    statements += [(SQL["defer_job"], {"queue": QUEUE, "task": job.task, "args": Jsonb(job.args)})
                   for job in kwargs.get("jobs", ())]
    statements += list(kwargs.get("guard_statements", ()))
    response: IdempotentResponse | None = kwargs.get("response")
    if response is not None:
        statements.append((SQL["remember_response"], {
            "status_code": response.status_code, "body": Jsonb(response.body),
            "org_id": response.org_id, "key": response.key,
        }))
    if stored_events:
        values = ", ".join([SQL["event_values"]] * len(stored_events))
        statements += [(SQL["lock_events"], None), (SQL["notify"], None), (
            SQL["insert_events"].replace("{values}", values),
            [v for e in stored_events
             for v in (e.originator_id, e.originator_version, e.topic, e.state)],
        )]
    return statements


class GuardedRecorder(PostgresApplicationRecorder):
    """Runs jobs, guard statements and the idempotent response inside the append transaction."""

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if sum(len(e.state) for e in stored_events) > INLINE_MAX_BYTES:
            return self._insert_bound(stored_events, **kwargs)
        with self.datastore.get_connection() as conn:
            cursor = psycopg.ClientCursor(conn)
            query = append_query(cursor, stored_events, **kwargs)
            try:
                cursor.execute(query.encode("utf-8"), prepare=False)
            except BaseException:
                conn.rollback()  # the failed statement left the transaction aborted
                raise
            ids: list[int] = []
            while True:
                columns = [c.name for c in cursor.description or ()]
                if columns == ["notification_id"]:  # the INSERT's RETURNING
                    ids = [int(row["notification_id"]) for row in cursor.fetchall()]
                if not cursor.nextset():
                    break
            return ids if stored_events else []

    def _insert_bound(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        """A heavy append (a run taking many claims): the statements in one pipeline (one
        round trip to send them), the events as binary parameters, never copied into text."""
        with self.datastore.get_connection() as conn:
            cursor = conn.cursor()
            try:
                with conn.pipeline(), conn.transaction():
                    for sql, params in bound_statements(stored_events, **kwargs):
                        cursor.execute(sql.encode("utf-8"), params, prepare=False)
                ids = [int(row["notification_id"]) for row in cursor.fetchall()]
            except BaseException:
                conn.rollback()
                raise
            return ids if stored_events else []
