"""The append: events, guard rows, queued jobs and the remembered answer in one transaction,
sent to PostgreSQL as one query (one round trip); appends that arrive together are committed
together (group commit, `AppendQueue`).

Every statement is bound on the client (infrastructure/prepared.py: the JSON of the events and
jobs is encoded before anything reaches the server) and the whole transaction travels as one
simple query: `jobs; guards; answer; LOCK; NOTIFY; INSERT … RETURNING`, each statement as
`EXECUTE` of its form prepared once per connection. How long it may wait for a lock is the
session's (set once per connection: `bound_waits`, infrastructure/event_store.py), not a
statement of each append. PostgreSQL runs the
statements of one simple query as one transaction (committed after the last, rolled back
whole at the first error), so no BEGIN or COMMIT travels, and no result of theirs is read.
The table lock is therefore held for the server's own time only, never across a network wait.
A guard violation aborts the transaction at its statement and surfaces as that statement's
error.

Group commit (infrastructure/append_queue.py): while MAX_WRITERS appends (or groups) of this
process are on their way to the server, the appends that arrive queue up, and the next leader
writes them all in one transaction through the function `export_service_append_group`
(migration 0180): the appends' statements together (and, only when one of them fails, each
append's in a subtransaction of its own: a failing guard refuses that append only, with its own
constraint), then the jobs of those not refused in one call of the queue, then their events
under one hold of the lock, one COMMIT and one WAL flush for all of them. While another group
is on its way, a free writer waits a little (at most `LINGER_SECONDS`) for the callers of the
group just committed, and the last of them to come back writes the group. An append alone (the
usual case when the service is quiet) never waits and takes the single path. A group the server
refuses as a whole (two appends of one aggregate version) is written again one append at a
time, so each caller gets its own answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg import pq
from psycopg.generators import execute
from psycopg.types.json import Jsonb

from application.ports import DatabaseUnavailable, IdempotentResponse
from infrastructure.append_queue import Append, AppendQueue
from infrastructure.prepared import Binder, lost_preparation
from infrastructure.sql import queries

QUEUE = "exports"
#: Appends whose events weigh more than this go as bound statements (`_insert_bound`): as one
#: SQL text, a run taking 100 000 claims would be held three times over (the events, their hex
#: literals, the query), some 150 MB. The event log stops encoding an append's events once they
#: weigh more than this, and has the rest encoded as they are sent (`insert_heavy`).
INLINE_MAX_BYTES = 256 * 1024
SQL = queries("event_store")
APPEND_ATTEMPTS = 3
_PARAM = re.compile(r"%\((\w+)\)s")


def constraint_of(error: BaseException) -> str:
    """The constraint that refused an append (`refused_constraint` on a group's refusal, else
    what the server said), "" when none."""
    cause = error.__cause__ if isinstance(error, IntegrityError) else error
    named = getattr(cause, "refused_constraint", None)
    if named is None:
        named = getattr(getattr(cause, "diag", None), "constraint_name", None)
    return named or ""


def append_statements(**kwargs: Any) -> list[tuple[str, Any]]:
    """What an append writes besides its events, in order: its jobs (first, so a guard
    violation surfaces as the guard's own error), then `guarded_statements`."""
    statements: list[tuple[str, Any]] = [
        (SQL["defer_job"], {"queue": QUEUE, "task": job.task, "args": Jsonb(job.args)})
        for job in kwargs.get("jobs", ())
    ]
    return statements + guarded_statements(**kwargs)


def guarded_statements(**kwargs: Any) -> list[tuple[str, Any]]:
    """An append's guard rows and its remembered answer (a group queues the jobs of all its
    appends apart, in one call: `group_query`)."""
    statements: list[tuple[str, Any]] = list(kwargs.get("guard_statements", ()))
    response: IdempotentResponse | None = kwargs.get("response")
    if response is not None:
        statements.append((SQL["remember_response"], {
            "status_code": response.status_code, "body": Jsonb(response.body),
            "org_id": response.org_id, "key": response.key,
        }))
    return statements


def append_query(
    binder: Binder, stored_events: Sequence[StoredEvent], **kwargs: Any
) -> str:
    """The whole append as one SQL text (every value bound here, on the client)."""
    bind = binder.bind
    statements = [bind(sql, params) for sql, params in append_statements(**kwargs)]
    if len(stored_events) == 1:
        e = stored_events[0]
        statements += [SQL["lock_events"], SQL["notify"], bind(SQL["insert_event"], {
            "id": e.originator_id, "version": e.originator_version, "topic": e.topic,
            "state": e.state})]
    elif stored_events:
        values = ", ".join(
            binder.row((e.originator_id, e.originator_version, e.topic, e.state))
            for e in stored_events
        )
        statements += [SQL["lock_events"], SQL["notify"],
                       SQL["insert_events"].replace("{values}", values)]
    return ";\n".join(statements)


def bound_statements(with_events: bool, **kwargs: Any) -> list[tuple[str, Any]]:
    """A heavy append's statements before its events, with their parameters, bound by the
    server: its jobs, guards and answer, then (`with_events`) the events table's lock and the
    NOTIFY. Its events follow, one INSERT each (`GuardedRecorder._insert_bound`)."""
    statements = append_statements(**kwargs)
    if with_events:
        statements += [(SQL["lock_events"], None), (SQL["notify"], None)]
    return statements


class HeavyEvents(Protocol):
    """A heavy append's stored events: counted, and read in order once per attempt."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[StoredEvent]: ...


class EncodedAsSent:
    """A heavy append's events encoded one at a time as they are sent (and again if the
    append is tried again): `encoded` first (already encoded while their size was measured),
    then `rest` through `encode`. A run taking 100 000 claims writes some 20 MB of events;
    encoded all at once beforehand, they were a fifth of its worker's peak memory."""

    def __init__(self, encoded: list[StoredEvent], rest: Sequence[Any],
                 encode: Callable[[Any], StoredEvent]) -> None:
        self.encoded = encoded
        self.rest = rest
        self.encode = encode

    def __len__(self) -> int:
        return len(self.encoded) + len(self.rest)

    def __iter__(self) -> Iterator[StoredEvent]:
        yield from self.encoded
        for event in self.rest:
            yield self.encode(event)


def in_lock_order(group: list[Append]) -> list[Append]:
    """The group's appends ordered by the organisations their guard rows lock (an export run's
    period takes its organisation's advisory lock; the other guard rows are keyed by it), each
    organisation's appends in the order they arrived. Two groups of two processes then take the
    locks of the organisations they share in one order: in arrival order, one group could hold
    organisation A's lock waiting for B's while the other holds B's waiting for A's, until
    PostgreSQL's deadlock detector (after a second) aborted one of them."""
    return sorted(group, key=_lock_key)


def _lock_key(append: Append) -> str:
    orgs = [str(params["org_id"]) for _, params in append.kwargs.get("guard_statements", ())
            if isinstance(params, dict) and params.get("org_id") is not None]
    response: IdempotentResponse | None = append.kwargs.get("response")
    if response is not None:  # its remembered answer's row is the organisation's too
        orgs.append(str(response.org_id))
    return min(orgs, default="")


def group_query(binder: Binder, group: list[Append]) -> str:
    """A group's appends as one call of `export_service_append_group` (values bound here): the
    jobs of all its appends go to the queue in one call (migration 0180)."""
    statements, owners = [], []
    job_owners, job_tasks, job_args = [], [], []
    event_owners, ids, versions, topics, states = [], [], [], [], []
    for number, append in enumerate(group, start=1):
        for sql, params in guarded_statements(**append.kwargs):
            statements.append(binder.bind(sql, params))
            owners.append(number)
        for job in append.kwargs.get("jobs", ()):
            job_owners.append(number)
            job_tasks.append(job.task)
            job_args.append(Jsonb(job.args))
        for e in append.events:
            event_owners.append(number)
            ids.append(e.originator_id)
            versions.append(e.originator_version)
            topics.append(e.topic)
            states.append(e.state)
    arguments: dict[str, Sequence[Any]] = {
        "statements": statements, "owners": owners, "job_owners": job_owners,
        "job_tasks": job_tasks, "job_args": job_args, "event_owners": event_owners, "ids": ids,
        "versions": versions, "topics": topics, "states": states,
    }
    bound = {name: binder.array(values) for name, values in arguments.items()}
    bound["appends"] = str(len(group))
    bound["queue"] = binder.value(QUEUE)
    call = _PARAM.sub(lambda m: bound[m.group(1)], SQL["append_group"])
    return ";\n".join([*binder.prepares(), call])


def _refuse(append: Append, state: str, constraint: str | None, group: dict[Any, Any]) -> None:
    """An append of a group whose own statement failed: an integrity violation is its
    refusal (as if it had been written alone); anything else it meets again written alone.

    The refusals of one group share `refused_together` (empty at first): whatever refused
    them had committed before the group's answer came, so one lookup made after it (which
    run holds a period, infrastructure/event_store.py) can answer all of them."""
    if not state.startswith("23"):
        return
    cause = psycopg.errors.lookup(state)(f"refused by {constraint or 'a constraint'}")
    cause.refused_constraint = constraint  # type: ignore[attr-defined]
    refusal = IntegrityError(str(cause))
    refusal.__cause__ = cause
    refusal.refused_together = group  # type: ignore[attr-defined]
    append.error = refusal


def _settle(group: list[Append], result: pq.abc.PGresult) -> None:
    """Each append's ids from a committed group (the rows of `export_service_append_group`:
    append_no, event_id, event_version, event_position, refused_state, refused_constraint);
    refuses (IntegrityError naming its constraint) those whose own statements failed, and
    leaves those that failed otherwise to be written alone."""
    written: dict[tuple[Any, int], int] = {}
    together: dict[Any, Any] = {}
    for row in range(result.ntuples):
        refused_state = result.get_value(row, 4)
        if refused_state is not None:
            constraint = result.get_value(row, 5)
            _refuse(group[int(_given(result, row, 0)) - 1], refused_state.decode(),
                    constraint.decode() if constraint is not None else None, together)
        else:
            written[(UUID(_given(result, row, 1).decode()), int(_given(result, row, 2)))] = int(
                _given(result, row, 3))
    for append in group:
        if append.error is None and append.ids is None:
            found = [written.get((e.originator_id, e.originator_version))
                     for e in append.events]
            if None not in found:
                append.ids = [int(i) for i in found if i is not None]


def _given(result: pq.abc.PGresult, row: int, column: int) -> bytes:
    """A value the statement always returns (a NULL there is a fault, never a default)."""
    value = result.get_value(row, column)
    if value is None:
        raise AssertionError(f"no value in column {column} of row {row}")
    return bytes(value)


def run_query(conn: psycopg.Connection[Any], query: bytes) -> list[pq.abc.PGresult]:
    """One simple query's results, read without a cursor: a cursor's bookkeeping for each of
    an append's half-dozen results (prepared-statement accounting, row makers, result sets
    selected one by one) was a third of an append's Python. psycopg's own wait is used, so an
    interrupt cancels the query and a lost server surfaces as psycopg's OperationalError."""
    with conn.lock:
        conn.pgconn.send_query(query)
        results: list[pq.abc.PGresult] = conn.wait(execute(conn.pgconn))
    for result in results:
        if result.status == pq.ExecStatus.FATAL_ERROR:
            raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
    return results


def _send(
    conn: psycopg.Connection[Any], query: Callable[[Binder], str], inline: bool = True
) -> pq.abc.PGresult:
    """One append's (or group's) query, built by `query` with the statements this connection
    has prepared; built again as text and resent once if the server lost them. Returns the
    query's last result (the statements of one simple query are one transaction: a failure
    rolled back all of them, and the connection is idle again)."""
    for attempt in (1, 2):
        binder = Binder(conn, inline)
        text = query(binder).encode("utf-8")
        try:
            results = run_query(conn, text)
        except BaseException as error:
            binder.sent(error)
            if attempt == 2 or not lost_preparation(error):
                raise
            continue
        binder.sent(None)
        return results[-1]
    raise AssertionError("unreachable")


#: psycopg's errors as the event store library's, most specific first, as its connection
#: context raises them: the append's retries and refusals are written against those.
_LIBRARY_ERRORS: tuple[tuple[type[psycopg.Error], type[PersistenceError]], ...] = (
    (psycopg.InterfaceError, InterfaceError), (psycopg.OperationalError, OperationalError),
    (psycopg.DataError, DataError), (psycopg.IntegrityError, IntegrityError),
    (psycopg.InternalError, InternalError), (psycopg.ProgrammingError, ProgrammingError),
    (psycopg.NotSupportedError, NotSupportedError), (psycopg.DatabaseError, DatabaseError),
    (psycopg.Error, PersistenceError),
)


class Checkout:
    """One append's connection from the pool, its psycopg errors raised as the library's.

    The library's connection context is two generator contexts, a check that the pool is
    open, one of the connection's type adapters and a COMMIT of nothing on the way out (an
    append's one query commits itself): about 7 µs of an append's Python in a warm loop, more
    with the caches cold after waiting for the server. A connection whose query failed is
    left as the server left it (idle: one simple query is rolled back whole); the pool resets
    any other on its return."""

    __slots__ = ("conn", "datastore")

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        self.conn: psycopg.Connection[Any]

    def __enter__(self) -> psycopg.Connection[Any]:
        self.conn = self.datastore.pool.getconn()  # opened with the log (open_event_log)
        return self.conn

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        self.datastore.pool.putconn(self.conn)
        if isinstance(error, psycopg.Error):
            for theirs, ours in _LIBRARY_ERRORS:
                if isinstance(error, theirs):
                    raise ours(str(error)) from error


class GuardedRecorder(PostgresApplicationRecorder):
    """Runs jobs, guard statements and the idempotent response inside the append transaction;
    appends of this process that arrive together share one transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.appends = AppendQueue(self._write_group)

    #: A lost connection is retried on another one; the library's 10 attempts would, while the
    #: database is gone, spend the 0.2 s waits on each dead idle connection of the pool before
    #: the bounded wait for a new one (up to 5 s in all, where a 503 is due).
    @retry((InterfaceError, OperationalError), max_attempts=APPEND_ATTEMPTS, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """An append whose events weigh at most INLINE_MAX_BYTES (the event log hands heavier
        ones to `insert_heavy`): queued for the next group, or written at once."""
        return self.appends.submit(Append(stored_events, kwargs))

    def _write_group(self, group: list[Append]) -> None:
        if len(group) > 1:
            group = in_lock_order(group)
            rows: pq.abc.PGresult | None = None
            try:
                rows = self._insert_group(group)
            except (InterfaceError, OperationalError, DatabaseUnavailable) as lost:
                for append in group:  # outcome unknown (or never sent): each caller decides
                    append.error = lost
                return
            except Exception:  # noqa: S110 - refused as a whole (rolled back): each on its own
                pass
            if rows is not None:
                _settle(group, rows)
        for append in group:
            if append.ids is not None or append.error is not None:
                continue
            try:
                append.ids = self._insert_one(append.events, **append.kwargs)
            except BaseException as error:
                append.error = error

    def _insert_one(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        with Checkout(self.datastore) as conn:
            last = _send(conn, lambda binder: append_query(binder, stored_events, **kwargs))
            if not stored_events:
                return []
            # The INSERT's RETURNING is the last result.
            return [int(_given(last, row, 0)) for row in range(last.ntuples)]

    def _insert_group(self, group: list[Append]) -> pq.abc.PGresult:
        """The group in one transaction, one round trip; the rows of `export_service_append_group`
        (committed)."""
        with Checkout(self.datastore) as conn:
            return _send(conn, lambda binder: group_query(binder, group), inline=False)

    @retry((InterfaceError, OperationalError), max_attempts=APPEND_ATTEMPTS, wait=0.2)
    def insert_heavy(self, stored_events: HeavyEvents, **kwargs: Any) -> list[int]:
        """An append known to be heavy (infrastructure/event_store.py, `EventLog.append`),
        its events perhaps encoded only as they are sent (`EncodedAsSent`)."""
        return self._insert_bound(stored_events, **kwargs)

    def _insert_bound(self, stored_events: HeavyEvents, **kwargs: Any) -> list[int]:
        """A heavy append (a run taking many claims): the statements in one pipeline (one
        round trip to send them), the events as binary parameters, never copied into text,
        one INSERT each, read from `stored_events` as they are sent: the client's send
        buffer holds about one event, not all of them."""
        with Checkout(self.datastore) as conn:
            cursor = conn.cursor()
            statements = bound_statements(bool(stored_events), **kwargs)
            insert_one = SQL["insert_events"].replace("{values}", SQL["event_values"])
            try:
                with conn.pipeline(), conn.transaction():
                    for sql, params in statements:
                        cursor.execute(sql.encode("utf-8"), params, prepare=False)
                    inserting = conn.cursor()
                    inserting.executemany(insert_one.encode("utf-8"), (
                        (e.originator_id, e.originator_version, e.topic, e.state)
                        for e in stored_events), returning=True)
                ids = []
                while stored_events:
                    ids += [int(row["notification_id"]) for row in inserting.fetchall()]
                    if not inserting.nextset():
                        break
            except BaseException:
                conn.rollback()
                raise
            return ids if stored_events else []
