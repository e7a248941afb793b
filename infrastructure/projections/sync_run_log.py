"""The `sync_run_log` read model: one row per sync run, built only from events.

Archival (90 days) is part of the projection: the daily job records each organisation's cut-off
as a `SyncLogArchive.CutoffAdvanced` event, and the projection moves that organisation's finished
runs that started before the cut-off from `sync_run_log` to `sync_run_log_archive`, both when the
cut-off arrives and when a run ends after it. Since everything follows from the events in their
order, a rebuild gives the same hot and archive tables.
"""

from __future__ import annotations

from datetime import datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from domain.sync_run import SyncRun
from domain.sync_schedule import SyncLogArchive
from infrastructure.projections.base import EventReadModel, Statement
from infrastructure.sql import queries

SQL = queries("sync_run_log")
#: What benchmarks/sync_log.py measures beside the service's own call.
LATEST_SQL = SQL["latest"]


def latest_runs(conn: psycopg.Connection[Any], org_id: UUID) -> list[dict[str, Any]]:
    """The service's `latest` query (also what benchmarks/sync_log.py measures)."""
    with conn.cursor(row_factory=dict_row) as curs:
        curs.execute(SQL["latest"], {"org": org_id})
        return list(curs.fetchall())


class PostgresSyncRunLog:
    """Implements the SyncRunLog port (application.ports) on the read model's tables."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def latest(self, org_id: UUID) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            return latest_runs(conn, org_id)

    def history(
        self, org_id: UUID, integration_type: str | None, limit: int, include_archived: bool
    ) -> list[dict[str, Any]]:
        query = SQL["history_with_archive" if include_archived else "history"]
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as curs:
            curs.execute(query, {"org": org_id, "type": integration_type, "limit": limit})
            return list(curs.fetchall())

    def orgs_with_runs_before(self, cutoff: datetime) -> list[UUID]:
        with self.pool.connection() as conn:
            rows = conn.execute(SQL["orgs_with_runs_before"], {"cutoff": cutoff}).fetchall()
        return [r[0] for r in rows]


def _versioned(e: Any, query: str, params: dict[str, Any]) -> Statement:
    """An update applied once: only a row older than the event's version changes."""
    return SQL[query], {**params, "id": e.originator_id, "version": e.originator_version}


class SyncRunLogProjection(EventReadModel):
    name = "sync_run_log"
    tables = ("sync_run_log", "sync_run_log_archive", "sync_run_log_cutoffs")

    @singledispatchmethod
    def statements(self, event: Any) -> list[Statement]:
        return []

    @staticmethod
    def _created(e: Any, status: str) -> list[Statement]:
        return [
            (
                SQL["insert_run"],
                {
                    "id": e.originator_id, "org": e.org_id, "type": e.integration_type,
                    "status": status, "triggered_by": e.triggered_by, "at": e.timestamp,
                    "scheduled_for": e.scheduled_for, "drift_seconds": e.drift_seconds,
                    "drift_flagged": e.drift_flagged, "version": e.originator_version,
                },
            )
        ]

    @statements.register
    def _(self, e: SyncRun.Started) -> list[Statement]:
        return self._created(e, "running")

    @statements.register
    def _(self, e: SyncRun.ExportRunLinked) -> list[Statement]:  # type: ignore[name-defined]
        return [_versioned(e, "link_export_run", {"export_run_id": e.export_run_id})]

    @staticmethod
    def _ended(e: Any) -> list[Statement]:
        ended = _versioned(e, "end_run", {
            "status": e.final_status.value,
            "at": e.timestamp,
            "n": e.records_processed,
            "f": e.records_failed,
            "message": e.error_message,
        })
        return [ended, (SQL["archive_ended_run"], {"id": e.originator_id})]

    @statements.register
    def _(self, e: SyncRun.Completed) -> list[Statement]:
        return self._ended(e)

    @statements.register
    def _(self, e: SyncRun.Failed) -> list[Statement]:
        return self._ended(e)

    @statements.register
    def _(self, e: SyncRun.Cancelled) -> list[Statement]:
        return self._ended(e)

    @statements.register
    def _(self, e: SyncLogArchive.CutoffAdvanced) -> list[Statement]:  # type: ignore[name-defined]
        return [
            (SQL["advance_cutoff"], {"org": e.org_id, "at": e.cutoff}),
            (SQL["archive_ended_runs_of_org"], {"org": e.org_id}),
        ]


#: The entry of PROJECTIONS in infrastructure.projections.runner.
REGISTRATION = SyncRunLogProjection
