"""The `export_runs` read model behind the list endpoint."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from psycopg.types.json import Jsonb

from domain.export_run import ExportRun
from infrastructure.projections.base import TrackedView


class ExportRunsView(TrackedView):
    tables = ("export_runs",)


def _update(e: Any, sets: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return (
        f"UPDATE export_runs SET {sets}, version = %(version)s "  # noqa: S608
        "WHERE run_id = %(run_id)s AND version < %(version)s",
        {**params, "run_id": e.originator_id, "version": e.originator_version},
    )


class ExportRunsProjection(Projection[ExportRunsView]):
    name = "export_runs"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.apply([], tracking)  # not ours: only advance the position

    @process_event.register
    def _(self, e: ExportRun.Requested, tracking: Tracking) -> None:
        self.view.apply(
            [
                (
                    "INSERT INTO export_runs (run_id, org_id, period_start, period_end, target, "
                    "status, record_count, created_at, version) VALUES (%s, %s, %s, %s, %s, "
                    "'pending', 0, %s, %s) ON CONFLICT (run_id) DO NOTHING",
                    (
                        e.originator_id, e.org_id, e.period_start, e.period_end, e.target,
                        e.timestamp, e.originator_version,
                    ),
                )
            ],
            tracking,
        )

    @process_event.register
    def _(self, e: ExportRun.Started, tracking: Tracking) -> None:  # type: ignore[name-defined]
        self.view.apply([_update(e, "status = 'running'", {})], tracking)

    @process_event.register
    def _(self, e: ExportRun.Completed, tracking: Tracking) -> None:  # type: ignore[name-defined]
        stmt = _update(
            e,
            "status = 'completed', record_count = %(n)s, file = %(file)s, completed_at = %(at)s",
            {"n": e.record_count, "file": Jsonb(e.file), "at": e.timestamp},
        )
        self.view.apply([stmt], tracking)

    @process_event.register
    def _(self, e: ExportRun.Failed, tracking: Tracking) -> None:  # type: ignore[name-defined]
        stmt = _update(
            e,
            "status = 'failed', error = %(error)s, completed_at = %(at)s",
            {"error": Jsonb({"code": e.code, "message": e.message}), "at": e.timestamp},
        )
        self.view.apply([stmt], tracking)
