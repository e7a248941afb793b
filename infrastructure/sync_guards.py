"""Guard rows of sync runs and the schedules table, derived from events (see guards.py).

- A run's creation (`Started`) inserts its running `running_syncs` row; the end event deletes
  it. The partial unique
  index `running_syncs_one_per_integration` refuses a second running sync.
- A scheduled run's creation inserts its idempotency key into `scheduled_sync_starts` *first*,
  so a repeated or concurrent tick fails on the key (the same scheduled sync) before the guard.
- SyncSchedule events keep `sync_schedules` current in the same transaction.

After a refusal `refusal()` names the run that holds the guard or the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.ports import ScheduledSyncTaken, SyncAlreadyRunning
from domain.schedules import idempotency_key
from domain.sync_run import SyncRun
from domain.sync_schedule import SyncSchedule
from infrastructure.recorder import constraint_of
from infrastructure.sql import queries

SQL = queries("guards")

Statement = tuple[str, dict[str, Any]]


def _scheduled_key(e: Any) -> list[Statement]:
    if e.scheduled_for is None:
        return []
    return [
        (
            SQL["scheduled_start"],
            {
                "key": idempotency_key(e.org_id, e.integration_type, e.scheduled_for),
                "run_id": e.originator_id,
                "org_id": e.org_id,
                "type": e.integration_type,
                "at": e.scheduled_for,
            },
        )
    ]


def _guard_row(e: Any, running: bool) -> Statement:
    return (
        SQL["sync_started"],
        {
            "run_id": e.originator_id,
            "org_id": e.org_id,
            "type": e.integration_type,
            "at": e.timestamp if running else None,
            "running": running,
        },
    )


def _started(e: Any) -> Sequence[Statement]:
    return [*_scheduled_key(e), _guard_row(e, running=True)]


def _linked(e: Any) -> Sequence[Statement]:
    return [
        (
            SQL["sync_linked"],
            {"run_id": e.originator_id, "export": e.export_run_id},
        )
    ]


def _ended(e: Any) -> Sequence[Statement]:
    return [(SQL["sync_ended"], {"run_id": e.originator_id})]


def _configured(e: Any) -> Sequence[Statement]:
    return [
        (
            SQL["schedule_configured"],
            {
                "org_id": e.org_id,
                "type": e.integration_type,
                "id": e.originator_id,
                "cron": e.cron,
                "tz": e.timezone,
                "period": e.period,
                "at": e.timestamp,
                "version": e.originator_version,
            },
        )
    ]


def _removed(e: Any) -> Sequence[Statement]:
    return [
        (
            SQL["schedule_removed"],
            {"org_id": e.org_id, "type": e.integration_type},
        )
    ]


SYNC_RULES: list[tuple[type, Any]] = [
    (SyncRun.Started, _started),
    (SyncRun.ExportRunLinked, _linked),  # type: ignore[attr-defined]
    (SyncRun.Completed, _ended),
    (SyncRun.Failed, _ended),
    (SyncRun.Cancelled, _ended),
    (SyncSchedule.Configured, _configured),  # type: ignore[attr-defined]
    (SyncSchedule.Removed, _removed),  # type: ignore[attr-defined]
]


def refusal(app: Any, error: IntegrityError, aggregates: Sequence[Any]) -> Exception | None:
    """The sync refusal `error` stands for, naming the run that holds the guard; else None."""
    constraint = constraint_of(error)
    runs = [a for a in aggregates if isinstance(a, SyncRun)]
    if not runs:
        return None
    run = runs[0]
    if constraint.startswith("scheduled_sync_starts") and run.scheduled_for is not None:
        key = idempotency_key(run.org_id, run.integration_type, run.scheduled_for)
        return ScheduledSyncTaken(
            _one(app, SQL["scheduled_start_holder"], {"key": key})
        )
    if constraint.startswith("running_syncs"):
        return SyncAlreadyRunning(
            _one(app, SQL["running_sync_holder"],
                 {"org_id": run.org_id, "type": run.integration_type})
        )
    return None


def _one(app: Any, sql: str, params: dict[str, Any]) -> UUID | None:
    with app.recorder.datastore.transaction(commit=False) as curs:
        curs.execute(sql, params)
        row = curs.fetchone()
    return row["run_id"] if row else None
