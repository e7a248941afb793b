"""The whole service over HTTP: a run requested, executed by the in-process worker, downloaded."""

from __future__ import annotations

import hashlib
import time
from typing import Any
from uuid import uuid4

import httpx

from domain.vouchers import ledger_ref
from interfaces.demo import ORGS, demo_settings
from interfaces.http.auth import Role, mint
from tests.e2e.conftest import SECRET, RunningService
from tests.integration.conftest import claim_json


def auth(org_id: Any, role: Role = Role.COORDINATOR) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint(SECRET, "e2e-user", org_id, role)}


def poll(client: httpx.Client, url: str, headers: dict[str, str], until: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(url, headers=headers).json()
        if body["status"] in until:
            return body
        time.sleep(0.1)
    raise AssertionError(f"still {body['status']}")


def test_export_run_end_to_end(service: RunningService) -> None:
    org_id = uuid4()
    base = f"/v1/orgs/{org_id}"
    with httpx.Client(base_url=service.base_url, timeout=10) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/openapi.json").json()["info"]["title"] == "export-service"
        assert "swagger" in client.get("/docs").text.lower()
        r = client.put(f"{base}/accounting-settings", json=demo_settings(ORGS[0]),
                       headers=auth(org_id, Role.ADMIN))
        assert r.status_code == 200, r.text
        claims = [claim_json("2025-04-02", "250.00"), claim_json("2025-04-30", "19.90")]
        assert client.put(f"{base}/claims", json={"claims": claims}, headers=auth(org_id)).json()["upserted"] == 2
        r = client.post(f"{base}/export-runs", headers={**auth(org_id), "Idempotency-Key": "e2e-1"},
                        json={"period_start": "2025-04-01", "period_end": "2025-04-30", "target": "xledger"})
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        run = poll(client, f"{base}/export-runs/{run_id}", auth(org_id, Role.AUDITOR), {"completed", "failed"})
        assert run["status"] == "completed" and run["record_count"] == 2, run
        listed = client.get(f"{base}/export-runs", headers=auth(org_id, Role.ANALYST)).json()
        assert [x["run_id"] for x in listed] == [run_id] and listed[0]["status"] == "completed"
        download = httpx.get(run["file"]["download_url"], timeout=10)
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() == run["file"]["sha256"]
        assert ledger_ref(claims[0]["id"]) in download.text  # the claim's 25-character reference
        tampered = run["file"]["download_url"].replace(run_id, str(uuid4()))
        assert httpx.get(tampered, timeout=10).status_code == 403
        again = client.post(f"{base}/export-runs", headers={**auth(org_id), "Idempotency-Key": "e2e-1"},
                            json={"period_start": "2025-04-01", "period_end": "2025-04-30", "target": "xledger"})
        assert again.json() == {"run_id": run_id, "status": "pending"}
        metrics = client.get("/metrics").text
        assert 'export_service_export_runs_requested_total{outcome="accepted"} 1.0' in metrics
        assert "export_service_http_requests_total" in metrics
        assert 'export_service_export_runs_finished_total{status="completed"} 1.0' in metrics
        assert 'export_service_export_runs{status="completed"} 1.0' in metrics
        assert 'export_service_projection_lag_events{name="export_runs"} 0.0' in metrics
    assert "Traceback" not in service.log()
