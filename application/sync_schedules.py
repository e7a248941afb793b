"""Sync schedules: configure them, and the scheduler tick that starts due syncs exactly once.

A tick asks, per schedule, for the newest due time since the schedule's last scheduled start
(or its configuration), and starts it with the idempotency key (organisation, integration,
scheduled time). The key is a unique row written in the start event's transaction, so ticks that
are late, repeated or run concurrently on several workers start each scheduled sync at most once;
a gap while every worker was down is caught up once (`due_times` returns only the newest).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.ports import (
    Clock,
    EventStore,
    Job,
    NotFound,
    ScheduledSyncTaken,
    ScheduleRow,
    ScheduleTable,
    SyncAlreadyRunning,
)
from application.runs import SCHEDULER, retry_on_conflict, system_actor
from application.sync_runs import SyncRuns
from application.task_names import RUN_ACCOUNTING_SYNC
from domain.schedules import due_times
from domain.shared import Actor
from domain.sync_run import SyncRun, TriggeredBy
from domain.sync_schedule import SyncSchedule, schedule_id

log = logging.getLogger(__name__)

ACCOUNTING_TYPES = frozenset({"xledger", "dynamics"})


@dataclass(frozen=True)
class Started:
    run_id: UUID
    org_id: UUID
    integration_type: str
    scheduled_for: datetime
    drift_seconds: float | None
    drift_flagged: bool


class SyncSchedules:
    def __init__(
        self, store: EventStore, table: ScheduleTable, runs: SyncRuns, clock: Clock
    ) -> None:
        self.store = store
        self.table = table
        self.runs = runs
        self.clock = clock

    @retry_on_conflict()
    def put(
        self,
        org_id: UUID,
        integration_type: str,
        cron: str,
        timezone: str | None,
        period: str | None,
        actor: Actor,
    ) -> dict[str, Any]:
        try:
            schedule = self.store.get(schedule_id(org_id, integration_type))
        except NotFound:
            schedule = SyncSchedule.create(org_id, integration_type, actor)
        if schedule.configure(cron, timezone, period, actor):
            self.store.save(schedule)
        return _out(schedule)

    def get(self, org_id: UUID, integration_type: str) -> dict[str, Any]:
        schedule = self._active(org_id, integration_type)
        return _out(schedule)

    def delete(self, org_id: UUID, integration_type: str, actor: Actor) -> None:
        schedule = self._active(org_id, integration_type)
        schedule.remove(actor)
        self.store.save(schedule)  # a concurrent change answers 409; the caller may retry

    def _active(self, org_id: UUID, integration_type: str) -> SyncSchedule:
        sid = schedule_id(org_id, integration_type)
        schedule = self.store.get(sid)
        if not isinstance(schedule, SyncSchedule) or not schedule.active:
            raise NotFound(sid)
        return schedule

    def tick(self, now: datetime | None = None) -> list[Started]:
        """Start every due scheduled sync that no tick has started yet."""
        now = now or self.clock.now()
        started = []
        for row in self.table.due_candidates():
            after = max(filter(None, (row.configured_at, row.last_scheduled_for)))
            try:
                for due in due_times(row.cron, row.timezone, after, now):
                    result = self._start(row, due)
                    if result is not None:
                        started.append(result)
            except Exception as error:  # one broken schedule must not stop the others
                log.error(  # the kind only: its text may hold SQL
                    "scheduled sync of %s failed to start: %s",
                    row.integration_type,
                    type(error).__name__,
                )
        return started

    def _start(self, row: ScheduleRow, due: datetime) -> Started | None:
        actor = system_actor(
            SCHEDULER, row.org_id, f"schedule:{row.integration_type}:{due:%Y%m%dT%H%M}"
        )

        def jobs(run: SyncRun) -> list[Job]:
            if row.integration_type not in ACCOUNTING_TYPES:
                return []
            args = {"sync_run_id": str(run.id), "timezone": row.timezone, "period": row.period}
            return [Job(RUN_ACCOUNTING_SYNC, args)]

        try:
            run = self.runs.start(
                row.org_id, row.integration_type, TriggeredBy.SCHEDULER, actor, due, jobs
            )
        except ScheduledSyncTaken:
            return None  # another tick started this scheduled time
        except SyncAlreadyRunning as running:
            log.info(
                "scheduled sync of %s for %s waits: run %s is still running",
                row.integration_type,
                due.isoformat(),
                running.existing_run_id,
            )
            return None  # the next tick tries this scheduled time again
        if run.drift_flagged:
            log.warning(
                "scheduled sync %s of %s started %.0f s after %s (drift over 5 minutes)",
                run.id,
                row.integration_type,
                run.drift_seconds or 0.0,
                due.isoformat(),
            )
        return Started(
            run.id, row.org_id, row.integration_type, due, run.drift_seconds, run.drift_flagged
        )


def _out(schedule: SyncSchedule) -> dict[str, Any]:
    return {
        "org_id": str(schedule.org_id),
        "integration_type": schedule.integration_type,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "period": schedule.period,
        "configured_at": schedule.configured_at,
        "version": schedule.version,
    }
