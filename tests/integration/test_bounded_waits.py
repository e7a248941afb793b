"""Every connection the service holds has bounded waits: a statement is cancelled by the server
after its limit, a pool wait ends in an error the API turns into 503 (never a hang)."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from application.ports import DatabaseUnavailable, Job
from bootstrap import Services
from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from infrastructure.event_store import (
    STATEMENT_TIMEOUT_SECONDS,
    PostgresEventStore,
    open_event_log,
)
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


def test_an_append_waits_for_a_lock_no_longer_than_its_sessions_lock_timeout(
    services: Services, db_url: str
) -> None:
    """The event store's sessions carry the lock timeout (set once per connection, not sent
    with each append): an append that meets the events table locked longer than that fails
    at the server, is tried again a bounded number of times, and leaves nothing behind."""
    datastore = services.event_log.recorder.datastore  # type: ignore[attr-defined]
    with datastore.get_connection() as conn:
        row = conn.execute("SELECT current_setting('lock_timeout')").fetchone()
        assert row is not None and row["current_setting"] == "10s"
    log = open_event_log(db_url, pool_size=2)
    log.recorder.datastore.pool.lock_timeout_ms = 200  # type: ignore[attr-defined]
    store = PostgresEventStore(log)
    org_id = uuid4()
    run = ExportRun.request(org_id, Period(date(2025, 1, 1), date(2025, 1, 31)),
                            ExportTarget.XLEDGER, Actor("u", org_id, "c"))
    try:
        with psycopg.connect(db_url) as holder:
            holder.execute("LOCK TABLE export_service_events IN EXCLUSIVE MODE")
            with pytest.raises(OperationalError) as failed:
                store.save(run, jobs=[Job("execute_export_run", {"run_id": str(run.id)})])
            holder.rollback()
        assert isinstance(failed.value.__cause__, psycopg.errors.LockNotAvailable)
    finally:
        log.close()
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT (SELECT count(*) FROM export_service_events WHERE originator_id = %(id)s),"
            " (SELECT count(*) FROM export_run_periods WHERE run_id = %(id)s),"
            " (SELECT count(*) FROM procrastinate_jobs WHERE args->>'run_id' = %(text)s)",
            {"id": run.id, "text": str(run.id)}).fetchone()
    assert stored == (0, 0, 0)
