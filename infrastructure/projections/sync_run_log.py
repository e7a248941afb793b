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

COLUMNS = (
    "id, org_id, integration_type, status, triggered_by, started_at, ended_at, "
    "records_processed, records_failed, error_message, duration_seconds, scheduled_for, "
    "drift_seconds, drift_flagged, export_run_id, version"
)
FINAL = "('completed', 'failed', 'cancelled')"

#: The most recent run of each integration type: a loose index scan finds the types, a lateral
#: join takes each one's newest row; both walk (org_id, integration_type, started_at DESC).
LATEST_SQL = f"""
WITH RECURSIVE types AS (
    (SELECT integration_type FROM sync_run_log WHERE org_id = %(org)s
     ORDER BY integration_type LIMIT 1)
    UNION ALL
    SELECT (SELECT s.integration_type FROM sync_run_log s
            WHERE s.org_id = %(org)s AND s.integration_type > t.integration_type
            ORDER BY s.integration_type LIMIT 1)
    FROM types t WHERE t.integration_type IS NOT NULL
)
SELECT r.* FROM types t CROSS JOIN LATERAL (
    SELECT {COLUMNS} FROM sync_run_log l
    WHERE l.org_id = %(org)s AND l.integration_type = t.integration_type
    ORDER BY l.started_at DESC LIMIT 1
) r
WHERE t.integration_type IS NOT NULL
ORDER BY r.integration_type
"""  # noqa: S608 - constant fragments only

HISTORY_SQL = (
    f"SELECT {COLUMNS}, false AS archived FROM sync_run_log WHERE org_id = %(org)s "  # noqa: S608
    "AND (%(type)s::text IS NULL OR integration_type = %(type)s) "
    "ORDER BY started_at DESC, id DESC LIMIT %(limit)s"
)
HISTORY_ARCHIVED_SQL = (
    f"SELECT * FROM ((SELECT {COLUMNS}, false AS archived FROM sync_run_log "  # noqa: S608
    "WHERE org_id = %(org)s AND (%(type)s::text IS NULL OR integration_type = %(type)s) "
    "ORDER BY started_at DESC, id DESC LIMIT %(limit)s) UNION ALL "
    f"(SELECT {COLUMNS}, true AS archived FROM sync_run_log_archive "
    "WHERE org_id = %(org)s AND (%(type)s::text IS NULL OR integration_type = %(type)s) "
    "ORDER BY started_at DESC, id DESC LIMIT %(limit)s)) both_tables "
    "ORDER BY started_at DESC, id DESC LIMIT %(limit)s"
)


def latest_runs(conn: psycopg.Connection[Any], org_id: UUID) -> list[dict[str, Any]]:
    """The service's `latest` query (also what benchmarks/sync_log.py measures)."""
    with conn.cursor(row_factory=dict_row) as curs:
        curs.execute(LATEST_SQL, {"org": org_id})
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
        sql = HISTORY_ARCHIVED_SQL if include_archived else HISTORY_SQL
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as curs:
            curs.execute(sql, {"org": org_id, "type": integration_type, "limit": limit})
            return list(curs.fetchall())

    def orgs_with_runs_before(self, cutoff: datetime) -> list[UUID]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT DISTINCT org_id FROM sync_run_log WHERE status IN {FINAL} "  # noqa: S608
                "AND started_at < %s ORDER BY org_id",
                (cutoff,),
            ).fetchall()
        return [r[0] for r in rows]


def _archive_ended(where: str) -> Statement:
    """Move finished rows matching `where` that started before their organisation's cut-off."""
    return (
        f"WITH moved AS (DELETE FROM sync_run_log l USING sync_run_log_cutoffs c "  # noqa: S608
        f"WHERE c.org_id = l.org_id AND l.started_at < c.cutoff AND l.status IN {FINAL} "
        f"AND {where} RETURNING l.*) "
        f"INSERT INTO sync_run_log_archive ({COLUMNS}) SELECT {COLUMNS} FROM moved",
        None,
    )


def _update(e: Any, sets: str, params: dict[str, Any]) -> Statement:
    return (
        f"UPDATE sync_run_log SET {sets}, version = %(version)s "  # noqa: S608
        "WHERE id = %(id)s AND version < %(version)s",
        {**params, "id": e.originator_id, "version": e.originator_version},
    )


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
                f"INSERT INTO sync_run_log ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, "  # noqa: S608
                "NULL, 0, 0, NULL, NULL, %s, %s, %s, NULL, %s) ON CONFLICT (id) DO NOTHING",
                (
                    e.originator_id,
                    e.org_id,
                    e.integration_type,
                    status,
                    e.triggered_by,
                    e.timestamp,
                    e.scheduled_for,
                    e.drift_seconds,
                    e.drift_flagged,
                    e.originator_version,
                ),
            )
        ]

    @statements.register
    def _(self, e: SyncRun.Started) -> list[Statement]:
        return self._created(e, "running")

    @statements.register
    def _(self, e: SyncRun.ExportRunLinked) -> list[Statement]:  # type: ignore[name-defined]
        return [_update(e, "export_run_id = %(x)s", {"x": e.export_run_id})]

    @staticmethod
    def _ended(e: Any) -> list[Statement]:
        stmt = _update(
            e,
            "status = %(status)s, ended_at = %(at)s, records_processed = %(n)s, "
            "records_failed = %(f)s, error_message = %(message)s, "
            "duration_seconds = extract(epoch FROM %(at)s - started_at)::double precision",
            {
                "status": e.final_status.value,
                "at": e.timestamp,
                "n": e.records_processed,
                "f": e.records_failed,
                "message": e.error_message,
            },
        )
        archive_sql, _ = _archive_ended("l.id = %(id)s")
        return [stmt, (archive_sql, {"id": e.originator_id})]

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
        archive_sql, _ = _archive_ended("l.org_id = %(org)s")
        return [
            (
                "INSERT INTO sync_run_log_cutoffs (org_id, cutoff) VALUES (%(org)s, %(at)s) "
                "ON CONFLICT (org_id) DO UPDATE SET cutoff = greatest("
                "sync_run_log_cutoffs.cutoff, EXCLUDED.cutoff)",
                {"org": e.org_id, "at": e.cutoff},
            ),
            (archive_sql, {"org": e.org_id}),
        ]


#: The entry of PROJECTIONS in infrastructure.projections.runner.
REGISTRATION = SyncRunLogProjection
