"""The example queries of docs/audit-and-analytics.md run, as the analysts' role, on every view."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
from fastapi.testclient import TestClient
from psycopg import sql

from bootstrap import Services
from infrastructure.analytics import create_analytics_role, drop_analytics_role
from tests.integration.conftest import Tokens
from tests.integration.history_helpers import seed_all
from tests.integration.projection_helpers import catch_up

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit-and-analytics.md"


def doc_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def as_role(db_url: str, role: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        return conn.execute(query).fetchall()


def test_documented_queries_answer_as_the_analytics_role(
    client: TestClient, services: Services, db_url: str, org: Tokens
) -> None:
    seed_all(client, services, org)
    catch_up(services)
    role = f"analytics_doc_{uuid4().hex[:8]}"
    create_analytics_role(db_url, role)
    try:
        queries = doc_queries()
        assert len(queries) == 4
        runs_per_month, per_category, sync_failures, bufdir = (
            as_role(db_url, role, q) for q in queries
        )
        assert {(r[1], r[2]) for r in runs_per_month} == {("completed", 1), ("failed", 1)}
        assert [(r[0], r[2]) for r in per_category] == [("reise", 2)]
        rates = {r[0]: (r[1], r[2], float(r[3])) for r in sync_failures}
        assert rates == {"dynamics": (1, 1, 1.0), "xledger": (0, 1, 0.0)}
        assert sorted((r[1], r[2]) for r in bufdir) == [("completed", 1), ("completed_empty", 1)]
        with psycopg.connect(db_url) as conn:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            try:
                conn.execute("SELECT count(*) FROM public.sync_run_log")
                raise AssertionError("the analytics role read a table of the service")
            except psycopg.errors.InsufficientPrivilege:
                pass
    finally:
        drop_analytics_role(db_url, role)
