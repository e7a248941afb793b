"""Use cases of sync runs: start one, end it, read it, fail stuck ones, archive the log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from application.ports import (
    Clock,
    ConcurrentChange,
    EventStore,
    Freshness,
    Job,
    NotFound,
    SyncRunLog,
)
from application.runs import SYNC, RunReads, retry_on_conflict, system_actor
from domain.shared import Actor
from domain.sync_run import SyncRun, SyncRunStatus, validate_integration_type
from domain.sync_schedule import SyncLogArchive, archive_id

log = logging.getLogger(__name__)

ARCHIVE_AFTER = timedelta(days=90)


@dataclass(frozen=True)
class SyncRunView:
    run_id: UUID
    org_id: UUID
    integration_type: str
    status: str
    triggered_by: str
    started_at: datetime | None
    ended_at: datetime | None
    records_processed: int
    records_failed: int
    error_message: str | None
    duration_seconds: float | None
    scheduled_for: datetime | None
    drift_seconds: float | None
    drift_flagged: bool
    export_run_id: UUID | None
    version: int

    @classmethod
    def of(cls, run: SyncRun) -> SyncRunView:
        return cls(
            run_id=run.id,
            org_id=run.org_id,
            integration_type=run.integration_type,
            status=run.status.value,
            triggered_by=run.triggered_by.value,
            started_at=run.started_at or run.created_on,
            ended_at=run.ended_at,
            records_processed=run.records_processed,
            records_failed=run.records_failed,
            error_message=run.error_message,
            duration_seconds=run.duration_seconds,
            scheduled_for=run.scheduled_for,
            drift_seconds=run.drift_seconds,
            drift_flagged=run.drift_flagged,
            export_run_id=run.export_run_id,
            version=run.version,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SyncRuns(RunReads[SyncRun]):
    """Sync runs as the API, the scheduler and the sweeper use them."""

    kind = SyncRun

    def __init__(
        self,
        store: EventStore,
        log_view: SyncRunLog,
        clock: Clock,
        timeout_of: Callable[[str], timedelta] = lambda _type: timedelta(hours=1),
        freshness: Freshness | None = None,
    ) -> None:
        self.freshness = freshness
        self.store = store
        self.log_view = log_view
        self.clock = clock
        self.timeout_of = timeout_of

    def start(
        self,
        org_id: UUID,
        integration_type: str,
        triggered_by: str,
        actor: Actor,
        scheduled_for: datetime | None = None,
        jobs: Callable[[SyncRun], list[Job]] | None = None,
    ) -> SyncRun:
        """Record a running run; SyncAlreadyRunning (guard) or ScheduledSyncTaken (its key)."""
        run = SyncRun.start_new(org_id, integration_type, triggered_by, actor, scheduled_for)
        self.store.save(run, jobs=jobs(run) if jobs else ())
        return run

    @retry_on_conflict()
    def finish(
        self,
        org_id: UUID,
        run_id: UUID,
        status: str,
        records_processed: int,
        records_failed: int,
        error_message: str | None,
        actor: Actor,
    ) -> SyncRunView:
        """End a running run once; a concurrent end makes this one a TransitionNotAllowed
        (on a conflict it is read again: it has ended, refused, or changed in between)."""
        run = self.get(org_id, run_id)
        run.finish(status, records_processed, records_failed, error_message, actor)
        self.store.save(run)
        return SyncRunView.of(run)

    def view(
        self,
        org_id: UUID,
        run_id: UUID,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> SyncRunView:
        """The run now, after event `version`, or as it stood at `as_of` (from its events)."""
        return SyncRunView.of(self.as_it_was(org_id, run_id, version, as_of))

    def latest(self, org_id: UUID) -> list[dict[str, Any]]:
        self._catch_up()
        return self.log_view.latest(org_id)

    def _catch_up(self) -> None:
        if self.freshness is not None:
            self.freshness.catch_up()

    def history(
        self,
        org_id: UUID,
        integration_type: str | None,
        limit: int,
        include_archived: bool = False,
    ) -> list[dict[str, Any]]:
        if integration_type is not None:
            validate_integration_type(integration_type)
        self._catch_up()
        return self.log_view.history(org_id, integration_type, limit, include_archived)

    def fail_if_stuck(self, run_id: UUID) -> bool:
        """Fail a run still running past its integration's timeout; its guard row goes too.
        True when this call failed it (False too when others kept changing it)."""
        try:
            return self._fail_if_stuck(run_id)
        except ConcurrentChange:
            return False

    @retry_on_conflict()
    def _fail_if_stuck(self, run_id: UUID) -> bool:
        try:
            run = self.store.get(run_id)
        except NotFound:
            return False
        if not isinstance(run, SyncRun) or run.status is not SyncRunStatus.RUNNING:
            return False
        limit = self.timeout_of(run.integration_type)
        if run.started_at is None or self.clock.now() - run.started_at < limit:
            return False
        message = (
            f"Sync timed out: still running after {int(limit.total_seconds())} seconds, "
            f"the limit for '{run.integration_type}'; failed by the sweeper. Start it again."
        )
        actor = system_actor(SYNC, run.org_id, f"sweep:{run_id}")
        run.fail(run.records_processed, run.records_failed, message, actor)
        self.store.save(run)
        return True

    def archive(self, now: datetime | None = None) -> list[UUID]:
        """Record each organisation's new cut-off (now - 90 days); the projection moves rows."""
        cutoff = (now or self.clock.now()) - ARCHIVE_AFTER
        advanced = []
        for org_id in self.log_view.orgs_with_runs_before(cutoff):
            try:
                book = self.store.get(archive_id(org_id))
            except NotFound:
                book = SyncLogArchive.create(org_id, system_actor(SYNC, org_id, "archive"))
            if book.advance(cutoff, system_actor(SYNC, org_id, "archive")):
                try:
                    self.store.save(book)
                except ConcurrentChange:
                    continue  # another worker's daily job recorded it
                advanced.append(org_id)
        return advanced
