"""The `export_runs` read model behind the list endpoint."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg.types.json import Jsonb

from domain.export_run import ExportRun
from infrastructure.projections.base import EventReadModel, Statement

INSERT_RUN = (
    "INSERT INTO export_runs (run_id, org_id, period_start, period_end, target, "
    "status, record_count, created_at, version) VALUES (%s, %s, %s, %s, %s, "
    "'pending', 0, %s, %s) ON CONFLICT (run_id) DO NOTHING"
)


def _update(e: Any, sets: str, params: dict[str, Any]) -> Statement:
    return (
        f"UPDATE export_runs SET {sets}, version = %(version)s "  # noqa: S608
        "WHERE run_id = %(run_id)s AND version < %(version)s",
        {**params, "run_id": e.originator_id, "version": e.originator_version},
    )


class ExportRunsProjection(EventReadModel):
    name = "export_runs"
    tables = ("export_runs",)

    @singledispatchmethod
    def statements(self, event: Any) -> list[Statement]:
        return []

    @statements.register
    def _(self, e: ExportRun.Requested) -> list[Statement]:
        params = (
            e.originator_id, e.org_id, e.period_start, e.period_end, e.target, e.timestamp,
            e.originator_version,
        )
        return [(INSERT_RUN, params)]

    @statements.register
    def _(self, e: ExportRun.Started) -> list[Statement]:  # type: ignore[name-defined]
        return [_update(e, "status = 'running'", {})]

    @statements.register
    def _(self, e: ExportRun.Completed) -> list[Statement]:  # type: ignore[name-defined]
        return [
            _update(
                e,
                "status = 'completed', record_count = %(n)s, file = %(file)s, completed_at = %(at)s",
                {"n": e.record_count, "file": Jsonb(e.file), "at": e.timestamp},
            )
        ]

    @statements.register
    def _(self, e: ExportRun.Failed) -> list[Statement]:  # type: ignore[name-defined]
        return [
            _update(
                e,
                "status = 'failed', error = %(error)s, completed_at = %(at)s",
                {"error": Jsonb({"code": e.code, "message": e.message}), "at": e.timestamp},
            )
        ]
