"""BufdirExport: one grant report of an organisation's activities for a period, built in steps.

Each pipeline step is recorded as it is entered, so a reader (or a retried worker) sees exactly
where the export is; the allowed order of steps is the `transitions` table below.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.shared import Actor, DomainError, Lifecycle, Period, new_id


class ReportFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


class BufdirExportStatus(StrEnum):
    INITIALISED = "initialised"
    QUERYING_ACTIVITIES = "querying_activities"
    MAPPING_COLUMNS = "mapping_columns"
    GENERATING_FILE = "generating_file"
    BUNDLING_ATTACHMENTS = "bundling_attachments"
    STORING_FILE = "storing_file"
    COMPLETED = "completed"
    COMPLETED_EMPTY = "completed_empty"
    FAILED = "failed"


S = BufdirExportStatus

FINAL_STATUSES = frozenset({S.COMPLETED, S.COMPLETED_EMPTY, S.FAILED})

#: The step commands, in pipeline order, with the status each one enters.
STEP_COMMANDS: dict[str, BufdirExportStatus] = {
    "query_activities": S.QUERYING_ACTIVITIES,
    "map_columns": S.MAPPING_COLUMNS,
    "generate_file": S.GENERATING_FILE,
    "bundle_attachments": S.BUNDLING_ATTACHMENTS,
    "store_file": S.STORING_FILE,
}

LIFECYCLE = Lifecycle(
    "BufdirExport",
    BufdirExportStatus,
    [
        ("query_activities", S.INITIALISED, S.QUERYING_ACTIVITIES),
        ("map_columns", S.QUERYING_ACTIVITIES, S.MAPPING_COLUMNS),
        ("complete_empty", S.QUERYING_ACTIVITIES, S.COMPLETED_EMPTY),
        ("generate_file", S.MAPPING_COLUMNS, S.GENERATING_FILE),
        ("bundle_attachments", S.GENERATING_FILE, S.BUNDLING_ATTACHMENTS),
        ("store_file", [S.GENERATING_FILE, S.BUNDLING_ATTACHMENTS], S.STORING_FILE),
        ("complete", S.STORING_FILE, S.COMPLETED),
        ("fail", [s for s in S if s not in FINAL_STATUSES], S.FAILED),
    ],
)


class InvalidBufdirExport(DomainError):
    code = "invalid_bufdir_export"


class BufdirExport(Aggregate):
    """The history of one Bufdir export; status and status history are whatever its events say."""

    create_id = staticmethod(new_id)

    @event("Initialised")
    def __init__(
        self,
        org_id: UUID,
        period_start: date,
        period_end: date,
        format: str,
        include_attachments: bool,
        config_version: int,
        actor: dict[str, str],
    ) -> None:
        self.org_id = org_id
        self.period_start = period_start
        self.period_end = period_end
        self.format = ReportFormat(format)
        self.include_attachments = include_attachments
        self.config_version = config_version
        self.requested_by = actor
        self.status = S.INITIALISED
        self.status_history: list[tuple[str, datetime]] = [(S.INITIALISED.value, self.created_on)]
        self.row_count = 0
        self.file: dict[str, Any] | None = None
        #: The counted figures (domain.bufdir_rules.Summary.as_dict) once completed.
        self.summary: dict[str, Any] | None = None
        self.error: dict[str, str] | None = None

    @classmethod
    def request(
        cls,
        org_id: UUID,
        period: Period,
        fmt: ReportFormat,
        include_attachments: bool,
        config_version: int,
        actor: Actor,
    ) -> BufdirExport:
        if actor.org_id != org_id:
            raise InvalidBufdirExport("an export can only be requested for the actor's own org")
        return cls(
            org_id=org_id,
            period_start=period.start,
            period_end=period.end,
            format=fmt.value,
            include_attachments=include_attachments,
            config_version=config_version,
            actor=actor.as_event_data(),
        )

    @property
    def period(self) -> Period:
        return Period(self.period_start, self.period_end)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    # Commands: consult the lifecycle table, then record exactly one event.

    def enter_step(self, command: str, actor: Actor) -> None:
        """Record that the pipeline starts the step `command` (a key of STEP_COMMANDS)."""
        if command not in STEP_COMMANDS:
            raise InvalidBufdirExport(f"unknown step command '{command}'")
        target = LIFECYCLE.target(command, self.status)
        self.trigger_event(self.StepEntered, status=target.value, actor=actor.as_event_data())

    def query_activities(self, actor: Actor) -> None:
        self.enter_step("query_activities", actor)

    def map_columns(self, actor: Actor) -> None:
        self.enter_step("map_columns", actor)

    def generate_file(self, actor: Actor) -> None:
        self.enter_step("generate_file", actor)

    def bundle_attachments(self, actor: Actor) -> None:
        self.enter_step("bundle_attachments", actor)

    def store_file(self, actor: Actor) -> None:
        self.enter_step("store_file", actor)

    def complete(self, row_count: int, file: dict[str, Any], actor: Actor,
                 summary: dict[str, Any] | None = None) -> None:
        LIFECYCLE.target("complete", self.status)
        self.trigger_event(
            self.Completed, row_count=row_count, file=file, actor=actor.as_event_data(),
            summary=summary,
        )

    def complete_empty(self, actor: Actor) -> None:
        """No activity in the period: end without a file rather than with an empty one."""
        LIFECYCLE.target("complete_empty", self.status)
        self.trigger_event(self.CompletedEmpty, actor=actor.as_event_data())

    def fail(self, message: str, actor: Actor) -> None:
        """End the export; the step that was running is recorded with the message."""
        LIFECYCLE.target("fail", self.status)
        self.trigger_event(
            self.Failed, step=self.status.value, message=message, actor=actor.as_event_data()
        )

    # Events: `apply` only applies facts (it is re-run on every replay). They are explicit
    # classes rather than @event methods so that `apply` can read the event's own timestamp.

    class StepEntered(Aggregate.Event):
        status: str
        actor: dict[str, str]

        def apply(self, aggregate: Any) -> None:
            aggregate._enter(self.status, self.timestamp)

    class Completed(Aggregate.Event):
        row_count: int
        file: dict[str, Any]
        actor: dict[str, str]
        #: Absent in events recorded before the counting rules.
        summary: dict[str, Any] | None = None

        def apply(self, aggregate: Any) -> None:
            aggregate._enter(S.COMPLETED.value, self.timestamp)
            aggregate.row_count = self.row_count
            aggregate.file = self.file
            aggregate.summary = getattr(self, "summary", None)

    class CompletedEmpty(Aggregate.Event):
        actor: dict[str, str]

        def apply(self, aggregate: Any) -> None:
            aggregate._enter(S.COMPLETED_EMPTY.value, self.timestamp)
            aggregate.row_count = 0

    class Failed(Aggregate.Event):
        step: str
        message: str
        actor: dict[str, str]

        def apply(self, aggregate: Any) -> None:
            aggregate._enter(S.FAILED.value, self.timestamp)
            aggregate.error = {"step": self.step, "message": self.message}

    def _enter(self, status: str, at: datetime) -> None:
        self.status = S(status)
        self.status_history.append((status, at))
