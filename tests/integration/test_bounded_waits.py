"""Every connection the service holds has bounded waits: a statement is cancelled by the server
after its limit, a pool wait ends in an error the API turns into 503 (never a hang)."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from application.ports import DatabaseUnavailable
from bootstrap import Services
from infrastructure.event_store import STATEMENT_TIMEOUT_SECONDS
from tests.integration.conftest import Tokens


def test_pooled_connections_carry_the_statement_timeout(services: Services) -> None:
    expected = f"{STATEMENT_TIMEOUT_SECONDS * 1000}ms"
    with services.pool.connection() as conn:
        row = conn.execute("SELECT current_setting('statement_timeout')").fetchone()
        assert row is not None and row[0] in (expected, f"{STATEMENT_TIMEOUT_SECONDS // 60}min")
        # The server enforces it: a statement over the limit (here lowered) is cancelled.
        conn.execute("SET statement_timeout = 50")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(2)")
        conn.rollback()
        conn.execute("RESET statement_timeout")
    datastore = services.event_log.recorder.datastore  # type: ignore[attr-defined]
    with datastore.get_connection() as conn:
        row = conn.execute("SELECT current_setting('statement_timeout')").fetchone()
        assert row is not None and row["current_setting"] in (
            expected, f"{STATEMENT_TIMEOUT_SECONDS // 60}min")


def test_an_exhausted_event_store_pool_answers_503_not_a_hang(
    services: Services, client: TestClient, org: Tokens
) -> None:
    """Every connection of the event store's pool held elsewhere: the wait runs out and the
    request answers 503 with Retry-After instead of retrying until the client gives up."""
    pool = services.event_log.recorder.datastore.pool  # type: ignore[attr-defined]
    held = []
    try:
        while True:
            try:
                held.append(pool.getconn(timeout=0.5))
            except DatabaseUnavailable:
                break
        assert held
        answer = client.get(f"/v1/orgs/{org.org_id}/export-runs/{org.org_id}",
                            headers=org.header())
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "5"
        assert answer.json() == {"detail": "the database is unavailable; retry later",
                                 "retry_after": 5}
    finally:
        for conn in held:
            pool.putconn(conn)
