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
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
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
    DeliveryConnection,
    IdempotencyOutcome,
    IdempotentResponse,
    Job,
    NotFound,
    RecordedEvent,
    ReportWriter,
    StoredFile,
)
from bootstrap import Services, Settings, bootstrap
from infrastructure.projections.runner import ProjectionCatchUp
from tests.unit.fake_guards import FakeGuards
from tests.unit.fake_reads import (
    FakeAuditLedger,
    FakeListing,
    FakeScheduleTable,
    FakeSyncRunLog,
    FakeUpkeepTables,
)

__all__ = ["FakeAuditLedger", "FakeListing", "FakeScheduleTable", "FakeSyncRunLog",
           "FakeUpkeepTables"]


class FakeEventStore:
    """Keeps events per aggregate and emulates the database's guards (`FakeGuards`)."""

    def __init__(self) -> None:
        self.events: dict[UUID, list[Any]] = {}
        self.jobs: list[Job] = []
        self.responses: list[IdempotentResponse] = []
        self.guards = FakeGuards()

    @property
    def periods(self) -> dict[UUID, tuple[UUID, date, date]]:
        return self.guards.periods

    @property
    def reserved(self) -> dict[UUID, UUID]:
        return self.guards.reserved

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
        versions = {i: events[-1].originator_version for i, events in self.events.items()}
        guards = self.guards.after(pending, versions)  # raises, keeping nothing, if refused
        for a in aggregates:
            for e in a.collect_events():
                self.events.setdefault(e.originator_id, []).append(copy.deepcopy(e))
        self.guards = guards
        self.jobs.extend(jobs)
        if response:
            self.responses.append(response)
        return sum(len(v) for v in self.events.values())

    def stream(self, aggregate_id: UUID) -> Iterator[Any]:
        yield from self.events[aggregate_id]

    def history(self, aggregate_id: UUID) -> list[RecordedEvent]:
        """As PostgresEventStore.history gives it: each event's own fields as JSON data."""
        if aggregate_id not in self.events:
            raise NotFound(aggregate_id)
        skip = ("originator_id", "originator_version", "timestamp", "actor")
        return [
            RecordedEvent(
                e.originator_version, type(e).__qualname__.split(".")[-1], e.timestamp,
                getattr(e, "actor", None),
                json.loads(json.dumps({k: v for k, v in e.__dict__.items() if k not in skip},
                                      default=str)),
            )
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

    def candidate_columns(
        self, org_id: UUID, start: date, end: date, size: int
    ) -> Iterator[dict[str, list[Any]]]:
        rows = [c.as_event_data() for c in self.candidates(org_id, start, end)]
        for first in range(0, len(rows), size):
            chunk = rows[first:first + size]
            yield {f: [r[f] for r in chunk] for f in chunk[0] if f != "ledger_ref"}


class FakeStorage:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.changed: dict[str, datetime] = {}

    def write(self, path: str, chunks: Iterable[bytes], content_type: str) -> StoredFile:
        data = b"".join(chunks)
        self.files[path] = data
        self.changed[path] = datetime.now(UTC)
        return StoredFile(path, len(data), hashlib.sha256(data).hexdigest(), content_type)

    def open(self, path: str) -> BinaryIO:
        return io.BytesIO(self.files[path])

    def exists(self, path: str) -> bool:
        return path in self.files

    def move(self, source: str, target: str) -> None:
        self.files[target] = self.files.pop(source)
        self.changed[target] = self.changed.pop(source)

    def remove(self, path: str) -> None:
        self.files.pop(path, None)
        self.changed.pop(path, None)

    def remove_unfinished(self, suffix: str, older_than: datetime) -> list[str]:
        stale = sorted(p for p in self.files
                       if p.endswith(suffix) and self.changed[p] < older_than)
        for path in stale:
            self.remove(path)
        return stale


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
    files = overrides.pop("files", None) or FakeStorage()
    source = FakeClaims(claims)
    source.reserved_by = store
    clock = overrides.pop("clock", None) or FixedClock()
    adapters: dict[str, Any] = {
        "event_store": store, "claims": source, "activities": FakeActivities(),
        "files": files, "clock": clock, "idempotency_keys": FakeIdempotencyKeys(),
        "listing": FakeListing(store), "freshness": ProjectionCatchUp(lambda: 0),
        "sync_run_log": FakeSyncRunLog(store), "schedules": FakeScheduleTable(store),
        "upkeep_tables": FakeUpkeepTables(store, clock),
        "audit_ledger": FakeAuditLedger(store, files), "delivery_connections": FakeDeliveryConnections(), "service_flags": FakeServiceFlags(),
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
        listing=FakeListing(store), sync_run_log=FakeSyncRunLog(store),
        schedules=FakeScheduleTable(store),
        upkeep_tables=FakeUpkeepTables(store, clock), audit_ledger=FakeAuditLedger(),
        delivery_connections=FakeDeliveryConnections(), exporters=[CsvExporter("xledger")],
        service_flags=FakeServiceFlags(),
    )
