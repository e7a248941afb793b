"""Sync runs wired to PostgreSQL and the queue: services, worker tasks, periodic jobs, sweep.

- `sync_tick` (every minute) starts due scheduled syncs (application/sync_schedules.py);
- `sync_archive` (daily, 03:17) records the 90-day archive cut-offs;
- the sweep (every minute, interfaces/server.py) settles scheduled accounting syncs whose export
  run ended and fails syncs running past their integration's timeout, releasing the guard.

Metrics are per process (Prometheus counters): each worker counts what it started.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from prometheus_client import Counter
from psycopg_pool import ConnectionPool

from application.export_runs import ExportRuns
from application.ports import Clock, EventStore
from application.sync_accounting import SETTLE_TASK, AccountingSyncs
from application.sync_runs import SyncRuns
from application.sync_schedules import ACCOUNTING_TASK, ScheduleRow, SyncSchedules
from infrastructure.projections.sync_run_log import PostgresSyncRunLog
from infrastructure.settings import Settings

log = logging.getLogger(__name__)

SYNC_DRIFT_FLAGGED = Counter(
    "export_service_sync_drift_flagged_total",
    "Scheduled sync runs started more than 5 minutes away from their scheduled time",
)
SYNC_SCHEDULED_STARTED = Counter(
    "export_service_sync_scheduled_started_total", "Scheduled sync runs started by this process"
)
SYNC_TIMED_OUT = Counter(
    "export_service_sync_timed_out_total", "Sync runs failed by the sweep after their timeout"
)

DUE_CANDIDATES = """
SELECT s.org_id, s.integration_type, s.cron, s.timezone, s.period, s.configured_at,
       (SELECT k.scheduled_for FROM scheduled_sync_starts k
        WHERE k.org_id = s.org_id AND k.integration_type = s.integration_type
        ORDER BY k.scheduled_for DESC LIMIT 1) AS last_scheduled_for
FROM sync_schedules s ORDER BY s.org_id, s.integration_type
"""


class PostgresScheduleTable:
    """The `sync_schedules` table with each schedule's last scheduled start (both transactional)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def due_candidates(self) -> list[ScheduleRow]:
        with self.pool.connection() as conn:
            return [ScheduleRow(*row) for row in conn.execute(DUE_CANDIDATES)]


@dataclass
class SyncServices:
    runs: SyncRuns
    schedules: SyncSchedules
    accounting: AccountingSyncs
    pool: ConnectionPool

    def tick(self, timestamp: int | None = None) -> list[UUID]:
        started = self.schedules.tick()
        for run in started:
            SYNC_SCHEDULED_STARTED.inc()
            if run.drift_flagged:
                SYNC_DRIFT_FLAGGED.inc()
        return [s.run_id for s in started]

    def archive(self, timestamp: int | None = None) -> list[UUID]:
        return self.runs.archive()

    def sweep(self) -> None:
        """Settle linked accounting syncs, then fail the ones running past their timeout."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT run_id, export_run_id FROM running_syncs WHERE running ORDER BY started_at"
            ).fetchall()
        for run_id, export_run_id in rows:
            try:
                if export_run_id is not None and self.accounting.settle(run_id):
                    continue
                if self.runs.fail_if_stuck(run_id):
                    SYNC_TIMED_OUT.inc()
                    log.warning("sync run %s timed out and was failed", run_id)
            except Exception as error:  # one bad run must not stop the sweep
                log.error("sweeping sync run %s failed: %s", run_id, type(error).__name__)

    def tasks(self) -> dict[str, Callable[..., None]]:
        """Worker tasks for TaskHandlers.extra."""

        def run_accounting_sync(
            sync_run_id: str, timezone: str = "Europe/Oslo", period: str = "previous_month"
        ) -> None:
            self.accounting.run(sync_run_id, timezone, period)

        def settle_accounting_sync(sync_run_id: str) -> None:
            self.accounting.settle(sync_run_id)

        return {ACCOUNTING_TASK: run_accounting_sync, SETTLE_TASK: settle_accounting_sync}

    def periodic(self) -> dict[str, tuple[str, Callable[[int], None]]]:
        """Periodic tasks for TaskHandlers.periodic."""

        def sync_tick(timestamp: int) -> None:
            self.tick(timestamp)

        def sync_archive(timestamp: int) -> None:
            self.archive(timestamp)

        return {"sync_tick": ("* * * * *", sync_tick), "sync_archive": ("17 3 * * *", sync_archive)}


def build_sync(
    settings: Settings,
    pool: ConnectionPool,
    store: EventStore,
    export_runs: ExportRuns,
    clock: Clock,
) -> SyncServices:
    def timeout_of(integration_type: str) -> timedelta:
        seconds = settings.sync_timeouts.get(integration_type, settings.sync_timeout_seconds)
        return timedelta(seconds=seconds)

    runs = SyncRuns(store, PostgresSyncRunLog(pool), clock, timeout_of)
    schedules = SyncSchedules(store, PostgresScheduleTable(pool), runs, clock)
    return SyncServices(runs, schedules, AccountingSyncs(store, export_runs), pool)
