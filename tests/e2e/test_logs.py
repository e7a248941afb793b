"""The service's log lines: JSON with one field set, a request followed into its run, redacted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from infrastructure.logs import FIELDS
from interfaces.demo import ORGS, demo_settings
from interfaces.http.auth import Role
from tests.e2e.conftest import CREDENTIALS_KEY, SECRET, RunningService, start_service
from tests.e2e.test_service import auth, poll
from tests.integration.conftest import claim_json


def lines_of(service: RunningService) -> list[dict[str, Any]]:
    return [json.loads(line) for line in service.log().splitlines() if line.startswith("{")]


def test_one_request_is_followed_into_its_run_in_json_lines(service: RunningService) -> None:
    org_id, trace = uuid4(), f"trace-{uuid4().hex[:12]}"
    base = f"/v1/orgs/{org_id}"
    with httpx.Client(base_url=service.base_url, timeout=10) as client:
        client.put(f"{base}/accounting-settings", json=demo_settings(ORGS[0]),
                   headers=auth(org_id, Role.ADMIN)).raise_for_status()
        client.put(f"{base}/claims", json={"claims": [claim_json("2025-03-03")]},
                   headers=auth(org_id)).raise_for_status()
        r = client.post(f"{base}/export-runs", headers={**auth(org_id), "X-Request-ID": trace},
                        json={"period_start": "2025-03-01", "period_end": "2025-03-31", "target": "xledger"})
        assert r.status_code == 202 and r.headers["X-Request-ID"] == trace
        run_id = r.json()["run_id"]
        run = poll(client, f"{base}/export-runs/{run_id}", auth(org_id), {"completed", "failed"})
        assert run["status"] == "completed"
        signature = run["file"]["download_url"].split("sig=")[1]
        assert httpx.get(run["file"]["download_url"], timeout=10).status_code == 200
        events = client.get(f"{base}/export-runs/{run_id}/events", headers=auth(org_id)).json()
    service.stop()

    lines = lines_of(service)
    assert len(lines) == len([x for x in service.log().splitlines() if x.strip()])  # all JSON
    assert all(list(line)[: len(FIELDS)] == list(FIELDS) for line in lines)
    traced = [line for line in lines if line["correlation_id"] == trace]
    request = [line for line in traced if line["event"] == "request"]
    assert len(request) == 1
    assert request[0]["route"] == "/v1/orgs/{org_id}/export-runs" and request[0]["status"] == 202
    assert request[0]["org_id"] == str(org_id) and request[0]["actor"] == "e2e-user"
    worker = [line for line in traced if line["event"] in ("job started", "job finished")]
    assert [line["event"] for line in worker] == ["job started", "job finished"]
    assert {line["run_id"] for line in worker} == {run_id}
    assert {line["org_id"] for line in worker} == {str(org_id)}
    assert {e["correlation_id"] for e in events} == {trace} and len(events) >= 3
    assert signature not in service.log() and SECRET not in service.log()


def test_console_format_is_plain_text(db_url: str, tmp_path: Path) -> None:
    running = start_service(tmp_path, {"DATABASE_URL": db_url, "EXPORT_SERVICE_JWT_SECRET": SECRET,
                                       "EXPORT_SERVICE_CREDENTIALS_KEY": CREDENTIALS_KEY,
                                       "LOG_FORMAT": "console"})
    try:
        httpx.get(running.base_url + "/healthz", headers={"X-Request-ID": "plain-1"}, timeout=5)
    finally:
        running.stop()
    text = running.log()
    request = [line for line in text.splitlines() if "correlation_id=plain-1" in line]
    assert len(request) == 1 and "request" in request[0] and "route=/healthz" in request[0]
    assert not any(line.startswith("{") for line in text.splitlines())
