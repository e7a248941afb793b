"""The PostgreSQL server killed (SIGKILL of the postmaster) under a running service and a worker
started alone, with work queued and requests in flight; started again, and nothing restarted:

- while it is gone: every /v1 call answers 503 {detail, retry_after} + Retry-After within 5 s,
  /readyz of the service and of the worker answer 503;
- once it is back: both answer 200 again, their workers restarted by their supervisors (the
  restarts metric), every queued export run and Bufdir export completes, every claim once;
- requests a client gave up on at the moment of the kill left nothing half-done (a retry with
  the same Idempotency-Key finds the first one whole, or nothing);
- a sync run the client could not end ends by its timeout, failed, and says so;
- a scheduled accounting sync whose time fell in the outage runs once, completes, and a later
  tick does not start it again.

Runs on the embedded server's binaries, and on PostgreSQL 15 in CI's second pass."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import psycopg
import pytest

from infrastructure.recorder import QUEUE
from interfaces.demo import ORGS, demo_settings
from interfaces.http.auth import Role
from tests.e2e.conftest import (
    CREDENTIALS_KEY,
    SECRET,
    RunningService,
    free_port,
    start_service,
)
from tests.e2e.outage_helpers import (
    GivenUp,
    StandaloneWorker,
    auth,
    metric,
    next_slot,
    previous_month,
    wait_for,
)
from tests.e2e.throwaway_pg import create_cluster
from tests.integration.conftest import claim_json

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

RUN_MONTHS = range(1, 7)  # queued before the kill, three claims each
GIVEN_UP_MONTHS = [7, 8, 9, 10]  # requested at the moment of the kill, one claim each
SCHEDULED = "xledger"  # an accounting sync: it runs by itself and completes


def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def one_more_tick(url: str) -> int:
    """Queue one more sync tick, as the next minute's would be (a worker process runs it)."""
    with psycopg.connect(url, connect_timeout=3) as conn:
        row = conn.execute(
            "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(%s, 'sync_tick', 0, NULL, NULL, "
            "jsonb_build_object('timestamp', extract(epoch FROM now())::bigint), NULL)"
            "::procrastinate_job_to_defer_v1]))", (QUEUE,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def job_status(url: str, job_id: int) -> str:
    with psycopg.connect(url, connect_timeout=3) as conn:
        row = conn.execute("SELECT status::text FROM procrastinate_jobs WHERE id = %s",
                           (job_id,)).fetchone()
    return str(row[0]) if row else "gone"


def test_service_and_worker_survive_the_database_being_killed(tmp_path: Path) -> None:
    cluster = create_cluster(tmp_path, free_port())
    env = {
        "DATABASE_URL": cluster.url, "EXPORT_SERVICE_JWT_SECRET": SECRET,
        "EXPORT_SERVICE_CREDENTIALS_KEY": CREDENTIALS_KEY,
        "EXPORT_SERVICE_STORAGE_URL": f"file://{tmp_path / 'files'}",
        "EXPORT_SERVICE_STALLED_JOB_SECONDS": "3",
        "EXPORT_SERVICE_SYNC_TIMEOUTS": '{"hubspot": 10}',
    }
    service: RunningService | None = None
    worker: StandaloneWorker | None = None
    try:
        service = start_service(tmp_path, env)
        worker = StandaloneWorker.start(tmp_path, env, free_port())
        wait_for(lambda: worker.get("/readyz").status_code == 200, 90, "worker never ready")
        org = uuid4()
        base = f"/v1/orgs/{org}"
        with httpx.Client(base_url=service.base_url, timeout=30) as client:
            closed_start, closed_end = previous_month(datetime.now(UTC))
            claims = [claim_json(f"2025-{m:02d}-10") for m in RUN_MONTHS for _ in range(3)]
            claims += [claim_json(f"2025-{m:02d}-11") for m in GIVEN_UP_MONTHS]
            scheduled_claims = [claim_json(closed_start.isoformat()),
                                claim_json(closed_end.isoformat())]
            r = client.put(f"{base}/accounting-settings", json=demo_settings(ORGS[0]),
                           headers=auth(org, Role.ADMIN))
            assert r.status_code == 200, r.text
            r = client.put(f"{base}/claims", json={"claims": claims + scheduled_claims},
                           headers=auth(org))
            assert r.status_code == 200, r.text
            runs = []
            for month in RUN_MONTHS:
                r = client.post(f"{base}/export-runs", headers=auth(org), json={
                    "period_start": f"2025-{month:02d}-01", "period_end": f"2025-{month:02d}-28",
                    "target": "xledger"})
                assert r.status_code == 202, r.text
                runs.append(r.json()["run_id"])
            r = client.post(f"{base}/bufdir-exports", headers=auth(org), json={
                "period_start": "2025-01-01", "period_end": "2025-12-31", "format": "csv",
                "include_attachments": False})
            assert r.status_code == 202, r.text
            bufdir = r.json()["export_id"]
            # A scheduled accounting sync whose time falls inside the outage.
            slot = next_slot(margin=8)
            r = client.put(f"{base}/sync-schedules/{SCHEDULED}", headers=auth(org, Role.ADMIN),
                           json={"cron": f"{slot.minute} {slot.hour} * * *", "timezone": "UTC"})
            assert r.status_code == 200, r.text
            # A sync the client started and can no longer end: every call of its will fail.
            r = client.post(f"{base}/sync-runs", headers=auth(org), json={
                "integration_type": "hubspot", "triggered_by": "manual"})
            assert r.status_code == 201, r.text
            abandoned = r.json()["run_id"]
            assert r.json()["status"] == "running"

            given_up = GivenUp(service.base_url, org, GIVEN_UP_MONTHS)
            given_up.fire()
            time.sleep(0.05)  # on their way: some reach the database, some do not
            cluster.kill()  # with runs queued and in flight
            assert datetime.now(UTC) < slot - timedelta(seconds=2), "killed too late for the slot"

            # While it is gone: 503 within 5 s, never a hang or a 500.
            for call in (
                lambda: client.get(f"{base}/export-runs/{runs[0]}", headers=auth(org)),
                lambda: client.get(f"{base}/export-runs", headers=auth(org)),
                lambda: client.post(f"{base}/export-runs", headers=auth(org), json={
                    "period_start": "2025-11-01", "period_end": "2025-11-30",
                    "target": "xledger"}),
                lambda: client.put(f"{base}/claims", json={"claims": [claim_json("2025-11-02")]},
                                   headers=auth(org)),
                lambda: client.post(f"{base}/sync-runs/{abandoned}/status", headers=auth(org),
                                    json={"status": "completed", "records_processed": 1}),
            ):
                response, seconds = timed(call)
                assert response.status_code == 503, response.text
                assert seconds < 5, (response.request.method, response.request.url.path, seconds)
                assert response.headers["Retry-After"] == "5"
                assert response.json() == {"detail": "the database is unavailable; retry later",
                                           "retry_after": 5}
            for ready in (client.get("/readyz"), worker.get("/readyz")):
                assert ready.status_code == 503
                assert ready.json() == {"status": "not ready", "reason": "database unreachable"}
            given_up.settle()

            while datetime.now(UTC) < slot + timedelta(seconds=2):  # the slot passes while down
                time.sleep(0.2)
            assert client.get("/readyz").status_code == 503
            cluster.start()

            # Back: ready again without a restart, both workers restarted by their supervisors.
            wait_for(lambda: client.get("/readyz").status_code == 200, 90, "service not ready")
            wait_for(lambda: worker.get("/readyz").status_code == 200, 90, "worker not ready")
            assert client.get("/readyz").json() == {"status": "ready", "reason": "ok"}
            for text in (client.get("/metrics").text, worker.get("/metrics").text):
                assert (metric(text, "export_service_worker_restarts_total") or 0) >= 1

            def read_models_caught_up() -> bool:
                text = client.get("/metrics").text
                return metric(text, "export_service_projection_lag_events",
                              name="export_runs") == 0

            wait_for(read_models_caught_up, 60, "read models not caught up")
            given_up_runs = given_up.check_nothing_half_done(client)

            def run(run_id: str) -> dict[str, Any]:
                r = client.get(f"{base}/export-runs/{run_id}", headers=auth(org))
                assert r.status_code == 200, r.text
                return dict(r.json())

            def sync_runs(kind: str) -> list[dict[str, Any]]:
                r = client.get(f"{base}/sync-runs", headers=auth(org),
                               params={"integration_type": kind})
                assert r.status_code == 200, r.text
                return list(r.json())

            def finished() -> bool:
                export = client.get(f"{base}/bufdir-exports/{bufdir}", headers=auth(org)).json()
                scheduled = sync_runs(SCHEDULED)
                return (all(run(r)["status"] == "completed" for r in runs + given_up_runs)
                        and export.get("status") in ("completed", "completed_empty")
                        and bool(scheduled) and scheduled[0]["status"] == "completed"
                        and run_status(abandoned) != "running")

            def run_status(run_id: str) -> str:
                r = client.get(f"{base}/sync-runs/{run_id}", headers=auth(org))
                return str(r.json()["status"])

            wait_for(finished, 180, "work not finished after the outage")
            counts = [run(r)["record_count"] for r in runs + given_up_runs]
            assert counts == [3] * len(runs) + [1] * len(given_up_runs)  # every claim once

            # The sync nobody could end ended by its timeout, and says so.
            ended = client.get(f"{base}/sync-runs/{abandoned}", headers=auth(org)).json()
            assert ended["status"] == "failed", ended
            assert "timed out" in (ended["error_message"] or ""), ended

            # The scheduled time that fell in the outage was caught up once, and completed; a
            # later tick (and the other worker's catch-up) did not start it again.
            tick = one_more_tick(cluster.url)
            wait_for(lambda: job_status(cluster.url, tick) == "succeeded", 60, "tick not run")
            [caught_up] = sync_runs(SCHEDULED)
            assert caught_up["triggered_by"] == "scheduler"
            assert caught_up["scheduled_for"].startswith(slot.strftime("%Y-%m-%dT%H:%M"))
            assert caught_up["status"] == "completed" and caught_up["records_processed"] == 2
            assert run(caught_up["export_run_id"])["period_start"] == closed_start.isoformat()

            assert service.process.poll() is None and worker.process.poll() is None
    finally:
        if worker is not None:
            worker.stop()
        if service is not None:
            service.stop()
        cluster.stop()
    # No stack trace in any log line, outage or not.
    assert "Traceback" not in service.log()
    assert "Traceback" not in worker.log_path.read_text(errors="replace")
