"""What a scheduled accounting sync does: export the period that just closed, end with it.

The scheduler starts an `xledger` or `dynamics` sync with a job in the same transaction. The job
requests the export run of the closed period (previous month in the schedule's time zone, from
the scheduled time, so a late or repeated job maps to the same period) and links it to the sync.
A period already exported or being exported answers with the existing run: never a second one.
`settle` then ends the sync with the export run's outcome; it runs as a job right after linking
and from the periodic sweep, so a sync whose export ends later is still settled.
"""

from __future__ import annotations

import logging
from uuid import UUID
from zoneinfo import ZoneInfo

from application.export_runs import ExportRuns
from application.ports import ConcurrentChange, EventStore, Job, NotFound
from application.runs import SCHEDULER, system_actor
from application.task_names import SETTLE_ACCOUNTING_SYNC
from domain.delivery import DeliveryStatus
from domain.export_run import ExportRun, ExportRunStatus, ExportTarget, RunAlreadyExists
from domain.schedules import DEFAULT_TIMEZONE, previous_month
from domain.shared import Actor, Period
from domain.sync_run import SyncRun, SyncRunStatus
from domain.sync_schedule import validate_period

log = logging.getLogger(__name__)



class AccountingSyncs:
    def __init__(self, store: EventStore, export_runs: ExportRuns) -> None:
        self.store = store
        self.export_runs = export_runs

    def run(
        self, sync_run_id: str, timezone: str = DEFAULT_TIMEZONE, period: str = "previous_month"
    ) -> None:
        """Request (or find) the export run of the closed period and link it; safe to repeat."""
        run = self.store.get(_uuid(sync_run_id))
        if not isinstance(run, SyncRun) or run.status is not SyncRunStatus.RUNNING:
            return
        actor = system_actor(SCHEDULER, run.org_id, f"sync:{run.id}")
        if run.export_run_id is None:
            validate_period(period)
            moment = run.scheduled_for or run.started_at or run.created_on
            start, end = previous_month(moment.astimezone(ZoneInfo(timezone)).date())
            try:
                export_id = self.export_runs.request_export(
                    run.org_id, Period(start, end), ExportTarget(run.integration_type), actor
                )
            except RunAlreadyExists as exists:
                if exists.existing_run_id is None:
                    raise RuntimeError("overlapping export run ended meanwhile; retry") from None
                export_id = exists.existing_run_id
            try:
                run.link_export_run(export_id, actor)
                self.store.save(run, jobs=[Job(SETTLE_ACCOUNTING_SYNC, {"sync_run_id": str(run.id)})])
            except ConcurrentChange:
                return  # another job linked it (and queued the settling)
        self.settle(run.id)

    def settle(self, sync_run_id: object) -> bool:
        """End a linked running sync once its export run has ended; True when it ended now."""
        try:
            run = self.store.get(_uuid(sync_run_id))
        except NotFound:
            return False
        if not isinstance(run, SyncRun) or run.status is not SyncRunStatus.RUNNING:
            return False
        if run.export_run_id is None:
            return False
        export = self.store.get(run.export_run_id)
        if not isinstance(export, ExportRun):
            return False
        actor = system_actor(SCHEDULER, run.org_id, f"export:{export.id}")
        if export.status is ExportRunStatus.COMPLETED and export.delivery is not None:
            if not _settle_with_delivery(run, export, actor):
                return False  # the delivery is still pending or posting
        elif export.status is ExportRunStatus.COMPLETED:
            run.complete(export.record_count, 0, None, actor)
        elif export.status is ExportRunStatus.FAILED:
            error = export.error or {}
            message = (
                f"Export run {export.id} failed: {error.get('code', 'unknown')}: "
                f"{error.get('message', '')}"
            )
            run.fail(0, export.record_count, message, actor)  # sanitised by the domain
        else:
            return False
        try:
            self.store.save(run)
        except ConcurrentChange:
            return False
        return True


def _settle_with_delivery(run: SyncRun, export: ExportRun, actor: Actor) -> bool:
    """With delivery enabled the sync ends with the delivery's outcome, counted in lines: a
    file alone is not a successful accounting sync."""
    delivery = export.delivery or {}
    posted = int(delivery.get("lines_posted") or 0)
    total = delivery.get("lines_total")
    if delivery.get("status") == DeliveryStatus.DELIVERED.value:
        run.complete(posted, 0, None, actor)
        return True
    if delivery.get("status") == DeliveryStatus.FAILED.value:
        error = delivery.get("last_error") or {}
        message = (
            f"Export run {export.id} completed but its delivery failed: "
            f"{error.get('code', 'unknown')}: {error.get('message', '')}"
        )
        # Lines the ledger lacks; only when not even the lines could be built (the run's
        # settings are gone) is the run's claim count the best measure left.
        failed = max(int(total) - posted, 0) if total is not None else export.record_count
        run.fail(posted, failed, message, actor)  # sanitised by the domain
        return True
    return False


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
