"""The example queries of docs/audit-and-analytics.md run, as the analysts' role, on every view."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient

from bootstrap import Services
from tests.integration.analytics_helpers import Analysts, analysts
from tests.integration.conftest import Tokens
from tests.integration.history_helpers import seed_all
from tests.integration.projection_helpers import catch_up

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit-and-analytics.md"


def doc_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


__all__ = ["analysts"]


def as_role(analysts: Analysts, role: str, query: str) -> list[tuple[Any, ...]]:
    with analysts.connect(role) as conn:
        return conn.execute(query).fetchall()


def test_documented_queries_answer_as_the_analytics_role(
    client: TestClient, services: Services, db_url: str, org: Tokens, analysts: Analysts
) -> None:
    seed_all(client, services, org)
    seed_all(client, services, Tokens(uuid4()))  # another organisation: never in the answers
    catch_up(services)
    role = analysts.login(org_id=org.org_id)
    queries = doc_queries()
    assert len(queries) == 4
    runs_per_month, per_category, sync_failures, bufdir = (
        as_role(analysts, role, q) for q in queries
    )
    assert {(r[1], r[2]) for r in runs_per_month} == {("completed", 1), ("failed", 1)}
    assert [(r[0], r[2]) for r in per_category] == [("reise", 2)]
    rates = {r[0]: (r[1], r[2], float(r[3])) for r in sync_failures}
    assert rates == {"dynamics": (1, 1, 1.0), "xledger": (0, 1, 0.0)}
    assert [(r[0], r[1]) for r in bufdir] == [("completed", 1), ("completed_empty", 1)]
    with analysts.connect(role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM public.sync_run_log")
