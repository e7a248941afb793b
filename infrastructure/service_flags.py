"""The ServiceFlags port on the `service_flags` table."""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from infrastructure.sql import queries

SQL = queries("service_flags")


class PostgresServiceFlags:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def is_set(self, name: str) -> bool:
        with self.pool.connection() as conn:
            return conn.execute(SQL["is_set"], {"name": name}).fetchone() is not None

    def set(self, name: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(SQL["set"], {"name": name})
