"""ExportRun: one accounting export of an organisation's approved claims for a period."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.shared import Actor, DomainError, Lifecycle, Period


class ExportTarget(str, Enum):
    XLEDGER = "xledger"
    DYNAMICS = "dynamics"


class ExportRunStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


S = ExportRunStatus

LIFECYCLE = Lifecycle(
    "ExportRun",
    ExportRunStatus,
    [
        ("start", S.PENDING, S.RUNNING),
        ("complete", S.RUNNING, S.COMPLETED),
        ("fail", S.RUNNING, S.FAILED),
    ],
)

#: Statuses that hold a period (and the claims taken) against other runs.
ACTIVE_STATUSES = frozenset({S.PENDING, S.RUNNING, S.COMPLETED})


class RunAlreadyExists(DomainError):
    """Another active run of the organisation covers an overlapping period."""

    code = "duplicate"

    def __init__(self, existing_run_id: UUID | None) -> None:
        super().__init__("an active export run with an overlapping period already exists")
        self.existing_run_id = existing_run_id


class ExportRun(Aggregate):
    """The history of one export run; its status is whatever its events say."""

    @event("Requested")
    def __init__(
        self,
        org_id: UUID,
        period_start: date,
        period_end: date,
        target: str,
        actor: dict[str, str],
    ) -> None:
        self.org_id = org_id
        self.period_start = period_start
        self.period_end = period_end
        self.target = ExportTarget(target)
        self.status = S.PENDING
        self.claims: list[dict[str, Any]] = []
        self.record_count = 0
        self.file: dict[str, Any] | None = None
        self.error: dict[str, str] | None = None
        self.completed_at: Any = None
        self.requested_by = actor

    @classmethod
    def request(
        cls, org_id: UUID, period: Period, target: ExportTarget, actor: Actor
    ) -> ExportRun:
        return cls(
            org_id=org_id,
            period_start=period.start,
            period_end=period.end,
            target=target.value,
            actor=actor.as_event_data(),
        )

    @property
    def period(self) -> Period:
        return Period(self.period_start, self.period_end)

    # Commands: consult the lifecycle table, then record the event.

    def start(self, claims: list[dict[str, Any]], actor: Actor) -> None:
        """Record which claims this run takes; from here on they belong to it."""
        LIFECYCLE.target("start", self.status)
        self._started(claims=claims, actor=actor.as_event_data())

    def complete(self, file: dict[str, Any], actor: Actor) -> None:
        LIFECYCLE.target("complete", self.status)
        self._completed(record_count=len(self.claims), file=file, actor=actor.as_event_data())

    def fail(self, code: str, message: str, actor: Actor) -> None:
        """End the run without export; its period and claims become free again."""
        LIFECYCLE.target("fail", self.status)
        self._failed(code=code, message=message, actor=actor.as_event_data())

    # Events: bodies only apply facts, they are re-run on every replay.

    @event("Started")
    def _started(self, claims: list[dict[str, Any]], actor: dict[str, str]) -> None:
        self.status = S.RUNNING
        self.claims = claims

    @event("Completed")
    def _completed(self, record_count: int, file: dict[str, Any], actor: dict[str, str]) -> None:
        self.status = S.COMPLETED
        self.record_count = record_count
        self.file = file

    @event("Failed")
    def _failed(self, code: str, message: str, actor: dict[str, str]) -> None:
        self.status = S.FAILED
        self.error = {"code": code, "message": message}

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES
