"""The export run endpoints as the contract fixes them, against a real database."""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import uuid4

import jwt
import pytest
from fastapi.testclient import TestClient

from bootstrap import Services
from interfaces.http.auth import Role
from tests.integration.conftest import SECRET, Tokens

JAN = {"period_start": "2025-01-01", "period_end": "2025-01-31", "target": "xledger"}


def url(org: Tokens, suffix: str = "") -> str:
    return f"/v1/orgs/{org.org_id}/export-runs{suffix}"


def test_accepted_then_duplicate_then_read(client: TestClient, org: Tokens) -> None:
    first = client.post(url(org), json=JAN, headers=org.header())
    assert first.status_code == 202
    run_id = first.json()["run_id"]
    assert first.json() == {"run_id": run_id, "status": "pending"}
    overlap = {**JAN, "period_start": "2025-01-31", "period_end": "2025-02-10"}
    second = client.post(url(org), json=overlap, headers=org.header())
    assert second.status_code == 409
    assert second.json() == {"status": "duplicate", "existing_run_id": run_id}
    got = client.get(url(org, f"/{run_id}"), headers=org.header(Role.ANALYST))
    assert got.status_code == 200
    body = got.json()
    assert {k: body[k] for k in ("run_id", "org_id", "period_start", "period_end", "target",
                                 "status", "record_count", "file", "error")} == {
        "run_id": run_id, "org_id": str(org.org_id), "period_start": "2025-01-01",
        "period_end": "2025-01-31", "target": "xledger", "status": "pending", "record_count": 0,
        "file": None, "error": None,
    }
    assert body["created_at"].endswith(("Z", "+00:00")) and body["completed_at"] is None


def test_list_is_newest_first_with_status_and_limit(
    client: TestClient, org: Tokens, services: Services
) -> None:
    ids = []
    for month in ("01", "02", "03"):
        body = {"period_start": f"2025-{month}-01", "period_end": f"2025-{month}-28",
                "target": "dynamics"}
        ids.append(client.post(url(org), json=body, headers=org.header()).json()["run_id"])
        time.sleep(0.01)
    services.projections.supervisor = None
    from infrastructure.projections.runner import rebuild

    rebuild(services.env, "export_runs")
    listed = client.get(url(org), headers=org.header(Role.AUDITOR)).json()
    assert [r["run_id"] for r in listed] == ids[::-1]
    limited = client.get(url(org, "?limit=2&status=pending"), headers=org.header()).json()
    assert [r["run_id"] for r in limited] == ids[:0:-1]
    assert client.get(url(org, "?status=completed"), headers=org.header()).json() == []
    assert client.get(url(org, "?status=done"), headers=org.header()).status_code == 422
    assert client.get(url(org, "?limit=0"), headers=org.header()).status_code == 422
    other = Tokens(uuid4())
    assert client.get(url(other), headers=other.header()).json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**JAN, "period_start": 20250101}, "period_start"),
        ({**JAN, "period_start": "2025-02-30"}, "period_start"),
        ({**JAN, "period_end": "31.01.2025"}, "period_end"),
        ({**JAN, "period_end": "2024-12-31"}, "period_end"),
        ({**JAN, "target": "sap"}, "target"),
        ({"period_start": "2025-01-01", "target": "xledger"}, "period_end"),
        ({**JAN, "extra": 1}, "extra"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, org: Tokens, body: dict[str, Any], field: str
) -> None:
    response = client.post(url(org), json=body, headers=org.header())
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert client.get(url(org), headers=org.header()).json() == []


def test_malformed_json_and_bad_ids_never_500(client: TestClient, org: Tokens) -> None:
    h = {**org.header(), "Content-Type": "application/json"}
    assert client.post(url(org), content=b"{not json", headers=h).status_code == 422
    assert client.post(url(org), content=b"[]", headers=h).status_code == 422
    assert client.get(url(org, "/not-a-uuid"), headers=org.header()).status_code == 422
    assert client.get("/v1/orgs/nope/export-runs", headers=org.header()).status_code in (403, 422)
    assert client.get(url(org, f"/{uuid4()}"), headers=org.header()).status_code == 404
    assert client.get(url(org, f"/{uuid4()}?version=-1"), headers=org.header()).status_code == 422
    huge = {"Content-Length": str(10**9), **h}
    assert client.post(url(org), content=b"{}", headers=huge).status_code in (400, 413)


def token(**claims: Any) -> dict[str, str]:
    return {"Authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")}


def test_authentication_and_tenancy(client: TestClient, org: Tokens) -> None:
    run_id = client.post(url(org), json=JAN, headers=org.header()).json()["run_id"]
    good = {"sub": "u", "org_id": str(org.org_id), "role": "admin", "exp": int(time.time()) + 60}
    assert client.get(url(org)).status_code == 401
    assert client.get(url(org), headers={"Authorization": "Bearer junk"}).status_code == 401
    assert client.get(url(org), headers=token(**{**good, "exp": 1})).status_code == 401
    assert client.get(url(org), headers=token(**{**good, "role": "owner"})).status_code == 401
    no_exp = {k: v for k, v in good.items() if k != "exp"}
    assert client.get(url(org), headers=token(**no_exp)).status_code == 401
    forged = {"Authorization": "Bearer " + jwt.encode(good, "another-key-" + "y" * 32, algorithm="HS256")}
    assert client.get(url(org), headers=forged).status_code == 401
    assert client.get(url(org), headers=token(**good)).status_code == 200
    # Another organisation: 403 on its path revealing nothing, 404 for our id under its own path.
    other = Tokens(uuid4())
    foreign = client.get(url(org, f"/{run_id}"), headers=other.header())
    assert foreign.status_code == 403 and run_id not in foreign.text
    assert client.get(url(other, f"/{run_id}"), headers=other.header()).status_code == 404
    # Read-only roles may not trigger exports.
    for role in (Role.AUDITOR, Role.ANALYST, Role.SCHEDULER):
        feb = {**JAN, "period_start": "2025-02-01", "period_end": "2025-02-28"}
        assert client.post(url(org), json=feb, headers=org.header(role)).status_code == 403


def test_idempotency_key_semantics(client: TestClient, org: Tokens) -> None:
    h = {**org.header(), "Idempotency-Key": "batch-2025-01"}
    first = client.post(url(org), json=JAN, headers=h)
    again = client.post(url(org), json=JAN, headers=h)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    changed = client.post(url(org), json={**JAN, "target": "dynamics"}, headers=h)
    assert changed.status_code == 422
    assert changed.json()["errors"][0]["field"] == "Idempotency-Key"
    # Keys are scoped to the organisation: another org's same key is a new request.
    other = Tokens(uuid4())
    theirs = client.post(url(other), json=JAN, headers={**other.header(), "Idempotency-Key": "batch-2025-01"})
    assert theirs.status_code == 202 and theirs.json()["run_id"] != first.json()["run_id"]
    # A refused request is remembered too.
    dup_h = {**org.header(), "Idempotency-Key": "dup-1"}
    assert client.post(url(org), json=JAN, headers=dup_h).status_code == 409
    assert client.post(url(org), json=JAN, headers=dup_h).json()["existing_run_id"] == first.json()["run_id"]
    assert client.post(url(org), json=JAN, headers={**org.header(), "Idempotency-Key": "bad key"}).status_code in (400, 422)


def test_same_key_while_first_is_in_flight_is_409(client: TestClient, org: Tokens) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    original = services.export_runs.request_export
    entered, release = threading.Event(), threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(10)
        return original(*args, **kwargs)

    services.export_runs.request_export = slow
    h = {**org.header(), "Idempotency-Key": "slow-1"}
    results: list[int] = []
    t = threading.Thread(target=lambda: results.append(client.post(url(org), json=JAN, headers=h).status_code))
    t.start()
    try:
        assert entered.wait(10)
        assert client.post(url(org), json=JAN, headers=h).status_code == 409
    finally:
        release.set()
        t.join(10)
        services.export_runs.request_export = original
    assert results == [202]
    assert client.post(url(org), json=JAN, headers=h).status_code == 202


def test_errors_carry_no_internals(client: TestClient, org: Tokens) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    original = services.export_runs.request_export

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("SELECT secret FROM pg_authid; password=hunter2")

    services.export_runs.request_export = broken
    try:
        response = client.post(url(org), json=JAN, headers=org.header())
    finally:
        services.export_runs.request_export = original
    assert response.status_code == 500
    assert "SELECT" not in response.text and "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert response.json()["correlation_id"] == response.headers["X-Request-ID"]


def test_oversized_bodies_are_413_declared_or_streamed(
    client: TestClient, org: Tokens, services: Services
) -> None:
    limit = services.settings.max_body_bytes
    h = {**org.header(), "Content-Type": "application/json"}
    big = b'{"claims": [' + b" " * (limit + 10) + b"]}"
    assert client.put(f"/v1/orgs/{org.org_id}/claims", content=big, headers=h).status_code == 413

    def chunks() -> Any:
        yield b'{"claims": ['
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536
        yield b"]}"

    streamed = client.put(f"/v1/orgs/{org.org_id}/claims", content=chunks(), headers=h)
    assert streamed.status_code == 413
    assert client.get(url(org), headers=org.header()).status_code == 200


def test_idempotency_answers_are_kept_at_least_a_day(
    client: TestClient, org: Tokens, services: Services
) -> None:
    import psycopg

    for key, month in (("day-old", "01"), ("two-days-old", "02")):
        body = {**JAN, "period_start": f"2025-{month}-01", "period_end": f"2025-{month}-28"}
        assert client.post(url(org), json=body, headers={**org.header(), "Idempotency-Key": key}).status_code == 202
    with psycopg.connect(services.database_url) as conn:
        conn.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'day-old'")
        conn.execute("UPDATE idempotency_keys SET created_at = now() - interval '49 hours' WHERE key = 'two-days-old'")
    assert services.idempotency.purge(services.settings.idempotency_ttl_hours) == 1
    replay = client.post(url(org), json={**JAN, "period_end": "2025-01-28"},
                         headers={**org.header(), "Idempotency-Key": "day-old"})
    assert replay.status_code == 202 and replay.headers.get("Idempotent-Replayed") == "true"
