"""Helpers of the projection tests: catch up, dump read models, a runner in another process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg

from bootstrap import Services
from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from infrastructure.event_store import APP_NAME
from infrastructure.projections.runner import PROJECTIONS, ProjectionSupervisor, lags

ROOT = Path(__file__).resolve().parents[2]

RUNNER_SCRIPT = """
import os, time
from infrastructure.database import eventsourcing_env
from infrastructure.projections.runner import ProjectionSupervisor
env = eventsourcing_env(os.environ["DATABASE_URL"])
supervisor = ProjectionSupervisor(env, ["export_runs", "audit_chain"])
supervisor.start()
time.sleep(600)
"""


def positions(db_url: str) -> dict[str, tuple[int, int]]:
    with psycopg.connect(db_url) as conn:
        return {lag.name: (lag.position, lag.head) for lag in lags(conn)}


def wait_caught_up(db_url: str, names: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        now = positions(db_url)
        if all(now[n][0] == now[n][1] for n in names):
            return
        assert time.monotonic() < deadline, f"projections did not catch up: {now}"
        time.sleep(0.05)


def catch_up(services: Services) -> None:
    """Run every projection live (as `serve` does) until each has processed the whole log."""
    supervisor = ProjectionSupervisor(services.env)
    supervisor.start()
    try:
        wait_caught_up(services.database_url, list(PROJECTIONS))
    finally:
        supervisor.stop()


def tables_of_projections() -> list[str]:
    """Every projection table; the append-only audit chain is compared too (rebuild keeps it)."""
    tables = [t for model in PROJECTIONS.values() for t in model.tables]
    return [*tables, "audit_chain"]


def dump(db_url: str) -> dict[str, list[str]]:
    """Each table's rows as canonical JSON text, in a total order; and each tracked position."""
    out: dict[str, list[str]] = {}
    with psycopg.connect(db_url) as conn:
        for table in tables_of_projections():
            rows = conn.execute(
                f"SELECT to_jsonb(t)::text FROM {table} t ORDER BY 1"
            ).fetchall()
            out[table] = [r[0] for r in rows]
    out["positions"] = [f"{k}={v}" for k, v in sorted(positions(db_url).items())]
    return out


def append_runs(services: Services, count: int, batch: int = 10) -> int:
    """`count` export runs of their own organisations, each requested, started and completed
    (three events), saved `batch` aggregates per append. Returns the number of events added."""
    period = Period(date(2025, 1, 1), date(2025, 1, 31))
    for start in range(0, count, batch):
        runs = []
        for _ in range(min(batch, count - start)):
            actor = Actor("loader", uuid4(), "bulk")
            run = ExportRun.request(actor.org_id, period, ExportTarget.XLEDGER, actor)
            run.start([], actor)
            run.complete({"path": f"exports/{run.id}.csv", "size_bytes": 1, "sha256": "0"}, actor)
            runs.append(run)
        services.store.save(*runs)
    return count * 3


def start_runner_process(db_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER_SCRIPT], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def chained_ids(db_url: str) -> list[int]:
    """The notification ids the audit chain has linked, in order (each at most once: UNIQUE)."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT notification_id FROM audit_chain ORDER BY 1").fetchall()
    return [int(r[0]) for r in rows]


def tracked_position(db_url: str, projection: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            f"SELECT max(notification_id) FROM {projection}_tracking "
            "WHERE application_name = %s",
            (APP_NAME,),
        ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def scalar(db_url: str, query: str, *params: Any) -> Any:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(query, params).fetchone()
    return row[0] if row else None
