"""Queries of the read models the API lists from (the projections write them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from application.ports import CurrentRow
from infrastructure.sql import queries

SQL = queries("read_models")


@contextmanager
def single_query(pool: ConnectionPool) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection in autocommit for one read query: one round trip, no BEGIN and
    COMMIT around it (and no extra pool: connections are counted per process)."""
    with pool.connection() as conn:
        conn.autocommit = True
        try:
            yield conn
        finally:
            if not conn.closed:
                conn.autocommit = False


class ReadModels:
    """Newest first, one organisation at a time; index-driven (org_id, created_at DESC)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def _rows(self, name: str, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        with single_query(self.pool) as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(SQL[name], {"org_id": org_id, "status": status, "limit": limit})
            return cur.fetchall()

    def export_runs(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        return self._rows("export_runs", org_id, status, limit)

    def export_run(self, org_id: UUID, run_id: UUID) -> CurrentRow:
        with single_query(self.pool) as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(SQL["export_run"], {"org_id": org_id, "run_id": run_id})
            found = cur.fetchone()
        if found is None:
            return CurrentRow(None, 0, 0)
        version, position = found.pop("log_version"), found.pop("log_position")
        return CurrentRow(found if found["run_id"] is not None else None, version, position)

    def bufdir_exports(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        return self._rows("bufdir_exports", org_id, status, limit)
