"""Behind PgBouncer, which refuses the `options` startup parameter the service asks for its
statement timeout with: every pool still connects (without it, said once in the log), so
readiness, reads and appends beyond the event log's first connections all work.

Runs a real PgBouncer on 127.0.0.1 when the binary is installed (Debian package `pgbouncer`).
"""

from __future__ import annotations

import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from application.ports import Job
from bootstrap import Database
from infrastructure import database as database_module
from infrastructure.availability import readiness_of
from infrastructure.database import SessionOptionsOptional
from tests.integration.test_analytics_pooler import bouncer, login_role, start, verifier
from tests.integration.test_appends_through_pooler import request

__all__ = ["bouncer"]

pytestmark = pytest.mark.skipif(shutil.which("pgbouncer") is None, reason="pgbouncer not installed")
PASSWORD = "pooled-secret-1"


def test_pools_connect_through_a_pooler_that_refuses_session_options(
        db_url: str, bouncer: tuple[Path, int], caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database_module, "_options_refused", [])  # not yet said in this process
    with login_role(db_url, "pooled", PASSWORD) as role:
        tmp, port = bouncer
        proc = start(tmp, port, db_url, {role: verifier(db_url, role)}, role)
        url = f"postgresql://{role}:{PASSWORD}@127.0.0.1:{port}/analytics"
        database: Any = None
        try:
            with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
                psycopg.connect(url, options="-c statement_timeout=1000").close()  # what it does
            caplog.set_level(logging.WARNING, logger="infrastructure.database")

            assert readiness_of(url)() == (True, "ok")
            database = Database.open(url, pool_size=1)
            with database.pool.connection() as conn:
                assert conn.execute("SELECT 1").fetchone() is not None
            runs = [request(uuid4()) for _ in range(24)]

            def save(run: Any) -> int | None:  # more at once than the event log's first connection
                return database.store.save(run, jobs=[Job("execute_export_run",
                                                          {"run_id": str(run.id)})])

            with ThreadPoolExecutor(8) as pool:
                positions = list(pool.map(save, runs))
            assert all(isinstance(p, int) for p in positions)
            event_pool = database.event_log.recorder.datastore.pool
            held = [event_pool.getconn() for _ in range(event_pool.max_size)]  # new ones made now
            try:
                assert all(c.execute("SELECT 1").fetchone() is not None for c in held)
            finally:
                for c in held:
                    event_pool.putconn(c)
            assert database.store.get(runs[0].id).id == runs[0].id
        finally:
            if database is not None:
                database.close()
            proc.terminate()
            proc.wait(timeout=10)
    said = [r for r in caplog.records if "refuses session options" in r.getMessage()]
    assert len(said) == 1  # once, however many connections went without them


def test_other_connection_failures_are_not_retried_without_options(db_url: str) -> None:
    wrong = db_url.replace("://", "://nobody-here@", 1) if "@" not in db_url else (
        db_url.split("://", 1)[0] + "://nobody-here@" + db_url.split("@", 1)[1])
    with pytest.raises(psycopg.OperationalError) as refused:
        SessionOptionsOptional.connect(wrong, options="-c statement_timeout=1000",
                                       connect_timeout=3)
    assert "unsupported startup parameter" not in str(refused.value)
    with SessionOptionsOptional.connect(db_url, options="-c statement_timeout=1234") as conn:
        row = conn.execute("SHOW statement_timeout").fetchone()
    assert row is not None and row[0] == "1234ms"  # kept where the server takes them
