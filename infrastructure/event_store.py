"""The event store: the `eventsourcing` library's PostgreSQL persistence with guard rows,
queued jobs and idempotent responses written in the append's own transaction."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg.errors
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    StoredEvent,
    Transcoder,
    Transcoding,
)
from eventsourcing.postgres import ConnectionPool
from eventsourcing.utils import get_topic
from psycopg import sql
from psycopg_pool import PoolTimeout

from application.ports import (
    ClaimsTaken,
    ConcurrentChange,
    DatabaseUnavailable,
    IdempotentResponse,
    Job,
    NotFound,
    PeriodTaken,
    RecordedEvent,
    SyncAlreadyRunning,
)
from domain.export_run import ExportRun
from infrastructure import guards, sync_guards
from infrastructure.database import RECONNECT_SECONDS, SessionOptionsOptional
from infrastructure.event_json import EventJSON
from infrastructure.recorder import (
    INLINE_MAX_BYTES,
    SQL,
    EncodedAsSent,
    GuardedRecorder,
    constraint_of,
)
from infrastructure.recorder import QUEUE as QUEUE

#: Topics whose facts are the event itself (the aggregate keeps none of them): reading an
#: aggregate skips their payload (a run of 100 000 claims is read without its claims).
UNREAD = [get_topic(ExportRun.ClaimsTaken)]  # type: ignore[attr-defined]

APP_NAME = "export_service"
EVENTS_TABLE = f"{APP_NAME}_events"
#: Added to the arguments of every job queued with events, from the events' actor: the worker
#: logs under the correlation id and organisation of the request that queued the job.
TRACE_KEYS = ("correlation_id", "org_id")

DEFER_JOB_SQL = SQL["defer_job"]
#: How many organisations' last appends a process remembers (the oldest are forgotten).
WRITTEN_ORGS = 10_000


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DecimalAsStr(Transcoding):
    type = Decimal
    name = "decimal_str"

    def encode(self, obj: Decimal) -> str:
        return str(obj)

    def decode(self, data: str) -> Decimal:
        return Decimal(data)


class EventLog(Application[UUID]):
    """All aggregates of the service in one log, so projections and the audit chain see one order."""

    name = APP_NAME
    env = {
        "APPLICATION_RECORDER_TOPIC": "infrastructure.recorder:GuardedRecorder",
        "AGGREGATE_CACHE_MAXSIZE": "0",
    }

    def construct_transcoder(self) -> Transcoder:
        transcoder = EventJSON()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: Transcoder) -> None:
        super().register_transcodings(transcoder)  # type: ignore[arg-type]
        transcoder.register(DateAsISO())  # type: ignore[attr-defined]
        transcoder.register(DecimalAsStr())  # type: ignore[attr-defined]

    def append(self, *aggregates: Any, **kwargs: Any) -> int | None:
        """The aggregates' new events recorded (with what `kwargs` gives the recorder); the
        position of the last, None when there were none.

        The library's save does the same through layers this log does not use: it asks of
        each object whether it is an event or an aggregate by runtime Protocol checks (on
        Python 3.11 about a tenth of an append's Python), and wraps each event in a Recording
        for snapshots (none are taken) and in-process subscribers (none listen)."""
        events = [e for a in aggregates for e in a.collect_events()]
        encode = self.mapper.to_stored_event
        recorder: GuardedRecorder = self.recorder  # type: ignore[assignment]
        stored: list[StoredEvent] = []
        size = 0
        for number, event in enumerate(events, start=1):
            stored.append(encode(event))
            size += len(stored[-1].state)
            if size > INLINE_MAX_BYTES:
                # Heavy (a run taking many claims): the rest encoded as they are sent.
                positions = recorder.insert_heavy(
                    EncodedAsSent(stored, events[number:], encode), **kwargs)
                break
        else:
            positions = recorder.insert_events(stored, **kwargs)
        return positions[-1] if positions else None


class PostgresEventStore:
    """Implements the EventStore port on an EventLog application."""

    def __init__(self, app: EventLog) -> None:
        self.app = app
        #: The last event this process appended per organisation, newest organisations last:
        #: a reader waits for its own writes only, not for the whole log.
        self.written: OrderedDict[UUID, int] = OrderedDict()
        self._written_lock = threading.Lock()
        self._lookups_lock = threading.Lock()

    def written_for(self, org_id: UUID) -> int:
        """The notification id of the last event this process appended for `org_id` (0: none)."""
        return self.written.get(org_id, 0)

    def _remember_written(self, aggregates: Sequence[Aggregate], position: int) -> None:
        orgs = {org for org in (getattr(a, "org_id", None) for a in aggregates)
                if isinstance(org, UUID)}
        with self._written_lock:
            for org in orgs:
                self.written.pop(org, None)
                self.written[org] = position
            while len(self.written) > WRITTEN_ORGS:
                self.written.popitem(last=False)

    def get(self, aggregate_id: UUID, version: int | None = None) -> Any:
        """The aggregate from its events; events in `UNREAD` only move its version on."""
        datastore = self.app.recorder.datastore  # type: ignore[attr-defined]
        with datastore.get_connection() as conn:
            rows = conn.execute(
                SQL["aggregate_events"], {"id": aggregate_id, "version": version, "unread": UNREAD}
            ).fetchall()
        aggregate: Any = None
        for row in rows:
            if row["state"] is None:
                if aggregate is None or row["originator_version"] != aggregate.version + 1:
                    raise NotFound(aggregate_id)
                aggregate.version = row["originator_version"]
                continue
            event = self.app.mapper.to_domain_event(StoredEvent(
                aggregate_id, row["originator_version"], row["topic"], bytes(row["state"])
            ))
            aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
        if aggregate is None:
            raise NotFound(aggregate_id)
        return aggregate

    def save(
        self,
        *aggregates: Aggregate,
        jobs: Sequence[Job] = (),
        response: IdempotentResponse | None = None,
    ) -> int | None:
        pending = [e for a in aggregates for e in a.pending_events]
        statements = guards.statements_for(pending)
        jobs = traced_jobs(jobs, pending)
        try:
            position = self.app.append(
                *aggregates, jobs=jobs, guard_statements=statements, response=response
            )
        except IntegrityError as error:
            refused = sync_guards.refusal(self.app, error, aggregates) or translate(error)
            if isinstance(refused, PeriodTaken):
                refused = PeriodTaken(self._overlapping_run(
                    pending, getattr(error, "refused_together", None)))
            raise refused from None
        if position is None:
            return None
        self._remember_written(aggregates, position)
        return position

    def _overlapping_run(
        self, pending: list[Any], together: dict[Any, Any] | None = None
    ) -> UUID | None:
        """The run holding part of the refused request's period (None if it ended since).

        Refusals of one group commit (`together`, infrastructure/recorder.py) share one read of
        their organisation's held periods: 47 racing requests refused at once made 47 lookups
        at once, half of the slowest one's time."""
        requested = [e for e in pending if hasattr(e, "period_start")]
        if not requested:
            return None
        e = requested[0]
        if together is None:
            with self.app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
                row = conn.execute(
                    SQL["overlapping_run"],
                    {"org_id": e.org_id, "start": e.period_start, "end": e.period_end},
                ).fetchone()
            return row["run_id"] if row else None
        held = self._held_periods(e.org_id, together)
        after_end = e.period_end + timedelta(days=1)  # the request's period as [start, end + 1)
        for run_id, first, after_last in held:  # by run id, as the single lookup orders them
            if (first is None or first < after_end) and (
                    after_last is None or e.period_start < after_last):
                return UUID(str(run_id))
        return None

    def _held_periods(self, org_id: UUID, together: dict[Any, Any]) -> list[tuple[Any, ...]]:
        """The organisation's held periods as [first day, day after the last), read once for
        all refusals that share `together`: the first to ask reads, the others wait for it."""
        with self._lookups_lock:
            reading: Future[list[tuple[Any, ...]]] | None = together.get(("held", org_id))
            first = reading is None
            if reading is None:
                reading = together[("held", org_id)] = Future()
        if first:
            try:
                reading.set_result(self._read_held_periods(org_id))
            except BaseException as error:
                reading.set_exception(error)
                raise
        return reading.result()

    def _read_held_periods(self, org_id: UUID) -> list[tuple[Any, ...]]:
        with self.app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(SQL["held_periods"], {"org_id": org_id}).fetchall()
        return [(r["run_id"], r["first_day"], r["after_last_day"]) for r in rows]

    def history(self, aggregate_id: UUID) -> list[RecordedEvent]:
        out = []
        for e in self.app.repository.event_store.get(aggregate_id):
            data = {
                k: v
                for k, v in e.__dict__.items()
                if k not in ("originator_id", "originator_version", "timestamp", "actor")
            }
            out.append(
                RecordedEvent(
                    version=e.originator_version,
                    type=type(e).__qualname__.split(".")[-1],
                    timestamp=e.timestamp,  # type: ignore[attr-defined]
                    actor=getattr(e, "actor", None),
                    data=json.loads(json.dumps(data, default=str)),
                )
            )
        return out

    def stream(self, aggregate_id: UUID) -> Iterator[Any]:
        """Domain events of one aggregate, in order, through a server-side cursor: a run's
        ClaimsTaken events are decoded one at a time, never all at once."""
        datastore = self.app.recorder.datastore  # type: ignore[attr-defined]
        with (
            datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor(name="aggregate_stream") as cur,
        ):
            cur.itersize = 4
            cur.execute(SQL["aggregate_stream"], {"id": aggregate_id})
            for row in cur:
                yield self.app.mapper.to_domain_event(
                    StoredEvent(row["originator_id"], row["originator_version"], row["topic"],
                                bytes(row["state"]))
                )

    def max_notification_id(self) -> int:
        return self.app.recorder.max_notification_id() or 0


def traced_jobs(jobs: Sequence[Job], pending: Sequence[Any]) -> list[Job]:
    actor: dict[str, Any] = next(
        (e.actor for e in pending if isinstance(getattr(e, "actor", None), dict)), {}
    )
    trace = {k: actor[k] for k in TRACE_KEYS if actor.get(k)}
    return [Job(job.task, {**trace, **job.args}) for job in jobs]


def translate(error: IntegrityError) -> Exception:
    cause = error.__cause__
    constraint = constraint_of(error)
    if isinstance(cause, psycopg.errors.ExclusionViolation) or constraint.startswith(
        "export_run_periods"
    ):
        return PeriodTaken(None)
    if constraint.startswith("claim_reservations"):
        return ClaimsTaken()
    if constraint.startswith("running_syncs"):
        return SyncAlreadyRunning(None)
    if isinstance(cause, psycopg.errors.UniqueViolation) and constraint.endswith("_pkey"):
        return ConcurrentChange()
    return error


class FailFastPool(ConnectionPool[Any]):
    """The library's pool, but a wait that ran out raises DatabaseUnavailable.

    The library retries every read and append 10 times on its OperationalError, which a
    pool timeout (a psycopg OperationalError) becomes: with the database gone each request
    then hung for 10 bounded waits (30 s and more) instead of answering 503 after one.
    A connection lost mid-statement is still retried (it gets a fresh one, or fails fast)."""

    #: Set on each connection once, when first handed out (the library opens its first
    #: connections before its pool's settings can be changed, so `options` may miss them).
    statement_timeout_ms = 0
    #: How long a statement waits for a lock (an append for the events table's, or for an
    #: organisation's period lock) before it fails: set once per session, not in each append.
    lock_timeout_ms = 0

    def getconn(self, timeout: float | None = None) -> Any:
        try:
            conn = super().getconn(timeout)
        except PoolTimeout:
            raise DatabaseUnavailable("no database connection within the wait") from None
        if self.statement_timeout_ms and not getattr(conn, "_bounded", False):
            try:  # the library's connections are in autocommit: this holds for the session
                conn.execute(sql.SQL("SET statement_timeout = {}; SET lock_timeout = {}").format(
                    sql.Literal(int(self.statement_timeout_ms)),
                    sql.Literal(int(self.lock_timeout_ms))))
            except BaseException:
                self.putconn(conn)
                raise
            conn._bounded = True
        return conn

    def putconn(self, conn: Any) -> None:
        """A connection that came back lost makes the pool check its idle ones at once: when
        the server went away they are lost too, and the library's retries would otherwise
        spend the request's time trying each of them (no ping before use, for speed)."""
        lost = bool(conn.broken or conn.closed)
        super().putconn(conn)
        if lost:
            self.check()


def bound_waits(app: EventLog, connect_seconds: int, statement_seconds: int,
                lock_seconds: int) -> None:
    """Bounded connect, statement and lock-wait times on the library's pool (its settings have
    none: its POSTGRES_CONNECT_TIMEOUT is the pool wait, not libpq's connect_timeout)."""
    pool = app.recorder.datastore.pool  # type: ignore[attr-defined]
    pool.__class__ = FailFastPool  # the library builds the pool itself; same state, one override
    pool.connection_class = SessionOptionsOptional
    pool.reconnect_timeout = RECONNECT_SECONDS
    pool.kwargs.update(connect_timeout=connect_seconds, options=(
        f"-c statement_timeout={statement_seconds * 1000} -c lock_timeout={lock_seconds * 1000}"))
    pool.statement_timeout_ms = statement_seconds * 1000
    pool.lock_timeout_ms = lock_seconds * 1000


#: Seconds to establish a connection, and the longest statement (the pool wait is
#: POSTGRES_CONNECT_TIMEOUT in infrastructure/database.py).
CONNECT_TIMEOUT_SECONDS = 3
STATEMENT_TIMEOUT_SECONDS = 60


def open_event_log(url: str, pool_size: int = 8, create_table: bool = False) -> EventLog:
    from infrastructure.database import eventsourcing_env

    env = eventsourcing_env(url, pool_size)
    env["CREATE_TABLE"] = "yes" if create_table else "no"
    # No ping before each append: a dead connection fails the append's one query, and the
    # recorder retries it on a fresh connection.
    env["POSTGRES_PRE_PING"] = "no"
    app = EventLog(env=env)
    bound_waits(app, CONNECT_TIMEOUT_SECONDS, STATEMENT_TIMEOUT_SECONDS,
                int(env["POSTGRES_LOCK_TIMEOUT"]))
    # Open now (the library opens it on first use; it has, for its type adapters): appends
    # take their connections from it directly (infrastructure/recorder.py, Checkout).
    app.recorder.datastore.pool.open()  # type: ignore[attr-defined]
    return app


def create_event_tables(url: str) -> None:
    """The library's own idempotent DDL for the events table (CREATE ... IF NOT EXISTS)."""
    open_event_log(url, pool_size=1, create_table=True).close()
