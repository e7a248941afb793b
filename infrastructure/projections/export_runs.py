"""The `export_runs` read model: everything `GET` of a run shows, so that reading a run or
listing runs never replays its events (nor decodes its claims)."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from eventsourcing.utils import get_topic
from psycopg.types.json import Jsonb

from domain.export_run import ExportRun
from infrastructure.projections.base import EventReadModel, Row, Statement
from infrastructure.sql import queries

SQL = queries("export_runs")
#: The claims of a run are the event itself: the row only takes the event's version.
CLAIMS_TAKEN = get_topic(ExportRun.ClaimsTaken)  # type: ignore[attr-defined]


def _at(e: Any, name: str, **params: Any) -> Statement:
    return SQL[name], {"run_id": e.originator_id, "version": e.originator_version, **params}


class ExportRunsProjection(EventReadModel):
    name = "export_runs"
    tables = ("export_runs",)

    def bare_topics(self) -> list[str]:
        return [CLAIMS_TAKEN]

    def bare(self, row: Row) -> list[Statement]:
        return [(SQL["claims_taken"], {"run_id": row.originator_id,
                                       "version": row.originator_version})]

    @singledispatchmethod
    def statements(self, event: Any) -> list[Statement]:
        return []

    @statements.register
    def _(self, e: ExportRun.Requested) -> list[Statement]:
        return [_at(e, "requested", org_id=e.org_id, period_start=e.period_start,
                    period_end=e.period_end, target=e.target, at=e.timestamp)]

    @statements.register
    def _(self, e: ExportRun.Started) -> list[Statement]:  # type: ignore[name-defined]
        return [_at(e, "started", record_count=e.record_count)]

    @statements.register
    def _(self, e: ExportRun.Completed) -> list[Statement]:  # type: ignore[name-defined]
        return [_at(e, "completed", record_count=e.record_count, file=Jsonb(e.file),
                    at=e.timestamp)]

    @statements.register
    def _(self, e: ExportRun.Failed) -> list[Statement]:  # type: ignore[name-defined]
        return [_at(e, "failed", error=Jsonb({"code": e.code, "message": e.message}),
                    at=e.timestamp)]

    @statements.register
    def _(self, e: ExportRun.DeliveryQueued) -> list[Statement]:  # type: ignore[name-defined]
        return [_at(e, "delivery_queued")]

    @statements.register
    def _(self, e: ExportRun.DeliveryStarted) -> list[Statement]:  # type: ignore[name-defined]
        return [_at(e, "delivery_started", lines_total=e.lines_total,
                    already_present=e.already_present)]

    @statements.register
    def _(self, e: ExportRun.LinesPosted) -> list[Statement]:  # type: ignore[name-defined]
        return [_at(e, "lines_posted", count=e.count)]

    @statements.register
    def _(self, e: ExportRun.DeliveryCompleted) -> list[Statement]:  # type: ignore[name-defined]
        return [_at(e, "delivery_completed", at=e.at)]

    @statements.register
    def _(self, e: ExportRun.DeliveryFailed) -> list[Statement]:  # type: ignore[name-defined]
        return [_at(e, "delivery_failed", last_error=Jsonb({"code": e.code, "message": e.message}),
                    lines_total=getattr(e, "lines_total", None))]

    @statements.register
    def _(self, e: ExportRun.DeliveryRetryRequested) -> list[Statement]:  # type: ignore[name-defined]
        return [_at(e, "delivery_retry_requested")]
