"""Sync runs end to end: the running guard under parallel starts, the HTTP contract, sanitised
messages, the sync_run_log read model (latest, history, archive, rebuild) and stuck runs."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from application.ports import SyncAlreadyRunning
from application.sync_runs import SyncRuns
from bootstrap import Services
from domain.shared import Actor
from infrastructure.event_store import PostgresEventStore, open_event_log
from infrastructure.projections.sync_run_log import PostgresSyncRunLog
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens
from tests.integration.sync_helpers import FixedClock, catch_up, guard_rows, rows, sync_log_running

PARALLEL = 24


def url(org: Tokens, tail: str = "") -> str:
    return f"/v1/orgs/{org.org_id}/sync-runs{tail}"


def start(
    client: TestClient,
    org: Tokens,
    kind: str = "xledger",
    role: Role = Role.SCHEDULER,
) -> Any:
    body = {"integration_type": kind, "triggered_by": "scheduler"}
    return client.post(url(org), json=body, headers=org.header(role))


def finish(client: TestClient, org: Tokens, run_id: str, **body: Any) -> Any:
    payload = {"status": "completed", "records_processed": 3, "records_failed": 0, **body}
    return client.post(url(org, f"/{run_id}/status"), json=payload, headers=org.header())


def test_24_parallel_starts_leave_exactly_one_running(db_url: str) -> None:
    org_id = uuid4()
    log = open_event_log(db_url, pool_size=PARALLEL)
    reads = PostgresSyncRunLog(None)  # type: ignore[arg-type]  # not read here
    runs = SyncRuns(PostgresEventStore(log), reads, FixedClock(datetime.now(UTC)))
    barrier = threading.Barrier(PARALLEL)

    def attempt(i: int) -> UUID | Exception:
        actor = Actor(f"user-{i}", org_id, f"req-{i}")
        barrier.wait()
        try:
            return runs.start(org_id, "xledger", "manual", actor).id
        except Exception as refused:
            return refused

    try:
        with ThreadPoolExecutor(PARALLEL) as threads:
            results = list(threads.map(attempt, range(PARALLEL)))
    finally:
        log.close()
    accepted = [r for r in results if isinstance(r, UUID)]
    refused = [r for r in results if not isinstance(r, UUID)]
    assert len(accepted) == 1, results
    assert len(refused) == PARALLEL - 1
    assert all(isinstance(r, SyncAlreadyRunning) for r in refused), refused
    assert {r.existing_run_id for r in refused if isinstance(r, SyncAlreadyRunning)} == {
        accepted[0]
    }
    assert guard_rows(db_url, org_id) == [(accepted[0], "xledger", True)]
    events = rows(
        db_url, "SELECT count(*) FROM export_service_events WHERE topic LIKE %s", "%SyncRun.Started"
    )
    assert events == [(1,)]


def test_24_parallel_http_starts_answer_one_201_and_23_409(client: TestClient, org: Tokens) -> None:
    barrier = threading.Barrier(PARALLEL)

    def attempt(_: int) -> Any:
        barrier.wait()
        return start(client, org)

    with ThreadPoolExecutor(PARALLEL) as threads:
        answers = list(threads.map(attempt, range(PARALLEL)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * (PARALLEL - 1), codes
    winner = next(a.json()["run_id"] for a in answers if a.status_code == 201)
    assert {a.json()["existing_run_id"] for a in answers if a.status_code == 409} == {winner}


def test_lifecycle_over_http(client: TestClient, org: Tokens, db_url: str) -> None:
    first = start(client, org)
    assert first.status_code == 201 and first.json()["status"] == "running"
    run_id = first.json()["run_id"]
    other = start(client, org, "dynamics", Role.COORDINATOR)  # another type runs beside it
    assert other.status_code == 201
    busy = start(client, org, role=Role.ADMIN)
    assert busy.status_code == 409 and busy.json()["existing_run_id"] == run_id
    done = finish(client, org, run_id, records_processed=7, records_failed=1)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "completed" and body["records_processed"] == 7
    assert body["records_failed"] == 1 and body["duration_seconds"] >= 0
    assert body["ended_at"] is not None and body["run_id"] == run_id
    assert finish(client, org, run_id).status_code == 409  # ends once
    again = finish(client, org, run_id, status="cancelled")
    assert again.status_code == 409
    assert guard_rows(db_url, org.org_id) == [(UUID(other.json()["run_id"]), "dynamics", True)]
    assert start(client, org).status_code == 201  # the guard row went with the end event
    # The run from its events: now, after event 1, as of a moment.
    now = client.get(url(org, f"/{run_id}"), headers=org.header(Role.AUDITOR)).json()
    assert now["status"] == "completed" and now["version"] == 2
    v1 = client.get(url(org, f"/{run_id}?version=1"), headers=org.header()).json()
    assert v1["status"] == "running" and v1["ended_at"] is None
    early = client.get(
        url(org, f"/{run_id}"), params={"as_of": "2000-01-01T00:00:00+00:00"}, headers=org.header()
    )
    assert early.status_code == 404
    events = client.get(url(org, f"/{run_id}/events"), headers=org.header()).json()
    assert [e["type"] for e in events] == ["Started", "Completed"]
    assert client.get(url(org, f"/{uuid4()}"), headers=org.header()).status_code == 404
    assert finish(client, org, str(uuid4())).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"integration_type": "x\x00y", "triggered_by": "manual"}, "integration_type"),
        ({"integration_type": "x\ny", "triggered_by": "manual"}, "integration_type"),
        ({"integration_type": "a" * 65, "triggered_by": "manual"}, "integration_type"),
        ({"integration_type": "a b", "triggered_by": "manual"}, "integration_type"),
        ({"integration_type": "../etc", "triggered_by": "manual"}, "integration_type"),
        ({"integration_type": "", "triggered_by": "manual"}, "integration_type"),
        ({"integration_type": 5, "triggered_by": "manual"}, "integration_type"),
        ({"integration_type": "xledger", "triggered_by": "cron"}, "triggered_by"),
        ({"integration_type": "xledger"}, "triggered_by"),
        ({"integration_type": "xledger", "triggered_by": "manual", "x": 1}, "x"),
    ],
)
def test_bad_start_bodies_are_422_naming_the_field(
    client: TestClient, org: Tokens, body: dict[str, Any], field: str
) -> None:
    answer = client.post(url(org), json=body, headers=org.header())
    assert answer.status_code == 422, answer.text
    assert field in {e["field"] for e in answer.json()["errors"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "running"}, "status"),
        ({"status": "completed", "records_processed": -1}, "records_processed"),
        ({"status": "completed", "records_processed": 1.5}, "records_processed"),
        ({"status": "completed", "records_processed": "3"}, "records_processed"),
        ({"status": "completed", "records_failed": True}, "records_failed"),
        ({"status": "completed", "records_failed": 2**40}, "records_failed"),
        ({"status": "failed", "error_message": 12}, "error_message"),
    ],
)
def test_bad_status_bodies_are_422_naming_the_field(
    client: TestClient, org: Tokens, body: dict[str, Any], field: str
) -> None:
    run_id = start(client, org).json()["run_id"]
    answer = client.post(url(org, f"/{run_id}/status"), json=body, headers=org.header())
    assert answer.status_code == 422, answer.text
    assert field in {e["field"] for e in answer.json()["errors"]}


def test_roles_and_organisations(client: TestClient, org: Tokens) -> None:
    assert start(client, org, role=Role.AUDITOR).status_code == 403
    assert start(client, org, role=Role.ANALYST).status_code == 403
    assert client.post(url(org), json={}).status_code == 401
    run_id = start(client, org).json()["run_id"]
    stranger = Tokens(uuid4())
    assert client.get(url(stranger, f"/{run_id}"), headers=stranger.header()).status_code == 404
    assert client.get(url(org, "/latest"), headers=stranger.header()).status_code == 403


def test_error_message_is_sanitised_before_it_is_stored(
    client: TestClient, org: Tokens, db_url: str
) -> None:
    run_id = start(client, org).json()["run_id"]
    raw = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/xledger.py", line 42, in push\n'
        "requests.HTTPError: 401 for https://svc:hunter2pass@api.xledger.net/graphql "
        "password=hunter2pass api_key=AKIAXXXXSECRETKEY Authorization: Bearer eyJabc.def.ghi"
    ) + " x" * 3000
    answer = finish(client, org, run_id, status="failed", error_message=raw)
    assert answer.status_code == 200, answer.text
    message = answer.json()["error_message"]
    assert len(message) <= 2000
    for secret in ("hunter2pass", "AKIAXXXXSECRETKEY", "eyJabc", "/srv/app", "Traceback"):
        assert secret not in message
        stored = rows(
            db_url,
            "SELECT count(*) FROM export_service_events WHERE convert_from(state, 'UTF8') LIKE %s",
            f"%{secret}%",
        )
        assert stored == [(0,)]


def test_latest_history_and_archive_survive_a_rebuild(
    services: Services, client: TestClient, org: Tokens, db_url: str
) -> None:
    from infrastructure.projections.runner import rebuild

    with sync_log_running(services):
        ids: dict[str, list[str]] = {}
        for kind in ("xledger", "dynamics", "hubspot", "xledger", "dynamics", "xledger"):
            run_id = start(client, org, kind).json()["run_id"]
            ids.setdefault(kind, []).append(run_id)
            if kind != "xledger" or len(ids[kind]) < 3:
                assert finish(client, org, run_id).status_code == 200
        other = Tokens(uuid4())
        start(client, other, "xledger")
        latest = client.get(url(org, "/latest"), headers=org.header(Role.AUDITOR)).json()
        assert {r["integration_type"]: r["run_id"] for r in latest} == {
            k: v[-1] for k, v in ids.items()
        }
        assert next(r for r in latest if r["integration_type"] == "xledger")["status"] == "running"
        history = client.get(
            url(org), params={"integration_type": "xledger", "limit": 2}, headers=org.header()
        ).json()
        assert [r["run_id"] for r in history] == ids["xledger"][::-1][:2]
        everything = client.get(url(org), headers=org.header()).json()
        started = [r["started_at"] for r in everything]
        assert started == sorted(started, reverse=True) and len(everything) == 6
        done = next(r for r in everything if r["status"] == "completed")
        assert done["duration_seconds"] is not None and done["duration_seconds"] >= 0
        bad = client.get(url(org), params={"integration_type": "a\x00b"}, headers=org.header())
        assert bad.status_code == 422

        # 91 days later the daily job archives every finished run; the running one stays hot.
        later = datetime.now(UTC) + timedelta(days=91)
        assert services.app.sync_runs.archive(now=later) == [org.org_id]
        assert services.app.sync_runs.archive(now=later) == []  # the same cut-off again: nothing
        catch_up(services)
        hot = client.get(url(org), headers=org.header()).json()
        assert [r["run_id"] for r in hot] == [ids["xledger"][-1]]
        # A run ending after the cut-off that started before it goes straight to the archive.
        assert finish(client, org, ids["xledger"][-1]).status_code == 200
        catch_up(services)
        assert client.get(url(org), headers=org.header()).json() == []
        assert client.get(url(org, "/latest"), headers=org.header()).json() == []
        archived = client.get(
            url(org), params={"include_archived": "true"}, headers=org.header()
        ).json()
        assert len(archived) == 6 and all(r["archived"] for r in archived)
        assert len(client.get(url(other), headers=other.header()).json()) == 1
    before = snapshot(db_url)
    rebuild(services.env, "sync_run_log")
    assert snapshot(db_url) == before


def snapshot(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: rows(db_url, f"SELECT * FROM {table} ORDER BY 1")
        for table in ("sync_run_log", "sync_run_log_archive", "sync_run_log_cutoffs")
    }


def test_stuck_run_is_failed_by_the_sweep_and_its_guard_released(
    services: Services, client: TestClient, org: Tokens, db_url: str
) -> None:

    run_id = start(client, org).json()["run_id"]
    fresh = start(client, org, "hubspot").json()["run_id"]
    services.upkeep.sweep()
    assert len(guard_rows(db_url, org.org_id)) == 2  # nothing is stuck yet
    services.app.sync_runs.clock = FixedClock(datetime.now(UTC) + timedelta(hours=1, seconds=5))
    services.app.sync_runs.timeout_of = lambda kind: timedelta(hours=2 if kind == "hubspot" else 1)
    services.upkeep.sweep()
    run = client.get(url(org, f"/{run_id}"), headers=org.header()).json()
    assert run["status"] == "failed"
    assert "timed out" in run["error_message"] and "3600 seconds" in run["error_message"]
    assert guard_rows(db_url, org.org_id) == [(UUID(fresh), "hubspot", True)]
    assert start(client, org).status_code == 201


def test_parallel_status_updates_end_the_run_exactly_once(client: TestClient, org: Tokens) -> None:
    run_id = start(client, org).json()["run_id"]
    barrier = threading.Barrier(8)

    def attempt(i: int) -> int:
        barrier.wait()
        status = ("completed", "failed", "cancelled")[i % 3]
        return int(finish(client, org, run_id, status=status).status_code)

    with ThreadPoolExecutor(8) as threads:
        codes = sorted(threads.map(attempt, range(8)))
    assert codes == [200] + [409] * 7, codes
    events = client.get(url(org, f"/{run_id}/events"), headers=org.header()).json()
    assert len(events) == 2
