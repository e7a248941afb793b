"""Two organisations' rows in every read model behind the analytics views, and analysts' logins.

Roles are cluster-wide (the PostgreSQL 15 run shares one server between workers): every role has
a unique name and is revoked and dropped when the test ends.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from infrastructure.analytics import create_analytics_role


def seed_org(db_url: str, org_id: UUID, runs: int = 1) -> None:
    """`runs` completed export runs with one exported claim each, a recent and an archived sync
    run, and a Bufdir export: one row or more in every analytics view."""
    with psycopg.connect(db_url) as conn:
        for i in range(runs):
            run_id, claim_id = uuid4(), uuid4()
            conn.execute(
                "INSERT INTO export_runs (run_id, org_id, period_start, period_end, target, "
                "status, record_count, file, created_at, completed_at, version) VALUES "
                "(%s, %s, '2024-05-01', '2024-05-31', 'xledger', 'completed', 1, "
                "'{\"sha256\": \"ab\", \"size_bytes\": 10}', now(), now(), 3)",
                (run_id, org_id),
            )
            conn.execute(
                "INSERT INTO claims (org_id, id, claimant_id, expense_date, approved_at, "
                "category, amount, currency, description) VALUES (%s, %s, 'frivillig-1', "
                "'2024-05-02', '2024-05-03T10:00:00+02:00', %s, 120.50, 'NOK', 'Tog')",
                (org_id, claim_id, "reise" if i % 2 == 0 else "hotell"),
            )
            conn.execute(
                "INSERT INTO claim_reservations (org_id, claim_id, run_id) VALUES (%s, %s, %s)",
                (org_id, claim_id, run_id),
            )
        for table in ("sync_run_log", "sync_run_log_archive"):
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (id, org_id, integration_type, status, triggered_by, "
                    "started_at, version) VALUES (%s, %s, 'xledger', 'failed', 'manual', now(), 1)"
                ).format(sql.Identifier(table)),
                (uuid4(), org_id),
            )
        conn.execute(
            "INSERT INTO bufdir_audit_log (export_id, org_id, period_start, period_end, format, "
            "include_attachments, config_version, status, created_at, updated_at, version) "
            "VALUES (%s, %s, '2024-01-01', '2024-12-31', 'csv', false, 1, 'completed', now(), "
            "now(), 1)",
            (uuid4(), org_id),
        )


def analytics_views(db_url: str) -> list[str]:
    """Every relation in schema analytics, as the database holds them (not a list of ours)."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'analytics' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1"
        ).fetchall()
    return [r[0] for r in rows]


class Analysts:
    """Makes analysts' login roles with unique names; forgets none of them."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.made: list[str] = []
        self.password = secrets.token_urlsafe(16)

    def name(self) -> str:
        role = f"an18_{uuid4().hex[:12]}"
        self.made.append(role)
        return role

    def login(self, org_id: UUID | None = None, all_organisations: bool = False) -> str:
        role = self.name()
        create_analytics_role(self.db_url, role, org_id=org_id,
                              all_organisations=all_organisations, password=self.password)
        return role

    def connect(self, role: str, **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(
            make_conninfo(self.db_url, user=role, password=self.password), **kwargs
        )

    def cleanup(self) -> None:
        """Privileges in this database and the roles themselves (the test server's superuser)."""
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            for role in self.made:
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                    conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                    conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def analysts(db_url: str) -> Iterator[Analysts]:
    made = Analysts(db_url)
    try:
        yield made
    finally:
        made.cleanup()
