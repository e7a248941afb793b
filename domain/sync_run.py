"""SyncRun: one run of an organisation's integration sync (seed 003, the sync run log).

Every run starts straight into `running` (`SyncRun.start_new`, a `Started` creation event), from
the API or the scheduler. `pending` stays a status of the sync run log's contract, but no run
reaches it (the queue-first path was never used and is gone). A run ends
exactly once (completed, failed or cancelled); its error message is sanitised before it enters the
event, because events are kept forever.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.error_messages import sanitize_error_message
from domain.schedules import drift_seconds as compute_drift
from domain.schedules import is_drift_flagged
from domain.shared import Actor, DomainError, Lifecycle, new_id


class SyncRunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TriggeredBy(StrEnum):
    SCHEDULER = "scheduler"
    MANUAL = "manual"


S = SyncRunStatus

LIFECYCLE = Lifecycle(
    "SyncRun",
    SyncRunStatus,
    [
        ("complete", S.RUNNING, S.COMPLETED),
        ("fail", S.RUNNING, S.FAILED),
        ("cancel", S.RUNNING, S.CANCELLED),
        ("link_export_run", S.RUNNING, S.RUNNING),
    ],
)

FINAL_STATUSES = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})
#: The command `finish` dispatches to for each final status.
FINISH_COMMANDS = {S.COMPLETED: "complete", S.FAILED: "fail", S.CANCELLED: "cancel"}

_INTEGRATION_TYPE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class InvalidSyncRun(DomainError):
    """A command argument is malformed; `field` names it (e.g. `records_failed`)."""

    code = "invalid_sync_run"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def validate_integration_type(value: Any) -> str:
    """ASCII letters, digits, `_` and `-`, 1 to 64 characters: it is a grouping key and a path
    segment, so nothing else (no control characters, NUL, spaces or separators) may enter."""
    if not isinstance(value, str) or not _INTEGRATION_TYPE.fullmatch(value):
        raise InvalidSyncRun("integration_type", "must be 1 to 64 letters, digits, '_' or '-'")
    return value


class _Creation(Aggregate.Created):
    org_id: UUID
    integration_type: str
    triggered_by: str
    scheduled_for: datetime | None
    drift_seconds: float | None
    drift_flagged: bool
    actor: dict[str, str]


class _Ending(Aggregate.Event):
    """Shared body of the three final events: the run ends at the event's timestamp."""

    records_processed: int
    records_failed: int
    error_message: str | None
    actor: dict[str, str]

    final_status: ClassVar[SyncRunStatus]

    def apply(self, aggregate: Any) -> None:
        aggregate.status = self.final_status
        aggregate.ended_at = self.timestamp
        aggregate.records_processed = self.records_processed
        aggregate.records_failed = self.records_failed
        aggregate.error_message = self.error_message


class SyncRun(Aggregate):
    """The history of one sync run; its status is whatever its events say."""

    create_id = staticmethod(new_id)

    class Started(_Creation):
        """Created running: the run started at this event's timestamp."""

        def apply(self, aggregate: Any) -> None:
            aggregate.status = S.RUNNING
            aggregate.started_at = self.timestamp

    class Completed(_Ending):
        final_status = S.COMPLETED

    class Failed(_Ending):
        final_status = S.FAILED

    class Cancelled(_Ending):
        final_status = S.CANCELLED

    def __init__(
        self,
        org_id: UUID,
        integration_type: str,
        triggered_by: str,
        scheduled_for: datetime | None,
        drift_seconds: float | None,
        drift_flagged: bool,
        actor: dict[str, str],
    ) -> None:
        # Applies both creation events; `Started.apply` then moves the run to running.
        self.org_id = org_id
        self.integration_type = integration_type
        self.triggered_by = TriggeredBy(triggered_by)
        self.status = S.PENDING
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.records_processed = 0
        self.records_failed = 0
        self.error_message: str | None = None
        self.scheduled_for = scheduled_for
        self.drift_seconds = drift_seconds
        self.drift_flagged = drift_flagged
        self.export_run_id: UUID | None = None
        self.created_by = actor

    @classmethod
    def start_new(
        cls,
        org_id: UUID,
        integration_type: str,
        triggered_by: TriggeredBy | str,
        actor: Actor,
        scheduled_for: datetime | None = None,
        drift_seconds: float | None = None,
    ) -> SyncRun:
        """A run that is running from its first event (what `POST .../sync-runs` records)."""
        now = cls.Started.create_timestamp()
        data = _creation(
            org_id, integration_type, triggered_by, actor, scheduled_for, drift_seconds, now
        )
        return cls._create(cls.Started, timestamp=now, **data)

    # Commands: consult the lifecycle table, then record the event.

    def finish(
        self,
        status: SyncRunStatus | str,
        records_processed: int,
        records_failed: int,
        error_message: str | None,
        actor: Actor,
    ) -> None:
        """End the run with `status` (completed, failed or cancelled); a run ends only once."""
        try:
            target = SyncRunStatus(status)
        except ValueError:
            target = S.PENDING  # refused just below, with the field named
        if target not in FINAL_STATUSES:
            raise InvalidSyncRun("status", "must be one of completed, failed, cancelled")
        self._end(FINISH_COMMANDS[target], records_processed, records_failed, error_message, actor)

    def complete(self, processed: int, failed: int, message: str | None, actor: Actor) -> None:
        self._end("complete", processed, failed, message, actor)

    def fail(self, processed: int, failed: int, message: str | None, actor: Actor) -> None:
        self._end("fail", processed, failed, message, actor)

    def cancel(self, processed: int, failed: int, message: str | None, actor: Actor) -> None:
        self._end("cancel", processed, failed, message, actor)

    def link_export_run(self, run_id: UUID, actor: Actor) -> None:
        """Tie a scheduled accounting sync to the export run it created; repeating it is a no-op,
        a different export run is refused (one sync produces at most one export)."""
        LIFECYCLE.target("link_export_run", self.status)
        if not isinstance(run_id, UUID):
            raise InvalidSyncRun("export_run_id", "must be a UUID")
        if self.export_run_id == run_id:
            return
        if self.export_run_id is not None:
            raise InvalidSyncRun("export_run_id", "the run is already linked to an export run")
        self._export_run_linked(export_run_id=run_id, actor=actor.as_event_data())

    def _end(
        self, command: str, processed: int, failed: int, message: str | None, actor: Actor
    ) -> None:
        LIFECYCLE.target(command, self.status)
        ending = {"complete": self.Completed, "fail": self.Failed, "cancel": self.Cancelled}
        self.trigger_event(
            ending[command],
            records_processed=_count(processed, "records_processed"),
            records_failed=_count(failed, "records_failed"),
            error_message=_message(message),  # only the sanitised text enters the event
            actor=actor.as_event_data(),
        )

    # Events: bodies only apply facts, they are re-run on every replay.
    # `timestamp` is the event's own timestamp (eventsourcing passes event attributes by name).

    @event("ExportRunLinked")
    def _export_run_linked(self, export_run_id: UUID, actor: dict[str, str]) -> None:
        self.export_run_id = export_run_id

    @property
    def is_running(self) -> bool:
        return self.status == S.RUNNING

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


def _creation(
    org_id: UUID,
    integration_type: str,
    triggered_by: TriggeredBy | str,
    actor: Actor,
    scheduled_for: datetime | None,
    drift_seconds: float | None,
    now: datetime | None,
) -> dict[str, Any]:
    """The validated data of a creation event."""
    if not isinstance(org_id, UUID):
        raise InvalidSyncRun("org_id", "must be a UUID")
    try:
        trigger = TriggeredBy(triggered_by)
    except ValueError as error:
        raise InvalidSyncRun("triggered_by", "must be 'scheduler' or 'manual'") from error
    if scheduled_for is not None and (
        not isinstance(scheduled_for, datetime) or scheduled_for.utcoffset() is None
    ):
        raise InvalidSyncRun("scheduled_for", "must be a timezone-aware datetime")
    drift = _drift(scheduled_for, drift_seconds, now)
    return {
        "org_id": org_id,
        "integration_type": validate_integration_type(integration_type),
        "triggered_by": trigger.value,
        "scheduled_for": None if scheduled_for is None else scheduled_for.astimezone(UTC),
        "drift_seconds": drift,
        "drift_flagged": is_drift_flagged(drift),
        "actor": actor.as_event_data(),
    }


def _drift(
    scheduled_for: datetime | None, given: float | None, now: datetime | None
) -> float | None:
    """The given drift, or (when starting a scheduled run) the seconds since its scheduled time."""
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int | float):
            raise InvalidSyncRun("drift_seconds", "must be a number")
        if not math.isfinite(given):
            raise InvalidSyncRun("drift_seconds", "must be finite")
        return float(given)
    if scheduled_for is None or now is None:
        return None
    return compute_drift(scheduled_for, now)


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidSyncRun(field, "must be a non-negative integer")
    return value


def _message(value: Any) -> str | None:
    """Only the sanitised message enters the event; an empty result is no message."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidSyncRun("error_message", "must be a string")
    return sanitize_error_message(value) or None
