"""With DATABASE_URL unset the service runs its own PostgreSQL, loads demo data once, stops clean."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from interfaces.demo import ORGS, last_closed_month
from tests.e2e.conftest import start_service


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        if p.info["name"] == "postgres" and str(data_dir) in " ".join(p.info["cmdline"] or []):
            found.append(p)
    return found


def test_embedded_server_demo_data_tokens_and_clean_stop(tmp_path: Path) -> None:
    first = start_service(tmp_path, {})
    try:
        log = first.log()
        assert f"{first.base_url}/docs" in log.replace("127.0.0.1", "127.0.0.1")
        tokens = re.findall(r"^\s+coordinator\s+(\S+)$", log, re.M)
        assert len(tokens) == len(ORGS)
        org = ORGS[0].org_id
        r = httpx.get(f"{first.base_url}/v1/orgs/{org}/accounting-settings",
                      headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=10)
        assert r.status_code == 200 and r.json()["version"] == 1
        runs: list[dict[str, object]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # serve's own worker carries out last month's run
            runs = httpx.get(f"{first.base_url}/v1/orgs/{org}/export-runs",
                             headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=10).json()
            if runs and runs[0]["status"] == "completed":
                break
            time.sleep(0.2)
        assert [(r["status"], r["period_end"]) for r in runs] == [
            ("completed", str(last_closed_month(datetime.now(UTC).date()).end))]
    finally:
        assert first.stop() in (0, -2, 130)
    data = (tmp_path / "data" / "pg").resolve()
    assert (data / "PG_VERSION").exists()
    assert postgres_processes(data) == []  # stopped cleanly on exit
    second = start_service(tmp_path, {})  # reuses the same cluster; demo data is not loaded again
    try:
        assert "Loaded demo data" in first.log()
        assert "Demo data was loaded on an earlier start" in second.log()
        token = re.findall(r"^\s+coordinator\s+(\S+)$", first.log(), re.M)[0]
        r = httpx.get(f"{second.base_url}/v1/orgs/{ORGS[0].org_id}/accounting-settings",
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.json()["version"] == 1  # the secret kept in the data directory still signs tokens
    finally:
        second.stop()
    assert postgres_processes(data) == []
