"""SIGTERM and SIGINT stop `serve` and `worker` cleanly and the embedded PostgreSQL with them,
even when an earlier crash left a dead pid in its list of users; demo tokens stay out of logs."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import free_port, start_service
from tests.e2e.test_embedded_default import postgres_processes

JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def leave_a_stale_pid(pgdata: Path) -> int:
    """What a SIGKILLed earlier `serve` leaves behind: its pid, still listed as a user."""
    pid = dead_pid()
    handles = pgdata / ".handle_pids.json"
    handles.write_text(json.dumps([pid]))
    return pid


def env_without_database(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "TEST_DATABASE_URL", "EXPORT_SERVICE_JWT_SECRET")}
    env.update({"EXPORT_SERVICE_DATA_DIR": str(tmp / "data"), "PYTHONUNBUFFERED": "1", **extra})
    return env


@pytest.mark.slow
def test_sigterm_stops_serve_and_its_postgres_and_only_coordinator_tokens_are_printed(
    tmp_path: Path,
) -> None:
    service = start_service(tmp_path, {"EXPORT_SERVICE_JWT_SECRET": ""})
    pgdata = (tmp_path / "data" / "pg").resolve()
    try:
        log = service.log()
        assert postgres_processes(pgdata)
        printed = JWT.findall(log)
        assert len(printed) == 3  # one coordinator token per demo organisation
        assert not re.search(r"^\s+(admin|auditor|analyst|scheduler)\s+eyJ", log, re.M)
        token_file = tmp_path / "data" / "demo-tokens.txt"
        assert str(token_file.resolve()) in log
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert len(JWT.findall(token_file.read_text())) == 15
    finally:
        code = service.stop(signal.SIGTERM)
    assert code in (0, 130, -signal.SIGTERM) and code != -signal.SIGKILL
    assert postgres_processes(pgdata) == []
    assert "Traceback" not in service.log()

    # An explicit key: no token at all in the output; a stale pid does not keep PG running.
    leave_a_stale_pid(pgdata)
    explicit = start_service(tmp_path, {"EXPORT_SERVICE_JWT_SECRET": "k" * 48})
    try:
        assert JWT.findall(explicit.log()) == []
        assert "export-service token" in explicit.log()
    finally:
        explicit.stop(signal.SIGTERM)
    assert postgres_processes(pgdata) == []


@pytest.mark.slow
def test_sigint_stops_a_worker_and_its_postgres_despite_a_stale_pid(tmp_path: Path) -> None:
    first = start_service(tmp_path, {"EXPORT_SERVICE_JWT_SECRET": "k" * 48})
    first.stop(signal.SIGINT)
    pgdata = (tmp_path / "data" / "pg").resolve()
    assert postgres_processes(pgdata) == []
    stale = leave_a_stale_pid(pgdata)
    log_path = tmp_path / "worker.log"
    port = free_port()
    worker = subprocess.Popen(
        [sys.executable, "-c", "from interfaces.cli import main; main()", "worker",
         "--health-port", str(port)],
        env=env_without_database(tmp_path), stdout=log_path.open("w"), stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while "Starting worker" not in log_path.read_text() and time.monotonic() < deadline:
            assert worker.poll() is None, log_path.read_text()[-3000:]
            time.sleep(0.2)
        assert postgres_processes(pgdata)
        # A worker alone has its own health and metrics.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert ready.json() == {"status": "ready", "reason": "ok"}
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "export_service_worker_restarts_total" in metrics
        assert stale not in json.loads((pgdata / ".handle_pids.json").read_text())
        worker.send_signal(signal.SIGINT)
        worker.wait(60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert "Stopped worker" in log_path.read_text()
    assert postgres_processes(pgdata) == []
