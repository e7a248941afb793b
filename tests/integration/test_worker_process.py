"""`export-service worker` as its own process: `--concurrency N` jobs at once, and JSON log lines
that carry the correlation id of the request that queued each job."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bootstrap import Services
from domain.export_run import ExportRunStatus, ExportTarget
from domain.shared import Actor, Period
from infrastructure.logs import FIELDS
from tests.integration.conftest import CREDENTIALS_KEY, SECRET

pytestmark = pytest.mark.slow

JOBS = "SELECT status, count(*) FROM procrastinate_jobs WHERE task_name = 'execute_export_run' GROUP BY 1"


def start_worker(db_url: str, tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "EXPORT_SERVICE_DATA_DIR": str(tmp_path),
        "EXPORT_SERVICE_JWT_SECRET": SECRET,
        "EXPORT_SERVICE_CREDENTIALS_KEY": CREDENTIALS_KEY,
        "LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from interfaces.cli import main; main()", "worker", *args],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )
    return process, log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def metric(text: str, name: str, /, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def job_counts(db_url: str) -> dict[str, int]:
    with psycopg.connect(db_url) as conn:
        return {status: count for status, count in conn.execute(JOBS)}


def test_worker_runs_as_many_jobs_at_once_as_its_concurrency_and_logs_their_correlation(
    services: Services, db_url: str, tmp_path: Path
) -> None:
    runs: dict[UUID, str] = {}
    for i in range(5):
        org_id, correlation = uuid4(), f"req-{i}-{uuid4().hex[:8]}"
        run_id = services.export_runs.request_export(
            org_id, Period(date(2025, 1, 1), date(2025, 1, 31)), ExportTarget.XLEDGER,
            Actor("kari", org_id, correlation),
        )
        runs[run_id] = correlation
    # Every run reads the claims table first: while it is locked, each job taken stays "doing".
    blocker = psycopg.connect(db_url)
    blocker.execute("LOCK TABLE claims IN ACCESS EXCLUSIVE MODE")
    port = free_port()
    worker, log = start_worker(db_url, tmp_path, "--concurrency", "3", "--health-port", str(port))
    try:
        assert wait_for(lambda: job_counts(db_url).get("doing") == 3, 60), job_counts(db_url)
        time.sleep(1.5)  # long enough for a fourth job to be taken if the limit were not 3
        assert job_counts(db_url) == {"doing": 3, "todo": 2}
        # The worker alone answers for itself on its own port, with the queue as it is now.
        health = f"http://127.0.0.1:{port}"
        assert httpx.get(health + "/healthz", timeout=10).json() == {"status": "ok"}
        assert httpx.get(health + "/readyz", timeout=10).json() == {"status": "ready",
                                                                    "reason": "ok"}
        text = httpx.get(health + "/metrics", timeout=10).text
        queued = {status: metric(text, "export_service_queue_jobs", task="execute_export_run",
                                 status=status) for status in ("doing", "todo")}
        assert queued == {"doing": 3, "todo": 2}
        assert (metric(text, "export_service_queue_oldest_job_age_seconds") or 0) >= 1.5
        assert metric(text, "export_service_worker_restarts_total") == 0
        blocker.rollback()

        def all_ended() -> bool:
            return all(services.store.get(r).status in (ExportRunStatus.COMPLETED,
                                                        ExportRunStatus.FAILED) for r in runs)

        assert wait_for(all_ended, 60)
        assert wait_for(lambda: job_counts(db_url) == {"succeeded": 5}, 30), job_counts(db_url)
        text = httpx.get(health + "/metrics", timeout=10).text
        finished = sum(metric(text, "export_service_export_runs_finished_total", status=status)
                       or 0 for status in ("completed", "failed"))
        assert finished == 5  # run outcomes counted by the process that ran them
    finally:
        blocker.close()
        worker.terminate()
        worker.wait(30)

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert lines and all(list(line)[: len(FIELDS)] == list(FIELDS) for line in lines)
    for run_id, correlation in runs.items():
        mine = [line for line in lines if line["correlation_id"] == correlation]
        events = {line["event"] for line in mine}
        assert {"job started", "job finished"} <= events, (run_id, mine)
        assert {line["run_id"] for line in mine} == {str(run_id)}
        org_id = str(services.store.get(run_id).org_id)
        assert {line["org_id"] for line in mine} == {org_id}
        # ... and the events the worker appended carry it too.
        history = services.store.history(run_id)
        assert len(history) >= 3 and {e.actor["correlation_id"] for e in history} == {correlation}
    assert "Traceback" not in log.read_text()


def registered_workers(db_url: str) -> list[int]:
    """The workers registered in the queue's table (each start of a worker registers anew)."""
    with psycopg.connect(db_url) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM procrastinate_workers ORDER BY id")]


def test_a_worker_over_its_memory_limit_finishes_its_job_then_starts_afresh(
    services: Services, db_url: str, tmp_path: Path
) -> None:
    def request() -> UUID:
        org_id = uuid4()
        return services.export_runs.request_export(
            org_id, Period(date(2025, 1, 1), date(2025, 1, 31)), ExportTarget.XLEDGER,
            Actor("kari", org_id, f"req-{uuid4().hex[:8]}"))

    # Every worker holds more than 1 MB: it starts afresh after each job.
    worker, log = start_worker(db_url, tmp_path, "--memory-limit-mb", "1")
    try:
        assert wait_for(lambda: len(registered_workers(db_url)) == 1, 60), log.read_text()
        before = registered_workers(db_url)
        first = request()
        assert wait_for(lambda: job_counts(db_url) == {"succeeded": 1}, 60), job_counts(db_url)
        # The same process (a supervisor sees no exit) registers as a new worker.
        assert wait_for(lambda: registered_workers(db_url) not in ([], before), 60), log.read_text()
        assert worker.poll() is None
        second = request()
        assert wait_for(lambda: job_counts(db_url) == {"succeeded": 2}, 60), job_counts(db_url)
        assert wait_for(lambda: log.read_text().count("restarting afresh") == 2, 60)
        after = registered_workers(db_url)
        assert wait_for(lambda: registered_workers(db_url) not in ([], after), 60)
        assert worker.poll() is None
    finally:
        worker.terminate()
        worker.wait(30)
    assert worker.returncode == 0  # SIGTERM still stops it, gracefully
    for run_id in (first, second):  # ended (no accounting settings here: failed), once
        assert services.store.get(run_id).status in (ExportRunStatus.COMPLETED,
                                                      ExportRunStatus.FAILED)
    with psycopg.connect(db_url) as conn:  # each job ran once, none was cut short
        assert conn.execute("SELECT attempts FROM procrastinate_jobs WHERE task_name = "
                            "'execute_export_run'").fetchall() == [(1,), (1,)]
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    restarts = [line for line in lines if line["event"].startswith("worker restarting afresh")]
    assert len(restarts) == 2
    assert all(r["limit_mb"] == 1 and r["resident_mb"] > 1 and r["peak_mb"] >= r["resident_mb"]
               and r["jobs_running"] == 0 for r in restarts)
    assert "Traceback" not in log.read_text()
