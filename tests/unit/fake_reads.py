"""In-memory fakes of the ports that read what the events left behind: the run lists (read
models), the sync log, the schedules, the upkeep tables (guard rows and the job queue) and the
audit ledger. Each derives its rows from the fake event store's events, as the projections and
guard statements do from the real ones; tests/integration/test_port_contracts.py runs the same
assertions against them and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.utils import get_topic

from application.delivery import delivery_in_history
from application.export_runs import claims_in_history
from application.ports import Clock, CurrentRow, FileStorage, Job, NotFound, OpenRun, ScheduleRow
from domain.bufdir_export import BufdirExport
from domain.export_run import ExportRun
from domain.sync_run import SyncRun, SyncRunStatus
from domain.sync_schedule import SyncLogArchive, SyncSchedule

if TYPE_CHECKING:
    from tests.unit.fakes import FakeEventStore

#: Bufdir statuses after which an export is no longer open (its guard row is deleted).
BUFDIR_FINAL = {"completed", "completed_empty", "failed"}
#: Sync run statuses of a run that has ended (only those are archived).
SYNC_FINAL = {"completed", "failed", "cancelled"}


def _value(status: Any) -> str:
    return str(getattr(status, "value", status))


def of_kind(store: FakeEventStore, kind: type) -> list[list[Any]]:
    """The events of every aggregate of `kind` (its creation event names its class)."""
    topic = get_topic(kind)
    return [events for events in store.events.values() if events[0].originator_topic == topic]


def export_run_row(events: list[Any]) -> dict[str, Any]:
    """The `export_runs` read model's row, built from the run's events as its projection does
    (the delivery object as the run holds it)."""
    first = events[0]
    row: dict[str, Any] = {
        "run_id": first.originator_id, "org_id": first.org_id,
        "period_start": first.period_start, "period_end": first.period_end,
        "target": _value(first.target), "status": "pending", "record_count": 0, "file": None,
        "error": None, "created_at": first.timestamp, "completed_at": None,
        "version": first.originator_version,
    }
    for e in events[1:]:
        if isinstance(e, ExportRun.Started):  # type: ignore[attr-defined]
            row.update(status="running", record_count=e.record_count)
        elif isinstance(e, ExportRun.Completed):  # type: ignore[attr-defined]
            row.update(status="completed", record_count=e.record_count, file=e.file,
                       completed_at=e.timestamp)
        elif isinstance(e, ExportRun.Failed):  # type: ignore[attr-defined]
            row.update(status="failed", error={"code": e.code, "message": e.message},
                       completed_at=e.timestamp)
        row["version"] = e.originator_version  # every event moves it (claims and delivery too)
    run: Any = None
    for e in events:
        run = e.mutate(run)
    row["delivery"] = dict(run.delivery) if run.delivery else None
    return row


def bufdir_export_row(events: list[Any]) -> dict[str, Any]:
    """The `bufdir_audit_log` row as the API lists it, built from the export's events."""
    first = events[0]
    row: dict[str, Any] = {
        "export_id": first.originator_id, "status": "initialised", "row_count": 0,
        "file_size_bytes": None, "file": None, "error_message": None,
        "status_history": [{"status": "initialised", "at": first.timestamp.isoformat()}],
        "period_start": first.period_start, "period_end": first.period_end,
        "format": _value(first.format), "include_attachments": first.include_attachments,
        "config_version": first.config_version, "created_at": first.timestamp, "summary": None,
    }
    for e in events[1:]:
        if isinstance(e, BufdirExport.StepEntered):
            status = e.status
        elif isinstance(e, BufdirExport.Completed):
            status = "completed"
            row.update(row_count=e.row_count, file=e.file,
                       file_size_bytes=e.file.get("size_bytes"),
                       summary=getattr(e, "summary", None))
        elif isinstance(e, BufdirExport.CompletedEmpty):
            status = "completed_empty"
        elif isinstance(e, BufdirExport.Failed):
            status = "failed"
            row["error_message"] = e.message
        else:
            continue
        row["status"] = status
        row["status_history"].append({"status": status, "at": e.timestamp.isoformat()})
    return row


class FakeListing:
    """The run lists, projected from the fake store's events (newest first)."""

    def __init__(self, store: FakeEventStore) -> None:
        self.store = store

    def _of(self, kind: type, org_id: UUID) -> list[list[Any]]:
        return [events for events in of_kind(self.store, kind) if events[0].org_id == org_id]

    @staticmethod
    def _newest(rows: list[dict[str, Any]], key: str, status: str | None,
                limit: int) -> list[dict[str, Any]]:
        rows = [r for r in rows if status is None or r["status"] == status]
        rows.sort(key=lambda r: (r["created_at"], str(r[key])), reverse=True)
        return rows[:limit]

    def export_runs(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        rows = [export_run_row(events) for events in self._of(ExportRun, org_id)]
        return self._newest(rows, "run_id", status, limit)

    def export_run(self, org_id: UUID, run_id: UUID) -> CurrentRow:
        """No current row here: GET of a run reads the fake store's events."""
        return CurrentRow(None, 0, 0)

    def bufdir_exports(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        rows = [bufdir_export_row(events) for events in self._of(BufdirExport, org_id)]
        return self._newest(rows, "export_id", status, limit)


def sync_run_row(run: SyncRun) -> dict[str, Any]:
    """The `sync_run_log` row of a run (every SyncRun event updates it)."""
    return {
        "id": run.id, "org_id": run.org_id, "integration_type": run.integration_type,
        "status": _value(run.status), "triggered_by": _value(run.triggered_by),
        "started_at": run.started_at, "ended_at": run.ended_at,
        "records_processed": run.records_processed, "records_failed": run.records_failed,
        "error_message": run.error_message, "duration_seconds": run.duration_seconds,
        "scheduled_for": run.scheduled_for, "drift_seconds": run.drift_seconds,
        "drift_flagged": run.drift_flagged, "export_run_id": run.export_run_id,
        "version": run.version,
    }


class FakeSyncRunLog:
    """The sync log from the fake store's runs; a finished run that started before its
    organisation's recorded cut-off (SyncLogArchive) is in the archive."""

    def __init__(self, store: FakeEventStore) -> None:
        self.store = store

    def _rows(self, org_id: UUID | None) -> list[tuple[dict[str, Any], bool]]:
        cutoffs = {book.org_id: book.cutoff for book in (
            self.store.get(events[0].originator_id) for events in of_kind(self.store, SyncLogArchive))}
        rows = []
        for events in of_kind(self.store, SyncRun):
            row = sync_run_row(self.store.get(events[0].originator_id))
            if org_id is not None and row["org_id"] != org_id:
                continue
            cutoff = cutoffs.get(row["org_id"])
            archived = (row["status"] in SYNC_FINAL and cutoff is not None
                        and row["started_at"] < cutoff)
            rows.append((row, archived))
        rows.sort(key=lambda r: (r[0]["started_at"], str(r[0]["id"])), reverse=True)
        return rows

    def latest(self, org_id: UUID) -> list[dict[str, Any]]:
        newest: dict[str, dict[str, Any]] = {}
        for row, archived in self._rows(org_id):
            if not archived:
                newest.setdefault(row["integration_type"], row)
        return [newest[t] for t in sorted(newest)]

    def history(self, org_id: UUID, integration_type: str | None, limit: int,
                include_archived: bool) -> list[dict[str, Any]]:
        return [{**row, "archived": archived} for row, archived in self._rows(org_id)
                if (include_archived or not archived)
                and integration_type in (None, row["integration_type"])][:limit]

    def orgs_with_runs_before(self, cutoff: datetime) -> list[UUID]:
        return sorted({row["org_id"] for row, archived in self._rows(None)
                       if not archived and row["status"] in SYNC_FINAL
                       and row["started_at"] < cutoff})


class FakeScheduleTable:
    """Configured schedules from the fake store, each with its last scheduled start."""

    def __init__(self, store: FakeEventStore) -> None:
        self.store = store

    def due_candidates(self) -> list[ScheduleRow]:
        starts: dict[tuple[UUID, str], datetime] = {}
        for events in of_kind(self.store, SyncRun):
            first = events[0]
            if first.scheduled_for is not None:
                key = (first.org_id, first.integration_type)
                starts[key] = max(starts.get(key, first.scheduled_for), first.scheduled_for)
        rows = []
        for events in of_kind(self.store, SyncSchedule):
            schedule = self.store.get(events[0].originator_id)
            if schedule.active:  # configured at its last Configured event, as the guard row
                configured = [e for e in events if isinstance(e, SyncSchedule.Configured)]  # type: ignore[attr-defined]
                key = (schedule.org_id, schedule.integration_type)
                rows.append(ScheduleRow(schedule.org_id, schedule.integration_type,
                                        schedule.cron, schedule.timezone, schedule.period,
                                        configured[-1].timestamp, starts.get(key)))
        return sorted(rows, key=lambda r: (r.org_id, r.integration_type))


class FakeUpkeepTables:
    """Open runs as the guard rows tell them (from the fake store's events: created and
    updated at their events' times) and the jobs waiting in its queue (`store.jobs`)."""

    def __init__(self, store: FakeEventStore, clock: Clock) -> None:
        self.store, self.clock = store, clock

    def _open(self, kind: type) -> list[Any]:
        runs = [self.store.get(events[0].originator_id) for events in of_kind(self.store, kind)]
        return sorted(runs, key=lambda r: r.created_on)

    def _queued(self, key: str) -> set[str]:
        return {str(j.args.get(key)) for j in self.store.jobs}

    def running_export_runs(self) -> list[UUID]:
        return [r.id for r in self._open(ExportRun) if _value(r.status) == "running"]

    def orphaned_pending_export_runs(self, older_than_seconds: int) -> list[UUID]:
        cutoff = self.clock.now() - timedelta(seconds=older_than_seconds)
        queued = self._queued("run_id")
        return [r.id for r in self._open(ExportRun) if _value(r.status) == "pending"
                and r.created_on < cutoff and str(r.id) not in queued]

    def open_bufdir_exports(self, timeout_seconds: int, idle_seconds: int) -> list[OpenRun]:
        now, queued = self.clock.now(), self._queued("export_id")
        found = []
        for export in self._open(BufdirExport):
            if _value(export.status) in BUFDIR_FINAL:
                continue
            timed_out = export.created_on < now - timedelta(seconds=timeout_seconds)
            if timed_out or export.modified_on < now - timedelta(seconds=idle_seconds):
                found.append(OpenRun(export.id, _value(export.status), timed_out=timed_out,
                                     has_job=str(export.id) in queued))
        return found

    def running_syncs(self) -> list[OpenRun]:
        return [OpenRun(r.id, "running", export_run_id=r.export_run_id)
                for r in self._open(SyncRun) if r.status is SyncRunStatus.RUNNING]

    def defer(self, job: Job) -> None:
        self.store.jobs.append(job)


class FakeAuditLedger:
    """The evidence bundle from the fake store and files (what the PostgreSQL ledger puts in
    it, less the stored bytes and the hash chain, which only PostgreSQL has)."""

    def __init__(self, store: FakeEventStore | None = None, files: FileStorage | None = None,
                 ) -> None:
        self.store, self.files = store, files

    def verify(self, org_id: UUID) -> dict[str, Any]:
        return {"ok": True, "events_verified": 0, "head": ""}

    def evidence(self, org_id: UUID, run_id: UUID) -> bytes:
        assert self.store is not None and self.files is not None, "fake_services wires both"
        if run_id not in self.store.events:
            raise NotFound(run_id)
        events = self.store.history(run_id)
        completed = next((e for e in events if e.type == "Completed"), None)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr("events.json", _dump([dataclasses.asdict(e) for e in events]))
            zf.writestr("claims.json", _dump(claims_in_history(events)))
            delivery = delivery_in_history(events)
            if delivery is not None:
                zf.writestr("delivery.json", _dump(delivery))
            if completed is not None:
                path = str(completed.data["file"]["path"])
                name = "file/" + path.rsplit("/", 1)[-1]
                with self.files.open(path) as src:
                    data = src.read()
                zf.writestr(name, data)
                zf.writestr("file.sha256", f"{hashlib.sha256(data).hexdigest()}  {name}\n")
        return buffer.getvalue()

    def log_heads(self) -> int:
        return 0


def _dump(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str).encode("utf-8")
