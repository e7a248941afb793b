"""An ExportRun.Requested event stored in the v1 shape (before `requested_via` existed) still
reads back through the event store, the HTTP API and the export_runs projection."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import psycopg
from fastapi.testclient import TestClient

from bootstrap import Services
from domain.export_run import ExportRun, ExportRunStatus
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.projections.runner import rebuild
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens

SELECT_ROW = (
    f"SELECT originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
    "WHERE originator_id = %s AND originator_version = 1"
)
INSERT_ROW = (
    f"INSERT INTO {EVENTS_TABLE} (originator_id, originator_version, topic, state) "
    "VALUES (%s, 1, %s, %s)"
)


def v1_copy(db_url: str, template_run: UUID) -> UUID:
    """Store a new run's Requested event as the code before v2 wrote it; returns its id."""
    with psycopg.connect(db_url) as conn:
        row: Any = conn.execute(SELECT_ROW, (template_run,)).fetchone()
        state = json.loads(bytes(row[3]).decode("utf-8"))
        assert state.pop("class_version") == 2 and state.pop("requested_via") == "api"
        state["period_start"]["_data_"] = "2030-01-01"
        state["period_end"]["_data_"] = "2030-01-31"
        old_id = uuid4()
        conn.execute(INSERT_ROW, (old_id, row[2], json.dumps(state).encode("utf-8")))
    return old_id


def test_v1_requested_event_reads_back(
    client: TestClient, services: Services, db_url: str, org: Tokens
) -> None:
    r = client.post(f"/v1/orgs/{org.org_id}/export-runs",
                    json={"period_start": "2025-01-01", "period_end": "2025-01-31",
                          "target": "xledger"}, headers=org.header())
    assert r.status_code == 202, r.text
    old_id = v1_copy(db_url, UUID(r.json()["run_id"]))

    # Through the event store: the upcast fills in the field the v1 shape did not have.
    run = services.store.get(old_id)
    assert isinstance(run, ExportRun)
    assert run.requested_via == "api" and run.status is ExportRunStatus.PENDING
    assert run.period_start == date(2030, 1, 1) and run.org_id == org.org_id
    (requested,) = services.store.history(old_id)
    assert requested.type == "Requested" and requested.data["requested_via"] == "api"

    # Through the API: the state and the history of the old run.
    got = client.get(f"/v1/orgs/{org.org_id}/export-runs/{old_id}", headers=org.header(Role.AUDITOR))
    assert got.status_code == 200, got.text
    assert got.json()["status"] == "pending" and got.json()["period_start"] == "2030-01-01"
    history = client.get(f"/v1/orgs/{org.org_id}/export-runs/{old_id}/events",
                         headers=org.header(Role.AUDITOR))
    assert history.status_code == 200, history.text
    assert history.json()[0]["data"]["requested_via"] == "api"
    assert history.json()[0]["actor"] == "user-1"

    # Through a projection replaying the whole log: the old run is in the read model.
    rebuild(services.env, "export_runs", timeout=30)
    listed = client.get(f"/v1/orgs/{org.org_id}/export-runs", headers=org.header(Role.ANALYST))
    assert str(old_id) in {row["run_id"] for row in listed.json()}

    # The old row itself stays as it was stored: reading never rewrites history.
    with psycopg.connect(db_url) as conn:
        row: Any = conn.execute(SELECT_ROW, (old_id,)).fetchone()
    assert "requested_via" not in json.loads(bytes(row[3]).decode("utf-8"))
