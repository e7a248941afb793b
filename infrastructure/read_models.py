"""Queries of the read models the API lists from (the projections write them)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from infrastructure.sql import queries

SQL = queries("read_models")


class ReadModels:
    """Newest first, one organisation at a time; index-driven (org_id, created_at DESC)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def _rows(self, name: str, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(SQL[name], {"org_id": org_id, "status": status, "limit": limit})
            return cur.fetchall()

    def export_runs(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        return self._rows("export_runs", org_id, status, limit)

    def bufdir_exports(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        return self._rows("bufdir_exports", org_id, status, limit)
