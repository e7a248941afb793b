"""The PostgreSQL server killed (SIGKILL of the postmaster) under a running service with work
queued: 503s within 5 s while it is gone, /readyz tells the truth, and once it is back every
queued run completes, without restarting the service; a sync run the client had to give up on
ends by its timeout, and a scheduled sync whose time fell in the outage starts once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from interfaces.demo import ORGS, demo_settings
from interfaces.http.auth import Role, mint
from tests.e2e.conftest import CREDENTIALS_KEY, SECRET, free_port, start_service
from tests.e2e.throwaway_pg import create_cluster
from tests.integration.conftest import claim_json


def auth(org_id: Any, role: Role = Role.COORDINATOR) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint(SECRET, "e2e-user", org_id, role)}


def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def next_slot(margin: float) -> datetime:
    """The first whole minute at least `margin` seconds from now (UTC)."""
    soon = datetime.now(UTC) + timedelta(seconds=margin)
    return soon.replace(second=0, microsecond=0) + timedelta(minutes=1)


def wait_until(moment: datetime) -> None:
    while (left := (moment - datetime.now(UTC)).total_seconds()) > 0:
        time.sleep(min(left, 1.0))


@pytest.mark.slow
def test_service_survives_the_database_being_killed(tmp_path: Path) -> None:
    cluster = create_cluster(tmp_path, free_port())
    service = None
    try:
        service = start_service(tmp_path, {
            "DATABASE_URL": cluster.url, "EXPORT_SERVICE_JWT_SECRET": SECRET,
            "EXPORT_SERVICE_CREDENTIALS_KEY": CREDENTIALS_KEY,
            "EXPORT_SERVICE_STALLED_JOB_SECONDS": "3",
            "EXPORT_SERVICE_SYNC_TIMEOUT_SECONDS": "20",
        })
        org = uuid4()
        base = f"/v1/orgs/{org}"
        with httpx.Client(base_url=service.base_url, timeout=30) as client:
            r = client.put(f"{base}/accounting-settings", json=demo_settings(ORGS[0]),
                           headers=auth(org, Role.ADMIN))
            assert r.status_code == 200, r.text
            claims = [claim_json(f"2025-{m:02d}-10") for m in range(1, 7) for _ in range(3)]
            assert client.put(f"{base}/claims", json={"claims": claims},
                              headers=auth(org)).status_code == 200
            runs = []
            for month in range(1, 7):
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
            # A sync the client started and can no longer end: every call of its will fail.
            r = client.post(f"{base}/sync-runs", headers=auth(org), json={
                "integration_type": "hubspot", "triggered_by": "manual"})
            assert r.status_code == 201, r.text
            abandoned = r.json()["run_id"]
            # A scheduled sync whose time falls inside the outage.
            slot = next_slot(margin=25)
            r = client.put(f"{base}/sync-schedules/mailchimp", headers=auth(org, Role.ADMIN),
                           json={"cron": f"{slot.minute} {slot.hour} * * *", "timezone": "UTC"})
            assert r.status_code == 200, r.text

            cluster.kill()  # with runs queued and probably one in flight
            killed_at = datetime.now(UTC)
            assert killed_at < slot - timedelta(seconds=5), "too slow to kill before the slot"

            for call in (
                lambda: client.get("/readyz"),
                lambda: client.get(f"{base}/export-runs/{runs[0]}", headers=auth(org)),
                lambda: client.post(f"{base}/export-runs", headers=auth(org), json={
                    "period_start": "2025-09-01", "period_end": "2025-09-30",
                    "target": "xledger"}),
                lambda: client.put(f"{base}/claims", json={"claims": [claim_json("2025-09-02")]},
                                   headers=auth(org)),
            ):
                response, seconds = timed(call)
                assert response.status_code == 503, response.text
                assert seconds < 5, seconds
            unavailable, _ = timed(
                lambda: client.get(f"{base}/export-runs/{runs[0]}", headers=auth(org)))
            assert unavailable.headers["Retry-After"] == "5"
            assert set(unavailable.json()) == {"detail", "retry_after"}
            assert "Traceback" not in service.log()

            wait_until(slot + timedelta(seconds=3))  # the scheduled time passes while down
            assert client.get("/readyz").status_code == 503
            cluster.start()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            assert client.get("/readyz").json() == {"status": "ready", "reason": "ok"}

            def finished() -> bool:
                statuses = [client.get(f"{base}/export-runs/{r}", headers=auth(org)).json()
                            .get("status") for r in runs]
                export = client.get(f"{base}/bufdir-exports/{bufdir}", headers=auth(org)).json()
                return (all(s == "completed" for s in statuses)
                        and export.get("status") in ("completed", "completed_empty"))

            deadline = time.monotonic() + 180
            while not finished() and time.monotonic() < deadline:
                time.sleep(1)
            assert finished(), service.log()[-4000:]
            counts = [client.get(f"{base}/export-runs/{r}", headers=auth(org)).json()
                      ["record_count"] for r in runs]
            assert sum(counts) == len(claims)  # every claim exported once

            def sync_run(run_id: str) -> dict[str, Any]:
                r = client.get(f"{base}/sync-runs/{run_id}", headers=auth(org))
                assert r.status_code == 200, r.text
                return dict(r.json())

            def scheduled() -> list[dict[str, Any]]:
                r = client.get(f"{base}/sync-runs", headers=auth(org),
                               params={"integration_type": "mailchimp"})
                assert r.status_code == 200, r.text
                return list(r.json())

            while time.monotonic() < deadline and (
                sync_run(abandoned)["status"] == "running" or not scheduled()
            ):
                time.sleep(1)
            ended = sync_run(abandoned)
            assert ended["status"] == "failed", ended
            assert "timed out" in (ended["error_message"] or ""), ended
            [caught_up] = scheduled()  # once, not once per tick
            assert caught_up["triggered_by"] == "scheduler"
            assert caught_up["scheduled_for"].startswith(slot.strftime("%Y-%m-%dT%H:%M"))
            assert service.process.poll() is None  # the same process all along
            metrics = client.get("/metrics").text
            assert "export_service_worker_restarts_total" in metrics
    finally:
        if service is not None:
            service.stop()
        cluster.stop()
