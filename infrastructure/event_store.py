"""The event store: the `eventsourcing` library's PostgreSQL persistence with guard rows,
queued jobs and idempotent responses written in the append's own transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg.errors
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
    Transcoder,
    Transcoding,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.types.json import Jsonb

from application.ports import (
    ClaimsTaken,
    ConcurrentChange,
    IdempotentResponse,
    Job,
    NotFound,
    PeriodTaken,
    RecordedEvent,
    SyncAlreadyRunning,
)
from infrastructure import guards, sync_guards

APP_NAME = "export_service"
EVENTS_TABLE = f"{APP_NAME}_events"
QUEUE = "exports"
#: Added to the arguments of every job queued with events, from the events' actor: the worker
#: logs under the correlation id and organisation of the request that queued the job.
TRACE_KEYS = ("correlation_id", "org_id")

DEFER_JOB_SQL = (
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(%(queue)s, %(task)s, 0, NULL, NULL, "
    "%(args)s, NULL)]::procrastinate_job_to_defer_v1[])"
)
REMEMBER_RESPONSE_SQL = (
    "UPDATE idempotency_keys SET status_code = %(status_code)s, response = %(body)s, "
    "completed_at = now() WHERE org_id = %(org_id)s AND key = %(key)s"
)


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


class GuardedRecorder(PostgresApplicationRecorder):
    """Runs jobs, guard statements and the idempotent response inside the append transaction."""

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's append without pipeline mode: with large events (a run taking
        20 000 claims) psycopg's pipeline intermittently stalled in sync(); a plain
        transaction also raises a guard violation as itself, at the statement that caused it."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return []
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _insert_events(
        self, curs: Cursor[Any], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        # Jobs first: a guard violation must surface as IntegrityError (library-notes.md).
        for job in kwargs.get("jobs", ()):
            curs.execute(
                DEFER_JOB_SQL, {"queue": QUEUE, "task": job.task, "args": Jsonb(job.args)}
            )
        for sql, params in kwargs.get("guard_statements", ()):
            curs.execute(sql, params)
        response: IdempotentResponse | None = kwargs.get("response")
        if response is not None:
            curs.execute(
                REMEMBER_RESPONSE_SQL,
                {
                    "status_code": response.status_code,
                    "body": Jsonb(response.body),
                    "org_id": response.org_id,
                    "key": response.key,
                },
            )


class EventLog(Application[UUID]):
    """All aggregates of the service in one log, so projections and the audit chain see one order."""

    name = APP_NAME
    env = {
        "APPLICATION_RECORDER_TOPIC": "infrastructure.event_store:GuardedRecorder",
        "AGGREGATE_CACHE_MAXSIZE": "0",
    }

    def register_transcodings(self, transcoder: Transcoder) -> None:
        super().register_transcodings(transcoder)  # type: ignore[arg-type]
        transcoder.register(DateAsISO())  # type: ignore[attr-defined]
        transcoder.register(DecimalAsStr())  # type: ignore[attr-defined]


class PostgresEventStore:
    """Implements the EventStore port on an EventLog application."""

    def __init__(self, app: EventLog) -> None:
        self.app = app

    def get(self, aggregate_id: UUID, version: int | None = None) -> Any:
        try:
            return self.app.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(aggregate_id) from None

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
            recordings = self.app.save(
                *aggregates, jobs=jobs, guard_statements=statements, response=response
            )
        except IntegrityError as error:
            refused = sync_guards.refusal(self.app, error, aggregates) or translate(error)
            if isinstance(refused, PeriodTaken):
                refused = PeriodTaken(self._overlapping_run(pending))
            raise refused from None
        return recordings[-1].notification.id if recordings else None

    def _overlapping_run(self, pending: list[Any]) -> UUID | None:
        requested = [e for e in pending if hasattr(e, "period_start")]
        if not requested:
            return None
        e = requested[0]
        with self.app.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            curs.execute(
                "SELECT run_id FROM export_run_periods WHERE org_id = %s "
                "AND period && daterange(%s, %s, '[]') ORDER BY run_id LIMIT 1",
                (e.org_id, e.period_start, e.period_end),
            )
            row = curs.fetchone()
        return row["run_id"] if row else None

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
            cur.execute(
                f"SELECT originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "  # noqa: S608
                "WHERE originator_id = %s ORDER BY originator_version",
                (aggregate_id,),
            )
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
    constraint = getattr(getattr(cause, "diag", None), "constraint_name", None) or ""
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


def open_event_log(url: str, pool_size: int = 8, create_table: bool = False) -> EventLog:
    from infrastructure.database import eventsourcing_env

    env = eventsourcing_env(url, pool_size)
    env["CREATE_TABLE"] = "yes" if create_table else "no"
    return EventLog(env=env)


def create_event_tables(url: str) -> None:
    """The library's own idempotent DDL for the events table (CREATE ... IF NOT EXISTS)."""
    open_event_log(url, pool_size=1, create_table=True).close()
