"""What the PostgreSQL-kill test needs beside the service: a worker process started alone, an
organisation to drive through the API, requests a client gives up on, and metric readings."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from prometheus_client.parser import text_string_to_metric_families

from interfaces.http.auth import Role, mint
from tests.e2e.conftest import SECRET
from tests.integration.conftest import claim_json


def auth(org_id: UUID, role: Role = Role.COORDINATOR) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint(SECRET, "e2e-user", org_id, role)}


def metric(text: str, name: str, /, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def next_slot(margin: float) -> datetime:
    """The first whole minute at least `margin` seconds from now (UTC)."""
    soon = datetime.now(UTC) + timedelta(seconds=margin)
    return soon.replace(second=0, microsecond=0) + timedelta(minutes=1)


def previous_month(moment: datetime) -> tuple[date, date]:
    end = moment.date().replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


@dataclass
class StandaloneWorker:
    """`export-service worker --health-port P`: its own /healthz, /readyz and /metrics."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @classmethod
    def start(cls, tmp: Path, env: dict[str, str], port: int) -> StandaloneWorker:
        log_path = tmp / "worker-alone.log"
        process = subprocess.Popen(
            [sys.executable, "-c", "from interfaces.cli import main; main()", "worker",
             "--concurrency", "2", "--health-port", str(port)],
            env={**os.environ, **env, "EXPORT_SERVICE_DATA_DIR": str(tmp / "worker-data")},
            stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
        )
        return cls(process, f"http://127.0.0.1:{port}", log_path)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base_url + path, timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass
class GivenUp:
    """Requests sent just before the database dies by a client that stops waiting after
    `timeout` seconds: export runs with an Idempotency-Key, and batches of claims."""

    base_url: str
    org_id: UUID
    months: list[int]
    timeout: float = 1.0
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(8))
    futures: list[Future[Any]] = field(default_factory=list)

    def key(self, month: int) -> str:
        return f"gave-up-{self.org_id}-{month}"

    def run_body(self, month: int) -> dict[str, str]:
        return {"period_start": f"2025-{month:02d}-01", "period_end": f"2025-{month:02d}-28",
                "target": "xledger"}

    def fire(self) -> None:
        """Send everything at once; the answers (if any) are not waited for."""
        self.batches = [[claim_json(f"2024-{m:02d}-0{d}") for d in range(1, 6)]
                        for m in range(1, 5)]

        def send(method: str, path: str, body: Any, headers: dict[str, str]) -> None:
            # The client gives up (or the connection fails): it retries later.
            with contextlib.suppress(httpx.HTTPError):
                httpx.request(method, self.base_url + path, json=body, headers=headers,
                              timeout=self.timeout)

        base = f"/v1/orgs/{self.org_id}"
        for month in self.months:
            headers = {**auth(self.org_id), "Idempotency-Key": self.key(month)}
            self.futures.append(self.pool.submit(
                send, "POST", f"{base}/export-runs", self.run_body(month), headers))
        for batch in self.batches:
            self.futures.append(self.pool.submit(
                send, "PUT", f"{base}/claims", {"claims": batch}, auth(self.org_id)))

    def settle(self) -> None:
        for future in self.futures:
            future.result(timeout=60)
        self.pool.shutdown()

    def check_nothing_half_done(self, client: httpx.Client) -> list[str]:
        """Retry each request the way a client would; each one's effect was either absent or
        complete before the retry. The ids of the given-up runs."""
        base = f"/v1/orgs/{self.org_id}"
        for batch in self.batches:
            r = client.put(f"{base}/claims", json={"claims": batch}, headers=auth(self.org_id))
            assert r.status_code == 200, r.text
            done = r.json()
            # Stored whole before (all unchanged) or not at all (all stored now): never a part.
            assert sorted((done["upserted"], done["unchanged"])) == [0, len(batch)], done
            assert done["locked"] == []
        existing = self.runs_by_month(client)
        run_ids = []
        for month in self.months:
            headers = {**auth(self.org_id), "Idempotency-Key": self.key(month)}
            r = client.post(f"{base}/export-runs", json=self.run_body(month), headers=headers)
            assert r.status_code == 202, r.text
            replayed = r.headers.get("Idempotent-Replayed") == "true"
            if month in existing:  # the first request was stored whole: its answer is replayed
                assert replayed and r.json()["run_id"] == existing[month], (month, r.json())
            else:  # it was not stored at all: the retry starts the run
                assert not replayed, (month, r.json())
            run_ids.append(r.json()["run_id"])
        after = self.runs_by_month(client)
        assert sorted(after) == sorted(self.months)  # one run per request, none twice
        return run_ids

    def runs_by_month(self, client: httpx.Client) -> dict[int, str]:
        r = client.get(f"/v1/orgs/{self.org_id}/export-runs", headers=auth(self.org_id),
                       params={"limit": 500})
        assert r.status_code == 200, r.text
        found: dict[int, str] = {}
        for run in r.json():
            month = int(run["period_start"][5:7])
            if run["period_start"].startswith("2025-") and month in self.months:
                assert month not in found, ("two runs for one period", run)
                found[month] = run["run_id"]
        return found
