"""Claims import (validated whole) and the claim-level guard: every claim in exactly one run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient

from application.export_runs import claims_in_history
from bootstrap import Services
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens, claim_json, drain_queue
from tests.integration.test_export_execution import get_run, request_run, setup_org


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 12.5}, "amount"),
        ({"amount": "12,50"}, "amount"),
        ({"amount": "-3.00"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "kr"}, "currency"),
        ({"id": "not-a-uuid"}, "id"),
        ({"expense_date": "2025-13-01"}, "expense_date"),
        ({"approved_at": "2025-01-10T10:00:00"}, "approved_at"),
        ({"description": "null\x00byte"}, "description"),
    ],
)
def test_one_bad_item_refuses_the_whole_batch(
    client: TestClient, services: Services, org: Tokens, change: dict[str, Any], field: str
) -> None:
    batch = [claim_json("2025-01-10"), claim_json("2025-01-11"), {**claim_json("2025-01-12"), **change}]
    r = client.put(f"/v1/orgs/{org.org_id}/claims", json={"claims": batch}, headers=org.header())
    assert r.status_code == 422
    assert f"claims.2.{field}" in [e["field"] for e in r.json()["errors"]]
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM claims").fetchone() == (0,)


def test_upsert_by_id_and_roles(client: TestClient, services: Services, org: Tokens) -> None:
    c = claim_json("2025-01-10", "10.00")
    url = f"/v1/orgs/{org.org_id}/claims"
    assert client.put(url, json={"claims": [c]}, headers=org.header()).json() == {
        "upserted": 1, "unchanged": 0, "locked": []
    }
    assert client.put(url, json={"claims": [{**c, "amount": "11.5"}]}, headers=org.header()).status_code == 200
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("SELECT amount::text FROM claims").fetchall() == [("11.50",)]
    assert client.put(url, json={"claims": []}, headers=org.header()).status_code == 422
    assert client.put(url, json={"claims": [c]}, headers=org.header(Role.ANALYST)).status_code == 403


def reservations(services: Services) -> dict[str, str]:
    with psycopg.connect(services.database_url) as conn:
        return {str(c): str(r) for c, r in conn.execute("SELECT claim_id, run_id FROM claim_reservations")}


def test_exported_claims_are_never_exported_again(client: TestClient, services: Services, org: Tokens) -> None:
    """Seed 001 scenarios 1 and 2: of 10 candidates, the 3 already exported are filtered out."""
    early = [claim_json("2025-01-05") for _ in range(3)]
    setup_org(client, org, early)
    first = request_run(client, org, "2025-01-01", "2025-01-10")
    drain_queue(services)
    assert get_run(client, org, first)["record_count"] == 3
    # The 3 come back with a new approved_at in February, plus 7 new claims in February.
    moved = [{**c, "approved_at": "2025-02-03T09:00:00+01:00"} for c in early]
    fresh = [claim_json("2025-02-04") for _ in range(7)]
    client.put(f"/v1/orgs/{org.org_id}/claims", json={"claims": moved + fresh}, headers=org.header())
    second = request_run(client, org, "2025-02-01", "2025-02-28")
    drain_queue(services)
    assert get_run(client, org, second)["record_count"] == 7
    held = reservations(services)
    assert {held[c["id"]] for c in early} == {first}
    assert {held[c["id"]] for c in fresh} == {second}
    # Scenario 2: nothing left to take, the run completes empty.
    third = request_run(client, org, "2025-03-01", "2025-03-31")
    drain_queue(services)
    assert get_run(client, org, third)["record_count"] == 0


def test_late_claims_go_into_the_next_run_marked_late(client: TestClient, services: Services, org: Tokens) -> None:
    setup_org(client, org, [claim_json("2025-01-10")])
    january = request_run(client, org, "2025-01-01", "2025-01-31")
    drain_queue(services)
    late = claim_json("2025-01-20")  # approved in January, imported after January was exported
    client.put(f"/v1/orgs/{org.org_id}/claims", json={"claims": [late, claim_json("2025-02-02")]},
               headers=org.header())
    february = request_run(client, org, "2025-02-01", "2025-02-28")
    drain_queue(services)
    run = get_run(client, org, february)
    assert run["record_count"] == 2
    assert reservations(services)[late["id"]] == february
    history = services.store.history(UUID(february))
    taken = {c["claim_id"]: c["late"] for c in claims_in_history(history)}
    assert taken == {late["id"]: True, **{k: False for k in taken if k != late["id"]}}
    assert get_run(client, org, january)["record_count"] == 1


def test_parallel_runs_over_overlapping_candidates_take_each_claim_once(
    client: TestClient, services: Services, org: Tokens
) -> None:
    """Seed 001 scenario 5: runs racing for the same late claims; the unique key decides."""
    setup_org(client, org, [claim_json("2025-01-10")])
    request_run(client, org, "2025-01-01", "2025-01-31")
    drain_queue(services)
    late = [claim_json(f"2025-01-{d:02d}") for d in range(11, 31)]
    client.put(f"/v1/orgs/{org.org_id}/claims", json={"claims": late}, headers=org.header())
    runs = [request_run(client, org, f"2025-{m:02d}-01", f"2025-{m:02d}-28") for m in range(2, 10)]
    barrier = threading.Barrier(len(runs))

    def execute(run_id: str) -> None:
        barrier.wait()
        services.export_runs.execute(UUID(run_id))

    with ThreadPoolExecutor(len(runs)) as pool:
        list(pool.map(execute, runs))
    taken = [
        c["claim_id"] for r in runs for c in claims_in_history(services.store.history(UUID(r)))
    ]
    assert len(taken) == len(set(taken)) == len(late)  # every late claim in exactly one run
    assert set(taken) == {c["id"] for c in late}
    counts = [get_run(client, org, r)["record_count"] for r in runs]
    assert sum(counts) == len(late)
    assert all(get_run(client, org, r)["status"] == "completed" for r in runs)
