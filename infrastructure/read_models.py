"""Queries of the read models the API lists from (the projections write them)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

EXPORT_RUNS = """
SELECT run_id, org_id, period_start, period_end, target, status, record_count, file, error,
       created_at, completed_at, version
FROM export_runs WHERE org_id = %(org_id)s AND (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY created_at DESC, run_id DESC LIMIT %(limit)s
"""

BUFDIR_EXPORTS = """
SELECT export_id, status, row_count, file_size_bytes, file, error_message, status_history,
       period_start, period_end, format, include_attachments, config_version, created_at,
       summary
FROM bufdir_audit_log
WHERE org_id = %(org_id)s AND (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY created_at DESC, export_id DESC LIMIT %(limit)s
"""


class ReadModels:
    """Newest first, one organisation at a time; index-driven (org_id, created_at DESC)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def _rows(self, sql: str, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, {"org_id": org_id, "status": status, "limit": limit})
            return cur.fetchall()

    def export_runs(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        return self._rows(EXPORT_RUNS, org_id, status, limit)

    def bufdir_exports(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        return self._rows(BUFDIR_EXPORTS, org_id, status, limit)
