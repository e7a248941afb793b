"""After an outage longer than a few seconds, the first request once the server is back gets a
connection within its wait. The pools retry a lost server with a growing delay (1, 2, 4, 8 s…);
left to grow over a 12 s outage, the next try came up to 16 s after the server was back, and
every request until then answered 503 while /readyz (which connects on its own) said ready."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from uuid import uuid4

import pytest

from bootstrap import Database
from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from infrastructure.migrations import migrate
from tests.e2e.conftest import free_port
from tests.e2e.throwaway_pg import create_cluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

OUTAGE_SECONDS = 12


def request() -> ExportRun:
    org = uuid4()
    return ExportRun.request(org, Period(date(2025, 1, 1), date(2025, 1, 31)),
                             ExportTarget.XLEDGER, Actor("u", org, "c"))


def query(database: Database) -> None:
    with database.pool.connection() as conn:
        conn.execute("SELECT 1")


def test_both_pools_serve_the_first_requests_after_a_long_outage(tmp_path: Path) -> None:
    cluster = create_cluster(tmp_path, free_port())
    database: Database | None = None
    try:
        migrate(cluster.url)
        database = Database.open(cluster.url, pool_size=2)
        database.store.save(request())
        cluster.kill()
        until = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < until:  # requests keep coming, and fail, during the outage
            for attempt in (lambda: database.store.save(request()), lambda: query(database)):
                try:
                    attempt()
                except Exception:  # noqa: S112 - refused while the server is gone
                    continue
            time.sleep(0.5)
        cluster.start()
        started = time.monotonic()
        database.store.save(request())  # the pools' own waits: no retry loop of ours
        query(database)
        assert time.monotonic() - started < 5
    finally:
        if database is not None:
            database.close()
        cluster.stop()
