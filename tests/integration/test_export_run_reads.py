"""GET of a run and the run list answer from the export_runs read model, equal to what the
run's events say in every state (delivery included); a row that has not caught up with its
run's last event is never shown (the reader waits for that one event, or reads the events)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient

from application.export_runs import ExportRunView
from bootstrap import Services
from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from infrastructure.projections.runner import ProjectionSupervisor
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens

FILE = {"path": "exports/run.csv", "size_bytes": 10, "sha256": "ab" * 32}
CLAIM = {"claim_id": str(uuid4()), "claimant_id": "frivillig-1", "expense_date": "2025-01-02",
         "approved_at": "2025-01-02T10:00:00+01:00", "category": "reise", "amount": "10.00",
         "currency": "NOK", "description": "Tog", "late": False, "amount_nok": None,
         "ledger_ref": "x"}


@pytest.fixture
def projections(services: Services) -> Iterator[ProjectionSupervisor]:
    """The export_runs projection kept up in this process, as `serve` does."""
    supervisor = ProjectionSupervisor(services.env, names=["export_runs"])
    supervisor.start()
    services.projections.supervisor = supervisor
    try:
        yield supervisor
    finally:
        services.projections.supervisor = None
        supervisor.stop()


def month(n: int) -> Period:
    return Period(date(2025, n, 1), date(2025, n, 28))


def runs_in_every_state(org_id: UUID) -> dict[str, ExportRun]:
    """One run per status and per delivery status; claims taken, so versions skip their events."""
    actor = Actor("coordinator", org_id, "reads")
    runs = {name: ExportRun.request(org_id, month(i), ExportTarget.XLEDGER, actor)
            for i, name in enumerate(["pending", "running", "completed", "failed", "queued",
                                      "delivering", "delivered", "delivery_failed", "retry"], 1)}
    for name, run in runs.items():
        if name == "pending":
            continue
        run.start([dict(CLAIM, claim_id=str(uuid4())) for _ in range(3)], actor)
        if name == "failed":
            run.fail("unmapped_category", "category reise has no account", actor)
        elif name != "running":
            run.complete(FILE, actor)
    for name in ("queued", "delivering", "delivered", "delivery_failed", "retry"):
        runs[name].queue_delivery(actor)
    for name in ("delivering", "delivered", "delivery_failed", "retry"):
        runs[name].start_delivery(lines_total=6, already_present=1, actor=actor)
        runs[name].record_lines_posted(1, ["a", "b"], actor)
    runs["delivered"].record_lines_posted(2, ["c", "d", "e"], actor)
    runs["delivered"].complete_delivery("2025-02-01T10:00:00+00:00", actor)
    for name in ("delivery_failed", "retry"):
        runs[name].fail_delivery("refused", "400: account 9999 is blocked", actor, lines_total=7)
    runs["retry"].retry_delivery(actor)
    return runs


def wait_for_row(db_url: str, run_id: UUID, version: int) -> None:
    deadline = time.monotonic() + 10
    with psycopg.connect(db_url, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT version FROM export_runs WHERE run_id = %s",
                               (run_id,)).fetchone()
            if row and row[0] == version:
                return
            assert time.monotonic() < deadline, f"export_runs did not reach {run_id} v{version}"
            time.sleep(0.02)


def without_url(run: dict[str, Any]) -> dict[str, Any]:
    """The run without its download URL (signed afresh on every answer)."""
    file = run["file"] and {k: v for k, v in run["file"].items() if k != "download_url"}
    return {**run, "file": file}


def test_get_and_list_from_the_read_model_equal_the_events_in_every_state(
    client: TestClient, services: Services, org: Tokens, projections: ProjectionSupervisor
) -> None:
    runs = runs_in_every_state(org.org_id)
    services.store.save(*runs.values())
    for run in runs.values():
        wait_for_row(services.database_url, run.id, run.version)
    listed = client.get(f"/v1/orgs/{org.org_id}/export-runs?limit=20",
                        headers=org.header(Role.AUDITOR)).json()
    assert len(listed) == len(runs)
    by_id = {row["run_id"]: row for row in listed}
    for name, run in runs.items():
        replayed = ExportRunView.of(services.store.get(run.id))
        assert services.export_runs.view(org.org_id, run.id) == replayed, name
        got = client.get(f"/v1/orgs/{org.org_id}/export-runs/{run.id}",
                         headers=org.header(Role.AUDITOR)).json()
        assert without_url(got) == without_url(by_id[str(run.id)]), name  # list shows GET
        assert got["version"] == run.version, name
    delivered = by_id[str(runs["delivered"].id)]["delivery"]
    assert delivered == {"status": "delivered", "attempts": 1, "lines_total": 6,
                         "lines_posted": 6, "last_error": None,
                         "delivered_at": "2025-02-01T10:00:00Z"}
    failed = by_id[str(runs["delivery_failed"].id)]["delivery"]
    assert failed["status"] == "failed" and failed["lines_posted"] == 3
    assert failed["lines_total"] == 7 and failed["last_error"]["code"] == "refused"
    assert by_id[str(runs["retry"].id)]["delivery"]["status"] == "pending"
    assert by_id[str(runs["queued"].id)]["delivery"]["attempts"] == 0
    assert by_id[str(runs["pending"].id)]["delivery"] is None
    # completed_at is when the run completed, not when its delivery moved on afterwards.
    ended = next(e.timestamp for e in services.store.history(runs["delivered"].id)
                 if e.type == "Completed")
    assert datetime.fromisoformat(by_id[str(runs["delivered"].id)]["completed_at"]) == ended


def row_changed(db_url: str, run_id: UUID, sets: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"UPDATE export_runs SET {sets} WHERE run_id = %s", (run_id,))


def test_get_answers_from_the_row_only_when_it_holds_the_runs_last_event(
    client: TestClient, services: Services, org: Tokens, projections: ProjectionSupervisor
) -> None:
    actor = Actor("coordinator", org.org_id, "reads")
    run = ExportRun.request(org.org_id, month(1), ExportTarget.DYNAMICS, actor)
    run.start([CLAIM], actor)
    services.store.save(run)
    wait_for_row(services.database_url, run.id, run.version)
    url = f"/v1/orgs/{org.org_id}/export-runs/{run.id}"
    # The answer is the row: a change made only there shows through.
    row_changed(services.database_url, run.id, "record_count = 41")
    assert client.get(url, headers=org.header()).json()["record_count"] == 41
    # A row behind the run's last event is not shown: the events answer instead.
    row_changed(services.database_url, run.id, "version = version - 1, status = 'pending'")
    got = client.get(url, headers=org.header()).json()
    assert got["status"] == "running" and got["record_count"] == 1
    assert got["version"] == run.version
    # Another organisation's run is 404 whatever the read model holds.
    other = Tokens(uuid4())
    assert client.get(f"/v1/orgs/{other.org_id}/export-runs/{run.id}",
                      headers=other.header()).status_code == 404


def test_a_write_is_read_at_once_by_get_and_by_the_list(
    client: TestClient, services: Services, org: Tokens, projections: ProjectionSupervisor
) -> None:
    body = {"period_start": "2025-03-01", "period_end": "2025-03-31", "target": "xledger"}
    for _ in range(5):
        posted = client.post(f"/v1/orgs/{org.org_id}/export-runs", json=body,
                             headers=org.header())
        assert posted.status_code == 202, posted.text
        run_id = UUID(posted.json()["run_id"])
        listed = client.get(f"/v1/orgs/{org.org_id}/export-runs", headers=org.header()).json()
        assert listed[0]["run_id"] == str(run_id) and listed[0]["status"] == "pending"
        run = services.store.get(run_id)
        run.start([dict(CLAIM, claim_id=str(uuid4()))], Actor("w", org.org_id, "r"))
        services.store.save(run)
        got: dict[str, Any] = client.get(f"/v1/orgs/{org.org_id}/export-runs/{run_id}",
                                         headers=org.header()).json()
        assert got["status"] == "running" and got["version"] == run.version
        assert projections.runners["export_runs"].position >= services.store.written_for(
            org.org_id)
        run.fail("timeout", "stopped", Actor("w", org.org_id, "r"))
        services.store.save(run)
        assert client.get(f"/v1/orgs/{org.org_id}/export-runs?status=failed",
                          headers=org.header()).json()[0]["run_id"] == str(run_id)
