"""Exported claims are locked: a re-send with other values is accepted, not applied, and listed."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from bootstrap import Services
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens, claim_json, drain_queue
from tests.integration.test_export_execution import get_run, request_run, setup_org


def stored(services: Services, claim_id: str) -> tuple[str, str]:
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute(
            "SELECT amount::text, approved_at::text FROM claims WHERE id = %s", (claim_id,)
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def metric(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_exported_claim_keeps_its_values_and_the_answer_says_so(
    client: TestClient, services: Services, org: Tokens
) -> None:
    exported, free = claim_json("2025-01-10", "100.00"), claim_json("2025-03-10", "5.00")
    setup_org(client, org, [exported, free])
    run = request_run(client, org, "2025-01-01", "2025-01-31")
    drain_queue(services)
    assert get_run(client, org, run)["status"] == "completed"
    before = stored(services, exported["id"])
    url = f"/v1/orgs/{org.org_id}/claims"

    corrected = {**exported, "amount": "250.00", "approved_at": "2025-02-03T09:00:00+01:00"}
    new = claim_json("2025-03-11")
    batch = [new, {**free, "amount": "6.00"}, corrected, claim_json("2025-03-12")]
    r = client.put(url, json={"claims": batch}, headers=org.header())
    assert r.status_code == 200, r.text
    assert r.json() == {
        "upserted": 3,  # the new claims and the change of the claim no run holds
        "unchanged": 0,
        "locked": [{"index": 2, "id": exported["id"], "run_id": run,
                    "changed": ["approved_at", "amount"]}],
    }
    # Sent again exactly as stored (a re-approval): unchanged, not locked.
    again = client.put(url, json={"claims": [exported, new]}, headers=org.header()).json()
    assert again == {"upserted": 0, "unchanged": 2, "locked": []}
    assert stored(services, exported["id"]) == before
    assert stored(services, free["id"])[0] == "6.00"
    # The same instant written with another offset is no change.
    same = {**exported, "approved_at": "2025-01-10T09:00:00+00:00"}
    same_again = client.put(url, json={"claims": [same]}, headers=org.header()).json()
    assert same_again == {"upserted": 0, "unchanged": 1, "locked": []}

    assert services.app.source_data.late_corrections(org.org_id) == 1
    assert metric(client, "export_service_late_corrections") >= 1
    # The locked claim is never exported again.
    later = request_run(client, org, "2025-02-01", "2025-02-28")
    drain_queue(services)
    assert get_run(client, org, later)["record_count"] == 0


def test_claims_of_a_failed_run_stay_free(
    client: TestClient, services: Services, org: Tokens
) -> None:
    claim = claim_json("2025-01-10", "100.00", category="ukjent")  # unmapped: the run fails
    setup_org(client, org, [claim])
    run = request_run(client, org, "2025-01-01", "2025-01-31")
    drain_queue(services)
    assert get_run(client, org, run)["status"] == "failed"
    r = client.put(f"/v1/orgs/{org.org_id}/claims",
                   json={"claims": [{**claim, "category": "reise", "amount": "90.00"}]},
                   headers=org.header(Role.ADMIN))
    assert r.json() == {"upserted": 1, "unchanged": 0, "locked": []}
    assert stored(services, claim["id"])[0] == "90.00"
