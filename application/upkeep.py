"""Upkeep: every queued task, periodic job and sweep step, by its one task name.

The sweep (every minute) finds what a crash or a lost job left behind from the guard and job
tables, which are written in the append's own transaction (never from the lagging read models):

- export runs running past the run timeout fail, freeing their period and claims;
- pending export runs, open deliveries and open Bufdir exports with no live job are queued
  again (a delivery resumes by reading what the ledger holds: no line twice);
- Bufdir exports still open after the run timeout fail;
- scheduled accounting syncs whose export run ended are settled, syncs running past their
  integration's timeout fail (releasing the guard);
- idempotency keys older than their retention go.

Hourly, files left unfinished by a worker that died mid-run go once older than the run timeout.

Each step runs on its own: one failing step (or run) never keeps the others from running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from uuid import UUID

from application.bufdir_exports import BufdirExports
from application.delivery import Deliveries
from application.export_runs import ExportRuns
from application.ports import AuditLedger, IdempotencyKeys, Job, RunCounters, UpkeepTables
from application.sync_accounting import AccountingSyncs
from application.sync_runs import SyncRuns
from application.sync_schedules import SyncSchedules
from application.task_names import (
    CRON,
    DELIVER_EXPORT_RUN,
    DELIVERY_HEALTH,
    EXECUTE_BUFDIR_EXPORT,
    EXECUTE_EXPORT_RUN,
    LOG_AUDIT_HEADS,
    REMOVE_UNFINISHED_FILES,
    RUN_ACCOUNTING_SYNC,
    SETTLE_ACCOUNTING_SYNC,
    SYNC_ARCHIVE,
    SYNC_TICK,
)
from domain.export_run import ExportRunStatus
from domain.schedules import DEFAULT_TIMEZONE

log = logging.getLogger(__name__)

#: An open run untouched this long without a live job is queued again.
ORPHANED_AFTER_SECONDS = 60


class Upkeep:
    def __init__(
        self,
        tables: UpkeepTables,
        export_runs: ExportRuns,
        bufdir_exports: BufdirExports,
        sync_runs: SyncRuns,
        schedules: SyncSchedules,
        accounting: AccountingSyncs,
        idempotency_keys: IdempotencyKeys,
        ledger: AuditLedger,
        counters: RunCounters,
        *,
        run_timeout_seconds: int,
        idempotency_ttl_hours: int,
        delivery: Deliveries | None = None,
    ) -> None:
        self.tables = tables
        self.export_runs = export_runs
        self.bufdir_exports = bufdir_exports
        self.sync_runs = sync_runs
        self.schedules = schedules
        self.accounting = accounting
        self.idempotency_keys = idempotency_keys
        self.ledger = ledger
        self.counters = counters
        self.run_timeout_seconds = run_timeout_seconds
        self.idempotency_ttl_hours = idempotency_ttl_hours
        self.delivery = delivery

    # Queued tasks (job arguments arrive as JSON strings).

    def execute_export_run(self, run_id: str) -> None:
        status = self.export_runs.execute(UUID(str(run_id)))
        if status in (ExportRunStatus.COMPLETED, ExportRunStatus.FAILED):
            self.counters.export_run_finished(status.value)

    def execute_bufdir_export(self, export_id: str) -> None:
        self.bufdir_exports.execute(UUID(str(export_id)))

    def run_accounting_sync(
        self, sync_run_id: str, timezone: str = DEFAULT_TIMEZONE, period: str = "previous_month"
    ) -> None:
        self.accounting.run(sync_run_id, timezone, period)

    def settle_accounting_sync(self, sync_run_id: str) -> None:
        self.accounting.settle(sync_run_id)

    def deliver_export_run(self, run_id: str) -> None:
        if self.delivery is not None:
            self.delivery.deliver(UUID(str(run_id)))

    def tasks(self) -> dict[str, Callable[..., None]]:
        return {
            EXECUTE_EXPORT_RUN: self.execute_export_run,
            EXECUTE_BUFDIR_EXPORT: self.execute_bufdir_export,
            RUN_ACCOUNTING_SYNC: self.run_accounting_sync,
            SETTLE_ACCOUNTING_SYNC: self.settle_accounting_sync,
            DELIVER_EXPORT_RUN: self.deliver_export_run,
        }

    # Periodic jobs (called with the tick's timestamp).

    def sync_tick(self, timestamp: int | None = None) -> list[UUID]:
        """Start every due scheduled sync; the ids of the runs started."""
        started = self.schedules.tick()
        for run in started:
            self.counters.scheduled_sync_started(run.drift_flagged)
        return [s.run_id for s in started]

    def sync_archive(self, timestamp: int | None = None) -> list[UUID]:
        return self.sync_runs.archive()

    def log_audit_heads(self, timestamp: int | None = None) -> int:
        return self.ledger.log_heads()

    def check_delivery_health(self, timestamp: int | None = None) -> int:
        """Check the delivery connections that are due (each at most every 15 minutes)."""
        return self.delivery.check_due() if self.delivery is not None else 0

    def remove_unfinished_files(self, timestamp: int | None = None) -> list[str]:
        """Files a worker that died mid-run left unfinished (the run's append did not answer)."""
        removed = self.export_runs.remove_unfinished_files()
        if removed:
            log.warning("removed %d unfinished files left by workers that died", len(removed))
        return removed

    def periodic(self) -> dict[str, tuple[str, Callable[[int], object]]]:
        """Periodic jobs besides the sweep: name -> (cron, function of the timestamp)."""
        return {
            SYNC_TICK: (CRON[SYNC_TICK], self.sync_tick),
            SYNC_ARCHIVE: (CRON[SYNC_ARCHIVE], self.sync_archive),
            LOG_AUDIT_HEADS: (CRON[LOG_AUDIT_HEADS], self.log_audit_heads),
            DELIVERY_HEALTH: (CRON[DELIVERY_HEALTH], self.check_delivery_health),
            REMOVE_UNFINISHED_FILES: (CRON[REMOVE_UNFINISHED_FILES], self.remove_unfinished_files),
        }

    # The sweep.

    def sweep(self) -> None:
        steps: list[tuple[str, Callable[[], object]]] = [
            ("stuck export runs", self.fail_stuck_export_runs),
            ("orphaned pending runs", self.requeue_orphaned_export_runs),
            ("orphaned deliveries", self.requeue_orphaned_deliveries),
            ("bufdir exports", self.sweep_bufdir_exports),
            ("sync runs", self.sweep_sync_runs),
            ("idempotency keys", lambda: self.idempotency_keys.purge(self.idempotency_ttl_hours)),
        ]
        for name, step in steps:
            try:
                step()
            except Exception:
                log.error("sweep step '%s' failed; the next sweep retries", name, exc_info=True)

    def fail_stuck_export_runs(self) -> list[UUID]:
        failed = []
        for run_id in self.tables.running_export_runs():
            if self.export_runs.fail_if_stuck(run_id):
                log.warning("export run %s timed out and was failed", run_id)
                self.counters.export_run_finished("failed")
                failed.append(run_id)
        return failed

    def requeue_orphaned_export_runs(
        self, older_than_seconds: int = ORPHANED_AFTER_SECONDS
    ) -> list[UUID]:
        """Pending runs with no live job (e.g. the job failed for good) are queued again."""
        ids = self.tables.orphaned_pending_export_runs(older_than_seconds)
        for run_id in ids:
            self.tables.defer(Job(EXECUTE_EXPORT_RUN, {"run_id": str(run_id)}))
        if ids:
            log.warning("queued %d orphaned pending runs again", len(ids))
        return ids

    def requeue_orphaned_deliveries(
        self, older_than_seconds: int = ORPHANED_AFTER_SECONDS
    ) -> list[UUID]:
        """Deliveries pending or posting with no live job are queued again (application/delivery.py)."""
        if self.delivery is None:
            return []
        return self.delivery.requeue_orphaned(older_than_seconds)

    def sweep_bufdir_exports(
        self, idle_seconds: int = ORPHANED_AFTER_SECONDS
    ) -> tuple[list[UUID], list[UUID]]:
        """Queue orphaned open exports again and fail timed-out ones; (requeued, failed)."""
        requeued: list[UUID] = []
        failed: list[UUID] = []
        for export in self.tables.open_bufdir_exports(self.run_timeout_seconds, idle_seconds):
            if export.timed_out:
                if self.bufdir_exports.fail_if_open(export.run_id):
                    failed.append(export.run_id)
            elif not export.has_job:
                self.tables.defer(Job(EXECUTE_BUFDIR_EXPORT, {"export_id": str(export.run_id)}))
                requeued.append(export.run_id)
        if requeued or failed:
            log.warning("bufdir sweep: %d queued again, %d timed out", len(requeued), len(failed))
        return requeued, failed

    def sweep_sync_runs(self) -> None:
        """Settle linked accounting syncs, then fail the ones running past their timeout."""
        for run in self.tables.running_syncs():
            try:
                if run.export_run_id is not None and self.accounting.settle(run.run_id):
                    continue
                if self.sync_runs.fail_if_stuck(run.run_id):
                    self.counters.sync_timed_out()
                    log.warning("sync run %s timed out and was failed", run.run_id)
            except Exception as error:  # one bad run must not stop the sweep
                log.error("sweeping sync run %s failed: %s", run.run_id, type(error).__name__)
