"""In-memory fakes of the application's ports (application/ports.py), for unit tests that
run the real service graph: `fake_services()` calls `bootstrap()` with a fake for every
database adapter, so nothing connects anywhere. mypy checks these fakes against the ports
(pyproject: tests/unit/fakes.py is in mypy's files) through the typed `bootstrap` keywords.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID

from eventsourcing.domain import Aggregate
from pydantic import SecretStr

from application.activities import ActivityRecord
from application.ports import (
    AccountingExporter,
    ClaimImport,
    ClaimRecord,
    ClaimsTaken,
    DeliveryConnection,
    IdempotencyOutcome,
    IdempotentResponse,
    Job,
    NotFound,
    OpenRun,
    PeriodTaken,
    RecordedEvent,
    ReportWriter,
    ScheduleRow,
    StoredFile,
)
from bootstrap import Services, Settings, bootstrap
from domain.export_run import ExportRun
from infrastructure.projections.runner import ProjectionCatchUp


class FakeEventStore:
    """Keeps events per aggregate and emulates the period and claim guards of the database."""

    def __init__(self) -> None:
        self.events: dict[UUID, list[Any]] = {}
        self.jobs: list[Job] = []
        self.responses: list[IdempotentResponse] = []
        self.periods: dict[UUID, tuple[UUID, date, date]] = {}
        self.reserved: dict[UUID, UUID] = {}

    def get(self, aggregate_id: UUID, version: int | None = None) -> Any:
        if aggregate_id not in self.events:
            raise NotFound(aggregate_id)
        aggregate = None
        for e in self.events[aggregate_id]:
            if version is not None and e.originator_version > version:
                break
            aggregate = e.mutate(aggregate)
        return aggregate

    def save(
        self,
        *aggregates: Aggregate,
        jobs: Sequence[Job] = (),
        response: IdempotentResponse | None = None,
    ) -> int | None:
        pending = [e for a in aggregates for e in a.pending_events]
        periods = dict(self.periods)
        reserved = dict(self.reserved)
        for e in pending:
            if isinstance(e, ExportRun.Requested):
                for run_id, (org, start, end) in periods.items():
                    if org == e.org_id and start <= e.period_end and e.period_start <= end:
                        raise PeriodTaken(run_id)
                periods[e.originator_id] = (e.org_id, e.period_start, e.period_end)
            if isinstance(e, ExportRun.ClaimsTaken):  # type: ignore[attr-defined]
                for claim_id in e.claims["claim_id"]:
                    if UUID(claim_id) in reserved:
                        raise ClaimsTaken()
                    reserved[UUID(claim_id)] = e.originator_id
            if isinstance(e, ExportRun.Failed):  # type: ignore[attr-defined]
                periods.pop(e.originator_id, None)
                reserved = {k: v for k, v in reserved.items() if v != e.originator_id}
        for a in aggregates:
            for e in a.collect_events():
                self.events.setdefault(e.originator_id, []).append(copy.deepcopy(e))
        self.periods, self.reserved = periods, reserved
        self.jobs.extend(jobs)
        if response:
            self.responses.append(response)
        return sum(len(v) for v in self.events.values())

    def stream(self, aggregate_id: UUID) -> Iterator[Any]:
        yield from self.events[aggregate_id]

    def history(self, aggregate_id: UUID) -> list[RecordedEvent]:
        return [
            RecordedEvent(e.originator_version, type(e).__name__, e.timestamp, e.actor, {})
            for e in self.events[aggregate_id]
        ]


class FakeClaims:
    def __init__(self, claims: Iterable[tuple[UUID, ClaimRecord]] = ()) -> None:
        self.claims: dict[UUID, tuple[UUID, ClaimRecord]] = {c.id: (o, c) for o, c in claims}
        self.reserved_by: FakeEventStore | None = None

    def upsert(self, org_id: UUID, claims: Sequence[ClaimRecord]) -> ClaimImport:
        reserved = self.reserved_by.reserved if self.reserved_by else {}
        free = [c for c in claims if c.id not in reserved]
        for c in free:
            self.claims[c.id] = (org_id, c)
        return ClaimImport(len(free), 0, [])

    def late_corrections(self, org_id: UUID | None = None) -> int:
        return 0

    def candidates(self, org_id: UUID, start: date, end: date) -> list[ClaimRecord]:
        reserved = self.reserved_by.reserved if self.reserved_by else {}
        return [
            c
            for o, c in self.claims.values()
            if o == org_id and start <= c.approved_at.date() <= end and c.id not in reserved
        ]


class FakeStorage:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def write(self, path: str, chunks: Iterable[bytes], content_type: str) -> StoredFile:
        data = b"".join(chunks)
        self.files[path] = data
        return StoredFile(path, len(data), hashlib.sha256(data).hexdigest(), content_type)

    def open(self, path: str) -> BinaryIO:
        return io.BytesIO(self.files[path])

    def exists(self, path: str) -> bool:
        return path in self.files


class FixedClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime.now(UTC)

    def now(self) -> datetime:
        return self.current


class CsvExporter:
    """A stand-in exporter: one line per claim."""

    content_type = "text/csv"
    extension = "csv"

    def __init__(self, target: str) -> None:
        self.target = target

    def content_type_for(self, settings: Any) -> str:
        return self.content_type

    def extension_for(self, settings: Any) -> str:
        return self.extension

    def render(self, run: Any, claims: Iterable[dict[str, Any]], settings: Any) -> Iterator[bytes]:
        yield b"claim_id;amount\n"
        for c in claims:
            yield f"{c['claim_id']};{c['amount']}\n".encode()


class FakeActivities:
    """Activity records per organisation, with attachments as (name, local path)."""

    def __init__(self) -> None:
        self.items: dict[tuple[UUID, str], dict[str, Any]] = {}
        self.files: dict[tuple[UUID, str], list[tuple[str, str]]] = {}

    def upsert(self, org_id: UUID, activities: Sequence[ActivityRecord]) -> int:
        for a in activities:
            self.items[(org_id, a.id)] = {
                **a.extra, "id": a.id, "date": a.date, "activity_type": a.activity_type,
                "participants": a.participants, "municipality": a.municipality,
                "description": a.description, "duration_minutes": a.duration_minutes,
                "end_date": a.end_date, "contact_mode": a.contact_mode,
            }
        return len(activities)

    def exists(self, org_id: UUID, activity_id: str) -> bool:
        return (org_id, activity_id) in self.items

    def add_attachment(self, org_id: UUID, activity_id: str, name: str, stored: StoredFile) -> None:
        self.files.setdefault((org_id, activity_id), []).append((name, stored.path))

    def _period(self, org_id: UUID, start: date, end: date) -> list[dict[str, Any]]:
        rows = [a for (o, _), a in self.items.items() if o == org_id and start <= a["date"] <= end]
        return sorted(rows, key=lambda a: (a["date"], a["id"]))

    def count(self, org_id: UUID, start: date, end: date) -> int:
        return len(self._period(org_id, start, end))

    def stream(self, org_id: UUID, start: date, end: date) -> Iterator[dict[str, Any]]:
        yield from self._period(org_id, start, end)

    def attachments(self, org_id: UUID, activity_ids: Iterable[str]) -> Iterator[
            tuple[str, str, str]]:
        for activity_id in activity_ids:
            for name, path in self.files.get((org_id, activity_id), []):
                yield activity_id, name, path


class FakeIdempotencyKeys:
    """Keys per organisation: new, replay of a finished answer, mismatch, in flight."""

    def __init__(self) -> None:
        self.keys: dict[tuple[UUID, str], tuple[str, int | None, dict[str, Any] | None]] = {}

    def begin(self, org_id: UUID, key: str, fingerprint: str) -> IdempotencyOutcome:
        stored = self.keys.get((org_id, key))
        if stored is None:
            self.keys[(org_id, key)] = (fingerprint, None, None)
            return IdempotencyOutcome("new")
        if stored[0] != fingerprint:
            return IdempotencyOutcome("mismatch")
        if stored[1] is None:
            return IdempotencyOutcome("in_flight")
        return IdempotencyOutcome("replay", stored[1], stored[2])

    def finish(self, org_id: UUID, key: str, status_code: int, body: dict[str, Any]) -> None:
        fingerprint, done, _ = self.keys[(org_id, key)]
        if done is None:
            self.keys[(org_id, key)] = (fingerprint, status_code, body)

    def abandon(self, org_id: UUID, key: str) -> None:
        if self.keys.get((org_id, key), ("", 0, None))[1] is None:
            del self.keys[(org_id, key)]

    def purge(self, older_than_hours: int) -> int:
        return 0  # the fake keeps no creation times; nothing ever expires


class FakeListing:
    """The run lists, read from the fake store's aggregates (newest first)."""

    def __init__(self, store: FakeEventStore) -> None:
        self.store = store

    def _runs(self, kind: str, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        rows = []
        for aggregate_id in self.store.events:
            run = self.store.get(aggregate_id)
            if type(run).__name__ == kind and run.org_id == org_id:
                state = getattr(run.status, "value", run.status)
                if status is None or state == status:
                    rows.append({"id": aggregate_id, "status": state, "created_at": run.created_on})
        return sorted(rows, key=lambda r: r["created_at"], reverse=True)[:limit]

    def export_runs(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        return [{"run_id": r.pop("id"), **r} for r in self._runs("ExportRun", org_id, status, limit)]

    def bufdir_exports(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        return [{"export_id": r.pop("id"), **r}
                for r in self._runs("BufdirExport", org_id, status, limit)]


class FakeSyncRunLog:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def latest(self, org_id: UUID) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["org_id"] == org_id]

    def history(self, org_id: UUID, integration_type: str | None, limit: int,
                include_archived: bool) -> list[dict[str, Any]]:
        rows = [r for r in self.latest(org_id)
                if integration_type is None or r["integration_type"] == integration_type]
        return rows[:limit]

    def orgs_with_runs_before(self, cutoff: datetime) -> list[UUID]:
        return sorted({r["org_id"] for r in self.rows if r["started_at"] < cutoff}, key=str)


class FakeScheduleTable:
    def __init__(self) -> None:
        self.rows: list[ScheduleRow] = []

    def due_candidates(self) -> list[ScheduleRow]:
        return list(self.rows)


class FakeUpkeepTables:
    """Open runs read from the fake store's guard state; deferred jobs join its job list."""

    def __init__(self, store: FakeEventStore, clock: FixedClock) -> None:
        self.store, self.clock = store, clock

    def _export_runs(self, status: str) -> list[Any]:
        runs = [self.store.get(i) for i in self.store.periods]
        return [r for r in runs if r.status.value == status]

    def running_export_runs(self) -> list[UUID]:
        return [r.id for r in self._export_runs("running")]

    def orphaned_pending_export_runs(self, older_than_seconds: int) -> list[UUID]:
        queued = {j.args.get("run_id") for j in self.store.jobs}
        cutoff = self.clock.now() - timedelta(seconds=older_than_seconds)
        return [r.id for r in self._export_runs("pending")
                if r.created_on < cutoff and str(r.id) not in queued]

    def open_bufdir_exports(self, timeout_seconds: int, idle_seconds: int) -> list[OpenRun]:
        return []

    def running_syncs(self) -> list[OpenRun]:
        return []

    def defer(self, job: Job) -> None:
        self.store.jobs.append(job)


class FakeAuditLedger:
    def verify(self, org_id: UUID) -> dict[str, Any]:
        return {"ok": True, "events_verified": 0, "head": ""}

    def evidence(self, org_id: UUID, run_id: UUID) -> bytes:
        raise NotImplementedError("evidence bundles are tested against PostgreSQL")

    def log_heads(self) -> int:
        return 0


class FakeDeliveryConnections:
    def __init__(self) -> None:
        self.saved: dict[tuple[UUID, str], tuple[DeliveryConnection, dict[str, str]]] = {}

    def save(self, org_id: UUID, target: str, settings: dict[str, Any],
             credentials: dict[str, str] | None, configured_by: str) -> DeliveryConnection:
        kept = self.saved.get((org_id, target))
        secret = credentials if credentials is not None else (kept[1] if kept else {})
        connection = DeliveryConnection(org_id, target, settings, bool(secret),
                                        datetime.now(UTC), configured_by)
        self.saved[(org_id, target)] = (connection, secret)
        return connection

    def get(self, org_id: UUID, target: str) -> DeliveryConnection:
        if (org_id, target) not in self.saved:
            raise NotFound(target)
        return self.saved[(org_id, target)][0]

    def credentials(self, org_id: UUID, target: str) -> dict[str, str]:
        return dict(self.saved[(org_id, target)][1])

    def record_health(self, org_id: UUID, target: str, ok: bool, message: str, at: datetime,
                      next_check_at: datetime, failures: int) -> None:
        pass

    def due_for_health(self, now: datetime) -> list[tuple[UUID, str]]:
        return []

    def hold_delivery(self, run_id: UUID) -> contextlib.AbstractContextManager[bool]:
        return contextlib.nullcontext(True)

    def orphaned_deliveries(self, older_than_seconds: int) -> list[UUID]:
        return []

    def requeue_delivery(self, run_id: UUID) -> bool:
        return True


class FakeServiceFlags:
    def __init__(self) -> None:
        self.flags: set[str] = set()

    def is_set(self, name: str) -> bool:
        return name in self.flags

    def set(self, name: str) -> None:
        self.flags.add(name)


#: Unit tests write nothing to disk: a data directory that cannot be created fails loudly.
NO_DATA_DIR = Path("/nonexistent/export-service-unit-tests")


def fake_services(
    *,
    claims: Iterable[tuple[UUID, ClaimRecord]] = (),
    exporters: Sequence[AccountingExporter] | None = None,
    report_writer: ReportWriter | None = None,
    **overrides: Any,
) -> Services:
    """The real service graph from `bootstrap()` over in-memory fakes: no database, no network.
    The fakes are on the result (`services.store`, `.claims`, `.files`, ...); the clock is
    `services.app.export_runs.clock`."""
    store = FakeEventStore()
    source = FakeClaims(claims)
    source.reserved_by = store
    clock = overrides.pop("clock", None) or FixedClock()
    adapters: dict[str, Any] = {
        "event_store": store, "claims": source, "activities": FakeActivities(),
        "files": FakeStorage(), "clock": clock, "idempotency_keys": FakeIdempotencyKeys(),
        "listing": FakeListing(store), "freshness": ProjectionCatchUp(lambda: 0),
        "sync_run_log": FakeSyncRunLog(), "schedules": FakeScheduleTable(),
        "upkeep_tables": FakeUpkeepTables(store, clock), "audit_ledger": FakeAuditLedger(),
        "delivery_connections": FakeDeliveryConnections(), "service_flags": FakeServiceFlags(),
        "exporters": exporters or [CsvExporter("xledger"), CsvExporter("dynamics")],
        **overrides,
    }
    settings = Settings(data_dir=NO_DATA_DIR, jwt_secret=SecretStr("unit-" + "x" * 40),
                        run_timeout_seconds=15 * 60)
    if report_writer is not None:
        adapters["report_writer"] = report_writer
    return bootstrap(settings, **adapters)


def _typed(tmp: Path) -> Services:
    """Not called: mypy checks every fake against its port through bootstrap's keywords."""
    store = FakeEventStore()
    clock = FixedClock()
    return bootstrap(
        Settings(data_dir=tmp), event_store=store, claims=FakeClaims(), activities=FakeActivities(),
        files=FakeStorage(), clock=clock, idempotency_keys=FakeIdempotencyKeys(),
        listing=FakeListing(store), sync_run_log=FakeSyncRunLog(), schedules=FakeScheduleTable(),
        upkeep_tables=FakeUpkeepTables(store, clock), audit_ledger=FakeAuditLedger(),
        delivery_connections=FakeDeliveryConnections(), exporters=[CsvExporter("xledger")],
        service_flags=FakeServiceFlags(),
    )
