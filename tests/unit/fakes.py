"""In-memory fakes of the application's ports, for fast unit tests of the use cases."""

from __future__ import annotations

import copy
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, BinaryIO
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.ports import (
    ClaimImport,
    ClaimRecord,
    ClaimsTaken,
    IdempotentResponse,
    Job,
    NotFound,
    PeriodTaken,
    RecordedEvent,
    StoredFile,
)
from domain.export_run import ExportRun


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
