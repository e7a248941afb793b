"""Several machines on one PostgreSQL, as docs/operations.md describes them: two API processes
(`serve`) and three `export-service worker` processes. 200 organisations × 3 periods of export
runs are requested at both APIs at once; afterwards every run was executed exactly once, every
claim is in at most one completed run, and every read model equals its rebuild."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest

from application.export_runs import claims_in_history
from bootstrap import Operations, Services, bootstrap
from infrastructure.settings import Settings
from interfaces.demo import ORGS, demo_settings
from interfaces.http.auth import Role, mint
from tests.e2e.conftest import CREDENTIALS_KEY, SECRET, RunningService, start_service
from tests.integration.conftest import claim_json
from tests.integration.projection_helpers import PROJECTIONS, dump, wait_caught_up

# About 2 minutes on 2 idle cores; the limit leaves room for a machine shared with others.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ORGANISATIONS = 200
PERIODS = [("2025-01-01", "2025-01-31"), ("2025-02-01", "2025-02-28"), ("2025-03-01", "2025-03-31")]
TOPIC = "domain.export_run:ExportRun.%"


def auth(org_id: UUID, role: Role = Role.COORDINATOR) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint(SECRET, "load", org_id, role)}


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from interfaces.cli import main; main()", "worker",
         "--concurrency", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )


def set_up(base_url: str, org_id: UUID) -> list[str]:
    """Accounting settings and two claims per period; the claims' ids."""
    claims = [claim_json(start[:8] + day) for start, _ in PERIODS for day in ("05", "20")]
    with httpx.Client(base_url=base_url, timeout=60) as client:
        client.put(f"/v1/orgs/{org_id}/accounting-settings", json=demo_settings(ORGS[0]),
                   headers=auth(org_id, Role.ADMIN)).raise_for_status()
        client.put(f"/v1/orgs/{org_id}/claims", json={"claims": claims},
                   headers=auth(org_id)).raise_for_status()
    return [c["id"] for c in claims]


def request_run(base_url: str, org_id: UUID, period: tuple[str, str]) -> tuple[int, dict[str, Any]]:
    body = {"period_start": period[0], "period_end": period[1], "target": "xledger"}
    r = httpx.post(f"{base_url}/v1/orgs/{org_id}/export-runs", json=body, headers=auth(org_id),
                   timeout=60)
    return r.status_code, r.json()


def event_counts(db_url: str) -> dict[str, Counter[str]]:
    """Per run: how many of each export-run event the log holds."""
    out: dict[str, Counter[str]] = {}
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT originator_id::text, split_part(topic, '.', 3) FROM export_service_events "
            "WHERE topic LIKE %s", (TOPIC,),
        )
        for run_id, kind in rows:
            out.setdefault(run_id, Counter())[kind] += 1
    return out


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def test_two_apis_and_three_workers_export_every_run_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    shared = {
        "DATABASE_URL": db_url,
        "EXPORT_SERVICE_JWT_SECRET": SECRET,
        "EXPORT_SERVICE_CREDENTIALS_KEY": CREDENTIALS_KEY,
        "EXPORT_SERVICE_STORAGE_URL": f"file://{tmp_path / 'shared-files'}",
        "EXPORT_SERVICE_POOL_SIZE": "4",
        "LOG_LEVEL": "WARNING",
    }
    apis: list[RunningService] = []
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("api-a", "api-b"):
            (tmp_path / name).mkdir()
            apis.append(start_service(tmp_path / name, shared))
        worker_env = {**os.environ, **shared, "EXPORT_SERVICE_DATA_DIR": str(tmp_path / "w")}
        workers = [start_worker(worker_env, tmp_path / f"worker-{i}.log") for i in range(3)]

        orgs = [uuid4() for _ in range(ORGANISATIONS)]
        with ThreadPoolExecutor(12) as pool:
            claims = dict(zip(orgs, pool.map(
                lambda i: set_up(apis[i % 2].base_url, orgs[i]), range(len(orgs))), strict=True))
            # Every run is requested at both APIs at about the same moment (consecutive jobs
            # go to different threads): exactly one of them may win.
            pairs = [(org, period) for org in orgs for period in PERIODS]
            jobs = [(api.base_url, org, period) for org, period in pairs for api in apis]
            flat = list(pool.map(lambda job: request_run(*job), jobs))
            answers = [flat[i:i + 2] for i in range(0, len(flat), 2)]

        run_of: dict[tuple[UUID, str], str] = {}
        for (org, period), pair in zip(pairs, answers, strict=True):
            codes = sorted(code for code, _ in pair)
            assert codes == [202, 409], (org, period, pair)
            accepted = next(body for code, body in pair if code == 202)
            duplicate = next(body for code, body in pair if code == 409)
            assert duplicate == {"status": "duplicate", "existing_run_id": accepted["run_id"]}
            run_of[(org, period[0])] = accepted["run_id"]
        assert len(set(run_of.values())) == ORGANISATIONS * len(PERIODS)

        def all_ended() -> bool:
            counts = event_counts(db_url)
            return sum(c["Completed"] + c["Failed"] for c in counts.values()) >= len(run_of)

        wait_until(all_ended, 600, "runs still not ended")
        time.sleep(1)  # a run executed twice would append its second Started/Completed by now
        wait_caught_up(db_url, list(PROJECTIONS), timeout=300)

        # One download through the API that did not answer the request: storage is shared.
        org, period = pairs[0]
        run = httpx.get(f"{apis[1].base_url}/v1/orgs/{org}/export-runs/{run_of[(org, period[0])]}",
                        headers=auth(org), timeout=30).json()
        file = httpx.get(run["file"]["download_url"].replace(apis[0].base_url, apis[1].base_url),
                         timeout=30)
        assert hashlib.sha256(file.content).hexdigest() == run["file"]["sha256"]
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for api in apis:
            api.stop()
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)

    # Every run executed exactly once: requested, started and completed once each.
    counts = event_counts(db_url)
    assert set(counts) == set(run_of.values())
    for run_id, kinds in counts.items():
        assert (kinds["Requested"], kinds["Started"], kinds["Completed"], kinds["Failed"]) == (
            1, 1, 1, 0), (run_id, kinds)
    assert not any("Traceback" in api.log() for api in apis)

    # Every claim in at most one completed run; here each in exactly the run of its period.
    services: Services = bootstrap(Settings(jwt_secret=SECRET, data_dir=tmp_path / "check"),
                                   database_url=db_url)
    try:
        taken: Counter[str] = Counter()
        for (org, _), run_id in run_of.items():
            body = services.export_runs.view(org, UUID(run_id))
            assert body.status == "completed" and body.record_count == 2
            taken.update(str(c["claim_id"]) for c in claims_in_history(services.store.history(UUID(run_id))))
    finally:
        services.close()
    every_claim = {c for ids in claims.values() for c in ids}
    assert set(taken) == every_claim and set(taken.values()) == {1}

    # Every read model equals its rebuild from the log.
    before = dump(db_url)
    operations = Operations(db_url)
    for name in PROJECTIONS:
        operations.rebuild_projection(name)
    assert dump(db_url) == before

