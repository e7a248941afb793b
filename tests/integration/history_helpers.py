"""Data in every read model, made through the API and the worker as in production."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from bootstrap import Services
from domain.shared import Actor
from interfaces.demo import ORGS, demo_settings
from interfaces.http.auth import Role
from tests.integration.bufdir_helpers import activity, put_activities, request_export
from tests.integration.conftest import Tokens, claim_json, drain_queue

#: The sync runs use cases are being wired in parallel; tests of them wait for that module.


@dataclass
class Seeded:
    completed_run: str
    failed_run: str
    bufdir_export: str
    empty_bufdir_export: str
    sync_runs: list[UUID]


def request_run(client: TestClient, org: Tokens, start: str, end: str) -> str:
    r = client.post(f"/v1/orgs/{org.org_id}/export-runs",
                    json={"period_start": start, "period_end": end, "target": "xledger"},
                    headers=org.header())
    assert r.status_code == 202, r.text
    return str(r.json()["run_id"])


def seed_export_runs(client: TestClient, services: Services, org: Tokens) -> tuple[str, str]:
    """A completed run (two claims) and a failed one (an unmapped category)."""
    r = client.put(f"/v1/orgs/{org.org_id}/accounting-settings",
                   json=demo_settings(ORGS[0]), headers=org.header(Role.ADMIN))
    assert r.status_code == 200, r.text
    claims = [claim_json("2025-01-10", "120.50"), claim_json("2025-01-31", "80.00"),
              claim_json("2025-02-10", category="hotell")]
    r = client.put(f"/v1/orgs/{org.org_id}/claims", json={"claims": claims}, headers=org.header())
    assert r.status_code == 200, r.text
    completed = request_run(client, org, "2025-01-01", "2025-01-31")
    failed = request_run(client, org, "2025-02-01", "2025-02-28")
    drain_queue(services)
    return completed, failed


def seed_bufdir(client: TestClient, services: Services, org: Tokens) -> tuple[str, str]:
    """A completed Bufdir export and an empty one (no activities in its period)."""
    items = [activity(i, f"2024-03-{1 + i:02d}") for i in range(5)]
    assert put_activities(client, org, items).status_code == 200
    full = request_export(client, org, "2024-01-01", "2024-12-31", "csv")
    empty = request_export(client, org, "2022-01-01", "2022-12-31", "csv")
    drain_queue(services)
    return full, empty


def seed_sync_runs(services: Services, org_id: UUID) -> list[UUID]:
    """A completed and a failed sync run, recorded through the domain and the event store."""
    from domain.sync_run import SyncRun

    actor = Actor("scheduler-1", org_id, "corr-sync")
    ok = SyncRun.start_new(org_id, "xledger", "scheduler", actor)
    ok.complete(10, 0, None, actor)
    bad = SyncRun.start_new(org_id, "dynamics", "manual", actor)
    bad.fail(3, 2, "connection refused by host", actor)
    services.store.save(ok)
    services.store.save(bad)
    return [ok.id, bad.id]


def seed_all(client: TestClient, services: Services, org: Tokens) -> Seeded:
    completed, failed = seed_export_runs(client, services, org)
    full, empty = seed_bufdir(client, services, org)
    syncs = seed_sync_runs(services, org.org_id)
    return Seeded(completed, failed, full, empty, syncs)


def events(client: TestClient, org: Tokens, kind: str, id_: Any,
           role: Role = Role.AUDITOR) -> Any:
    return client.get(f"/v1/orgs/{org.org_id}/{kind}/{id_}/events", headers=org.header(role))
