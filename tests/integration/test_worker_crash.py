"""A worker killed mid-run leaves a run that the next worker finishes: never stuck, never twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest

from application.ports import ClaimRecord
from bootstrap import Services
from domain.export_run import ExportRunStatus, ExportTarget
from domain.shared import Actor, Period
from interfaces.demo import ORGS, demo_settings
from tests.integration.conftest import CREDENTIALS_KEY, SECRET

CLAIMS = 20_000

pytestmark = pytest.mark.slow


def worker(db_url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "EXPORT_SERVICE_DATA_DIR": str(data_dir),
        "EXPORT_SERVICE_JWT_SECRET": SECRET,
        "EXPORT_SERVICE_CREDENTIALS_KEY": CREDENTIALS_KEY,
        "EXPORT_SERVICE_STALLED_JOB_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from interfaces.cli import main; main()", "worker"],
        env=env, stdout=subprocess.DEVNULL, stderr=(data_dir / "worker.log").open("ab"),
    )


def status(services: Services, run_id: UUID) -> ExportRunStatus:
    return services.store.get(run_id).status  # type: ignore[no-any-return]


def wait_for(predicate: object, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return False


def test_killed_worker_run_is_finished_by_the_next_worker(
    services: Services, db_url: str, tmp_path: Path
) -> None:
    org_id = uuid4()
    actor = Actor("coordinator", org_id, "crash-test")
    services.accounting_settings.configure(org_id, demo_settings(ORGS[0]), actor)
    approved = datetime(2025, 1, 15, 10, tzinfo=UTC)
    services.claims.upsert(org_id, [
        ClaimRecord(uuid4(), f"v-{i % 50}", date(2025, 1, 14), approved + timedelta(seconds=i),
                    "reise", f"{100 + i % 900}.50", "NOK", f"Reise {i}")
        for i in range(CLAIMS)
    ])
    # The run's Completed append waits while this transaction holds the covered periods, so
    # the worker is killed after its take was recorded (the run holds its claims) and before
    # the run ended. (The take writes no covered period; it would not wait.)
    with psycopg.connect(db_url) as blocker:
        blocker.execute("LOCK TABLE covered_periods IN EXCLUSIVE MODE")
        killed_run: UUID = services.export_runs.request_export(
            org_id, Period(date(2025, 1, 1), date(2025, 1, 28)), ExportTarget.XLEDGER, actor
        )
        first = worker(db_url, tmp_path)
        try:
            running = wait_for(lambda: status(services, killed_run) is ExportRunStatus.RUNNING, 30)
            assert running, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.5)  # its file written, its Completed append waiting
            first.send_signal(signal.SIGKILL)
        finally:
            if first.poll() is None:
                first.kill()
            first.wait(10)
        # The dead worker's append was sent whole (COMMIT included): end it on the server too.
        blocker.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = "
            "'Lock' AND datname = current_database() AND pid <> pg_backend_pid()"
        )
        blocker.rollback()
    assert status(services, killed_run) is ExportRunStatus.RUNNING
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT status FROM procrastinate_jobs WHERE args ->> 'run_id' = %s", (str(killed_run),)
        ).fetchone() == ("doing",)
    time.sleep(1.5)  # the dead worker's heartbeat goes stale
    second = worker(db_url, tmp_path)
    try:
        assert wait_for(lambda: status(services, killed_run) is ExportRunStatus.COMPLETED, 90, 0.2)
    finally:
        second.terminate()
        second.wait(20)
    run = services.store.get(killed_run)
    history = [e.type for e in services.store.history(killed_run)]
    assert history == ["Requested", "Started", *["ClaimsTaken"] * 4, "Completed"]
    assert run.record_count == CLAIMS
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT count(*), count(DISTINCT claim_id) FROM claim_reservations WHERE run_id = %s",
            (killed_run,),
        ).fetchone() == (CLAIMS, CLAIMS)
    assert services.files.exists(run.file["path"])
