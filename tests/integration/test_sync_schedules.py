"""Sync schedules: the API, a scheduler tick that starts each scheduled sync once (late, repeated
and concurrent ticks, a missed gap), drift in /metrics, and the scheduled accounting sync."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from application.ports import ScheduledSyncTaken
from bootstrap import Services
from domain.schedules import previous_month
from domain.shared import Actor
from interfaces.demo import ORGS, demo_settings
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens, claim_json, drain_queue
from tests.integration.sync_helpers import rows


def sched_url(org: Tokens, kind: str = "xledger") -> str:
    return f"/v1/orgs/{org.org_id}/sync-schedules/{kind}"


def configure(
    client: TestClient,
    org: Tokens,
    kind: str,
    cron: str,
    db_url: str,
    days_ago: int = 3,
    timezone: str = "UTC",
) -> None:
    """A schedule configured `days_ago` days ago (its table row backdated, as if it had been)."""
    r = client.put(
        sched_url(org, kind),
        json={"cron": cron, "timezone": timezone},
        headers=org.header(Role.ADMIN),
    )
    assert r.status_code == 200, r.text
    rows(
        db_url,
        "UPDATE sync_schedules SET configured_at = now() - make_interval(days => %s) "
        "WHERE org_id = %s AND integration_type = %s RETURNING 1",
        days_ago,
        org.org_id,
        kind,
    )


def cron_at(moment: datetime) -> str:
    """A daily cron (UTC) firing at `moment`'s minute."""
    return f"{moment.minute} {moment.hour} * * *"


def started_runs(db_url: str, org_id: UUID) -> list[tuple[Any, ...]]:
    return rows(
        db_url,
        "SELECT key, run_id, scheduled_for FROM scheduled_sync_starts "
        "WHERE org_id = %s ORDER BY scheduled_for",
        org_id,
    )


def drift_count() -> float:
    return REGISTRY.get_sample_value("export_service_sync_drift_flagged_total") or 0.0


def test_schedule_api(client: TestClient, org: Tokens) -> None:
    r = client.put(sched_url(org), json={"cron": "0 6 1 * *"}, headers=org.header(Role.ADMIN))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["cron"], body["timezone"], body["period"]) == (
        "0 6 1 * *",
        "Europe/Oslo",
        "previous_month",
    )
    same = client.put(sched_url(org), json={"cron": "0 6 1 * *"}, headers=org.header())
    assert same.json()["version"] == body["version"]  # nothing changed: no event
    got = client.get(sched_url(org), headers=org.header(Role.AUDITOR))
    assert got.status_code == 200 and got.json()["cron"] == "0 6 1 * *"
    assert client.get(sched_url(org, "dynamics"), headers=org.header()).status_code == 404
    assert (
        client.put(
            sched_url(org), json={"cron": "0 6 1 * *"}, headers=org.header(Role.SCHEDULER)
        ).status_code
        == 403
    )
    for bad, field in (
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * * * * *"}, "cron"),
        ({"cron": "0 6 * * *", "timezone": "Mars/Base"}, "timezone"),
        ({"cron": "0 6 * * *", "timezone": "../../etc/passwd"}, "timezone"),
        ({"cron": "0 6 * * *", "period": "last_week"}, "period"),
        ({"cron": 5}, "cron"),
    ):
        answer = client.put(sched_url(org), json=bad, headers=org.header(Role.ADMIN))
        assert answer.status_code == 422, (bad, answer.text)
        assert field in {e["field"] for e in answer.json()["errors"]}, answer.json()
    assert (
        client.put(
            sched_url(org, "a%00b"), json={"cron": "0 6 * * *"}, headers=org.header()
        ).status_code
        == 422
    )
    assert client.delete(sched_url(org), headers=org.header(Role.AUDITOR)).status_code == 403
    assert client.delete(sched_url(org), headers=org.header()).status_code == 204
    assert client.get(sched_url(org), headers=org.header()).status_code == 404
    assert client.delete(sched_url(org), headers=org.header()).status_code == 404
    again = client.put(
        sched_url(org), json={"cron": "0 7 * * *", "timezone": "UTC"}, headers=org.header()
    )
    assert again.status_code == 200 and again.json()["timezone"] == "UTC"


def test_missed_ticks_are_caught_up_once_and_drift_is_flagged(
    services: Services, client: TestClient, org: Tokens, db_url: str
) -> None:
    slot = (datetime.now(UTC) - timedelta(minutes=20)).replace(second=0, microsecond=0)
    configure(client, org, "hubspot", cron_at(slot), db_url, days_ago=3)  # 3 slots missed
    before = drift_count()
    started = services.upkeep.sync_tick()
    assert len(started) == 1
    assert [r[2] for r in started_runs(db_url, org.org_id)] == [slot]
    assert services.upkeep.sync_tick() == []  # a repeated tick
    run = client.get(f"/v1/orgs/{org.org_id}/sync-runs/{started[0]}", headers=org.header()).json()
    assert run["triggered_by"] == "scheduler" and run["drift_flagged"] is True
    assert run["scheduled_for"].startswith(slot.strftime("%Y-%m-%dT%H:%M"))
    assert 20 * 60 <= run["drift_seconds"] < 30 * 60
    assert drift_count() == before + 1
    metrics = client.get("/metrics").text
    assert "export_service_sync_drift_flagged_total" in metrics


def test_on_time_start_is_not_flagged(
    services: Services, client: TestClient, org: Tokens, db_url: str
) -> None:
    slot = (datetime.now(UTC) - timedelta(minutes=1)).replace(second=0, microsecond=0)
    configure(client, org, "hubspot", cron_at(slot), db_url, days_ago=1)
    before = drift_count()
    [run_id] = services.upkeep.sync_tick()
    run = services.app.sync_runs.view(org.org_id, run_id)
    assert run.drift_flagged is False and run.scheduled_for == slot
    assert drift_count() == before


def test_a_late_repeated_start_of_the_same_scheduled_time_is_refused_by_the_database(
    services: Services, client: TestClient, org: Tokens, db_url: str
) -> None:
    slot = (datetime.now(UTC) - timedelta(minutes=2)).replace(second=0, microsecond=0)
    configure(client, org, "hubspot", cron_at(slot), db_url)
    [first] = services.upkeep.sync_tick()
    r = client.post(
        f"/v1/orgs/{org.org_id}/sync-runs/{first}/status",
        json={"status": "completed"},
        headers=org.header(),
    )
    assert r.status_code == 200  # nothing is running now: only the key can refuse
    actor = Actor("system:scheduler", org.org_id, "late")
    with pytest.raises(ScheduledSyncTaken) as taken:
        services.app.sync_runs.start(org.org_id, "hubspot", "scheduler", actor, slot)
    assert taken.value.existing_run_id == first
    # Even a tick that lost its memory of the last start cannot start it again.
    rows(
        db_url,
        "UPDATE sync_schedules SET configured_at = now() - interval '2 days' "
        "WHERE org_id = %s RETURNING 1",
        org.org_id,
    )
    assert services.upkeep.sync_tick() == []
    assert len(started_runs(db_url, org.org_id)) == 1


def test_concurrent_ticks_on_many_workers_start_each_scheduled_sync_once(
    services: Services, client: TestClient, db_url: str
) -> None:
    slot = (datetime.now(UTC) - timedelta(minutes=3)).replace(second=0, microsecond=0)
    orgs = [Tokens(uuid4()) for _ in range(3)]
    for org in orgs:
        configure(client, org, "hubspot", cron_at(slot), db_url)
        configure(client, org, "tripletex", cron_at(slot), db_url)
    ticks = 8
    barrier = threading.Barrier(ticks)

    def tick(_: int) -> list[UUID]:
        barrier.wait()
        return services.upkeep.sync_tick()

    with ThreadPoolExecutor(ticks) as threads:
        results = list(threads.map(tick, range(ticks)))
    started = [run for result in results for run in result]
    assert len(started) == len(set(started)) == 6, results
    for org in orgs:
        assert len(started_runs(db_url, org.org_id)) == 2
    events = rows(
        db_url, "SELECT count(*) FROM export_service_events WHERE topic LIKE %s", "%SyncRun.Started"
    )
    assert events == [(6,)]


def test_scheduled_accounting_sync_exports_the_closed_month_once(
    services: Services, client: TestClient, org: Tokens, db_url: str
) -> None:
    today = datetime.now(ZoneInfo("Europe/Oslo")).date()
    start, end = previous_month(today)
    claims = [claim_json(start.isoformat()), claim_json(end.isoformat(), "55.00")]
    assert (
        client.put(
            f"/v1/orgs/{org.org_id}/accounting-settings",
            json=demo_settings(ORGS[0]),
            headers=org.header(Role.ADMIN),
        ).status_code
        == 200
    )
    assert (
        client.put(
            f"/v1/orgs/{org.org_id}/claims", json={"claims": claims}, headers=org.header()
        ).status_code
        == 200
    )
    slot = (datetime.now(UTC) - timedelta(minutes=2)).replace(second=0, microsecond=0)
    configure(client, org, "xledger", cron_at(slot), db_url)
    [sync_id] = services.upkeep.sync_tick()
    drain_queue(services)
    sync = client.get(f"/v1/orgs/{org.org_id}/sync-runs/{sync_id}", headers=org.header()).json()
    assert sync["status"] == "completed", sync
    assert sync["records_processed"] == 2 and sync["export_run_id"] is not None
    export = client.get(
        f"/v1/orgs/{org.org_id}/export-runs/{sync['export_run_id']}", headers=org.header()
    ).json()
    assert export["status"] == "completed"
    assert (export["period_start"], export["period_end"]) == (start.isoformat(), end.isoformat())
    # A second scheduled sync of the same closed month answers with the same export run.
    slot2 = slot - timedelta(minutes=1)
    rows(
        db_url,
        "UPDATE sync_schedules SET cron = %s WHERE org_id = %s RETURNING 1",
        cron_at(slot2),
        org.org_id,
    )
    rows(db_url, "DELETE FROM scheduled_sync_starts WHERE org_id = %s RETURNING 1", org.org_id)
    [second] = services.upkeep.sync_tick()
    drain_queue(services)
    again = services.app.sync_runs.view(org.org_id, second)
    assert again.status == "completed" and again.export_run_id == UUID(sync["export_run_id"])
    exports = rows(
        db_url,
        "SELECT count(*) FROM export_service_events WHERE topic LIKE %s",
        "%ExportRun.Requested",
    )
    assert exports == [(1,)]


def test_scheduled_accounting_sync_fails_with_its_export(
    services: Services, client: TestClient, org: Tokens, db_url: str
) -> None:
    today = datetime.now(ZoneInfo("Europe/Oslo")).date()
    start, _ = previous_month(today)
    assert (
        client.put(
            f"/v1/orgs/{org.org_id}/claims",
            json={"claims": [claim_json(start.isoformat())]},
            headers=org.header(),
        ).status_code
        == 200
    )
    slot = (datetime.now(UTC) - timedelta(minutes=2)).replace(second=0, microsecond=0)
    configure(client, org, "dynamics", cron_at(slot), db_url)
    [sync_id] = services.upkeep.sync_tick()
    drain_queue(services)  # no accounting settings: the export fails (unmapped_category)
    sync = services.app.sync_runs.view(org.org_id, sync_id)
    assert sync.status == "failed" and sync.export_run_id is not None
    assert sync.error_message is not None and "unmapped_category" in sync.error_message
    assert rows(db_url, "SELECT count(*) FROM running_syncs WHERE org_id = %s", org.org_id) == [
        (0,)
    ]


def test_the_worker_registers_the_periodic_tick_and_archival(services: Services) -> None:
    from infrastructure.queue import build_queue

    queue = build_queue(services.database_url, services.task_handlers())
    periodic = {t.periodic_id: t.cron for t in queue.periodic_registry.periodic_tasks.values()}
    assert periodic["sync_tick"] == "* * * * *"
    assert "sync_archive" in periodic
    assert {"sync_tick", "run_accounting_sync", "settle_accounting_sync"} <= set(queue.tasks)


def test_a_queued_tick_job_starts_due_syncs_on_the_worker(
    services: Services, client: TestClient, org: Tokens, db_url: str
) -> None:
    from psycopg.types.json import Jsonb

    from infrastructure.event_store import DEFER_JOB_SQL, QUEUE

    slot = (datetime.now(UTC) - timedelta(minutes=1)).replace(second=0, microsecond=0)
    configure(client, org, "hubspot", cron_at(slot), db_url)
    with psycopg.connect(db_url) as conn:
        args = {"queue": QUEUE, "task": "sync_tick", "args": Jsonb({"timestamp": 0})}
        conn.execute(DEFER_JOB_SQL, args)
    drain_queue(services)
    assert [r[2] for r in started_runs(db_url, org.org_id)] == [slot]
