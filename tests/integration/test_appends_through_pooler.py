"""Appends through PgBouncer in transaction mode, where each transaction may run on another
server connection: what one client prepared is another's, or missing. Every append still
lands exactly once (the connection falls back to sending its statements as text), and the
guards still refuse.

Runs a real PgBouncer on 127.0.0.1 when the binary is installed (Debian package `pgbouncer`).
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from application.ports import Job, PeriodTaken
from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from infrastructure.event_store import PostgresEventStore, open_event_log
from tests.integration.test_analytics_pooler import bouncer, login_role, start, verifier

__all__ = ["bouncer"]

pytestmark = pytest.mark.skipif(shutil.which("pgbouncer") is None, reason="pgbouncer not installed")
JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31))
PASSWORD = "appender-secret-1"


def request(org_id: object) -> ExportRun:
    return ExportRun.request(org_id, JANUARY, ExportTarget.XLEDGER,  # type: ignore[arg-type]
                             Actor("u", org_id, "c"))  # type: ignore[arg-type]


def test_appends_through_a_transaction_pooler_land_once_and_guards_hold(
        db_url: str, bouncer: tuple[Path, int]) -> None:
    with login_role(db_url, "appender", PASSWORD) as role:
        _appends_through_the_pooler(db_url, bouncer, role)
    with psycopg.connect(db_url) as conn:
        events = conn.execute("SELECT originator_id, count(*) FROM export_service_events "
                              "GROUP BY 1 HAVING count(*) > 1").fetchall()
        jobs = conn.execute("SELECT count(*), count(DISTINCT args ->> 'run_id') "
                            "FROM procrastinate_jobs").fetchone()
    assert events == []  # each once
    assert jobs == (60, 60)


def _appends_through_the_pooler(db_url: str, bouncer: tuple[Path, int], role: str) -> None:
    tmp, port = bouncer
    proc = start(tmp, port, db_url, {role: verifier(db_url, role)}, role)
    log: Any = None
    try:  # the pooler is stopped whatever happens (it is a process of its own)
        log = open_event_log(f"postgresql://{role}:{PASSWORD}@127.0.0.1:{port}/analytics",
                             pool_size=4)
        store = PostgresEventStore(log)
        runs = [request(uuid4()) for _ in range(60)]

        def save(run: ExportRun) -> int | None:
            return store.save(run, jobs=[Job("execute_export_run", {"run_id": str(run.id)})])

        with ThreadPoolExecutor(6) as pool:
            positions = list(pool.map(save, runs))
        assert all(isinstance(p, int) for p in positions)
        org = uuid4()
        store.save(request(org))
        with pytest.raises(PeriodTaken):
            store.save(request(org))
    finally:
        if log is not None:
            log.close()
        proc.terminate()
        proc.wait(timeout=10)
