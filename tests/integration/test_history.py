"""History over HTTP: each aggregate's events in order, and its state after event N or at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from application.ports import RecordedEvent
from bootstrap import Services
from interfaces.http.auth import Role
from interfaces.http.routers.history import to_out
from tests.integration.conftest import Tokens
from tests.integration.history_helpers import (
    events,
    seed_bufdir,
    seed_export_runs,
    seed_sync_runs,
)

KINDS = ("export-runs", "sync-runs", "bufdir-exports")


def assert_clean(body: list[dict[str, object]]) -> None:
    for e in body:
        assert set(e) == {"version", "type", "timestamp", "actor", "correlation_id", "data"}
        data = e["data"]
        assert isinstance(data, dict)
        assert "actor" not in data and "originator_topic" not in data
        assert "Traceback" not in str(data)


def test_export_run_events_in_order_with_actor_and_correlation_id(
    client: TestClient, services: Services, org: Tokens
) -> None:
    completed, failed = seed_export_runs(client, services, org)
    r = events(client, org, "export-runs", completed)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [e["version"] for e in body] == list(range(1, len(body) + 1))
    types = [e["type"] for e in body]
    assert types[:2] == ["Requested", "Started"] and types[-1] == "Completed"
    assert_clean(body)
    assert body[0]["actor"] == "user-1" and body[1]["actor"] == "system:worker"
    # The worker's events carry the correlation id of the request that queued the run.
    assert body[0]["correlation_id"]
    assert {e["correlation_id"] for e in body} == {body[0]["correlation_id"]}
    assert body[0]["data"]["period_start"] == "2025-01-01"
    assert body[0]["data"]["requested_via"] == "api"
    assert body[1]["data"]["record_count"] == 2 and body[-1]["data"]["record_count"] == 2
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in body]
    assert stamps == sorted(stamps)

    failed_body = events(client, org, "export-runs", failed).json()
    assert [e["type"] for e in failed_body][:2] == ["Requested", "Started"]
    assert failed_body[-1]["type"] == "Failed"
    assert failed_body[-1]["data"]["code"] == "unmapped_category"
    assert_clean(failed_body)


def test_correlation_id_is_the_request_id_of_the_request(
    client: TestClient, org: Tokens
) -> None:
    r = client.post(f"/v1/orgs/{org.org_id}/export-runs",
                    json={"period_start": "2025-05-01", "period_end": "2025-05-31",
                          "target": "dynamics"},
                    headers={**org.header(), "X-Request-ID": "req-audit-42"})
    assert r.status_code == 202, r.text
    body = events(client, org, "export-runs", r.json()["run_id"], Role.ANALYST).json()
    assert body[0]["correlation_id"] == "req-audit-42"


@pytest.mark.parametrize("role", list(Role))
def test_every_role_of_the_org_reads_history(
    client: TestClient, org: Tokens, role: Role
) -> None:
    r = client.post(f"/v1/orgs/{org.org_id}/export-runs",
                    json={"period_start": "2025-06-01", "period_end": "2025-06-30",
                          "target": "xledger"}, headers=org.header())
    run_id = r.json()["run_id"]
    assert events(client, org, "export-runs", run_id, role).status_code == 200


def test_other_orgs_ids_wrong_kinds_and_bad_ids(
    client: TestClient, services: Services, org: Tokens
) -> None:
    completed, _ = seed_export_runs(client, services, org)
    bufdir, _ = seed_bufdir(client, services, org)
    other = Tokens(uuid4())
    # Another organisation's id in one's own path: not found; another org in the path: forbidden.
    for kind, id_ in (("export-runs", completed), ("bufdir-exports", bufdir)):
        assert events(client, other, kind, id_).status_code == 404
        r = client.get(f"/v1/orgs/{org.org_id}/{kind}/{id_}/events",
                       headers=other.header(Role.AUDITOR))
        assert r.status_code == 403
        assert client.get(f"/v1/orgs/{org.org_id}/{kind}/{id_}/events").status_code == 401
    # The id must be of the kind in the path.
    assert events(client, org, "sync-runs", completed).status_code == 404
    assert events(client, org, "bufdir-exports", completed).status_code == 404
    assert events(client, org, "export-runs", bufdir).status_code == 404
    for kind in KINDS:
        assert events(client, org, kind, uuid4()).status_code == 404
        for bad in ("latest", "not-a-uuid", "%00", "1" * 300):
            assert events(client, org, kind, bad).status_code in (404, 422)


def test_bufdir_export_history_version_and_as_of(
    client: TestClient, services: Services, org: Tokens
) -> None:
    export_id, empty_id = seed_bufdir(client, services, org)
    body = events(client, org, "bufdir-exports", export_id).json()
    assert_clean(body)
    assert [e["version"] for e in body] == list(range(1, len(body) + 1))
    assert body[0]["type"] == "Initialised" and body[-1]["type"] == "Completed"
    assert [e["type"] for e in events(client, org, "bufdir-exports", empty_id).json()][-1] == (
        "CompletedEmpty"
    )
    url = f"/v1/orgs/{org.org_id}/bufdir-exports/{export_id}"
    h = org.header(Role.AUDITOR)
    first = client.get(url, params={"version": 1}, headers=h).json()
    assert first["status"] == "initialised" and first["download_url"] is None
    last = client.get(url, params={"version": len(body)}, headers=h).json()
    assert last["status"] == "completed" and last["row_count"] == 5
    assert client.get(url, headers=h).json()["status"] == "completed"
    for too_far in (len(body) + 1, 10**12):
        assert client.get(url, params={"version": too_far}, headers=h).status_code == 404
    for bad in ("0", "-1", "x", "1.5", "9" * 40):
        assert client.get(url, params={"version": bad}, headers=h).status_code in (404, 422)
    # as_of: before creation nothing, at each event's time the state after it.
    created = datetime.fromisoformat(body[0]["timestamp"])
    before = (created - timedelta(seconds=1)).isoformat()
    assert client.get(url, params={"as_of": before}, headers=h).status_code == 404
    at_first = client.get(url, params={"as_of": body[0]["timestamp"]}, headers=h).json()
    assert at_first["status"] == "initialised"
    at_second = client.get(url, params={"as_of": body[1]["timestamp"]}, headers=h).json()
    assert at_second["status"] == "querying_activities"
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert client.get(url, params={"as_of": later}, headers=h).json()["status"] == "completed"
    both = client.get(url, params={"as_of": later, "version": 2}, headers=h).json()
    assert both["status"] == "querying_activities"
    for odd in ("2024-01-01T00:00:00", "yesterday", "0001-01-01T00:00:00+14:00",
                "9999-12-31T23:59:59-14:00"):
        assert client.get(url, params={"as_of": odd}, headers=h).status_code in (200, 404, 422)
    other = Tokens(uuid4())
    assert client.get(f"/v1/orgs/{other.org_id}/bufdir-exports/{export_id}",
                      params={"version": 1}, headers=other.header(Role.AUDITOR)).status_code == 404


def test_export_run_version_and_as_of(client: TestClient, services: Services, org: Tokens) -> None:
    completed, _ = seed_export_runs(client, services, org)
    body = events(client, org, "export-runs", completed).json()
    url = f"/v1/orgs/{org.org_id}/export-runs/{completed}"
    h = org.header(Role.ANALYST)
    assert client.get(url, params={"version": 1}, headers=h).json()["status"] == "pending"
    assert client.get(url, params={"version": 2}, headers=h).json()["status"] == "running"
    assert client.get(url, params={"version": len(body) + 1}, headers=h).status_code == 404
    created = datetime.fromisoformat(body[0]["timestamp"])
    before = (created - timedelta(microseconds=1)).isoformat()
    assert client.get(url, params={"as_of": before}, headers=h).status_code == 404
    at = client.get(url, params={"as_of": body[1]["timestamp"]}, headers=h).json()
    assert at["status"] == "running"


def test_secret_looking_keys_never_leave(services: Services) -> None:
    event = RecordedEvent(
        version=1, type="Configured", timestamp=datetime.now(UTC),
        actor={"sub": "admin-1", "org_id": str(uuid4()), "correlation_id": "c-1"},
        data={"actor": {"sub": "x"}, "api_key": "k", "nested": {"password": "p", "ok": 1},
              "items": [{"client_secret": "s", "name": "n"}], "originator_topic": "t"},
    )
    out = to_out(event)
    assert out.actor == "admin-1" and out.correlation_id == "c-1"
    assert out.data == {"nested": {"ok": 1}, "items": [{"name": "n"}]}


def test_sync_run_events(client: TestClient, services: Services, org: Tokens) -> None:
    ok_id, failed_id = seed_sync_runs(services, org.org_id)
    body = events(client, org, "sync-runs", ok_id, Role.ANALYST).json()
    assert [(e["version"], e["type"]) for e in body] == [(1, "Started"), (2, "Completed")]
    assert body[0]["actor"] == "scheduler-1" and body[0]["correlation_id"] == "corr-sync"
    assert body[0]["data"]["integration_type"] == "xledger"
    assert_clean(body)
    failed = events(client, org, "sync-runs", failed_id).json()
    assert failed[-1]["type"] == "Failed"
    assert failed[-1]["data"]["error_message"] == "connection refused by host"
    assert events(client, org, "export-runs", ok_id).status_code == 404
    assert events(client, Tokens(uuid4()), "sync-runs", ok_id).status_code == 404
    # The history routes never shadow the sync runs router's own paths.
    latest = client.get(f"/v1/orgs/{org.org_id}/sync-runs/latest", headers=org.header())
    assert latest.status_code in (200, 404) and latest.status_code != 422
