"""A scheduled accounting sync with delivery enabled ends with the delivery's outcome, counted
in lines; a run's evidence bundle holds its delivery."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bootstrap import Services
from domain.schedules import previous_month
from infrastructure.settings import Settings
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens, claim_json, drain_queue
from tests.integration.delivery_helpers import (
    ACCOUNTING,
    bc,  # noqa: F401 - fixture
    bc_connection,
    delivery_settings,
)
from tests.integration.test_sync_schedules import configure, cron_at
from tests.standins.business_central import BusinessCentral


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return delivery_settings(tmp_path)


def scheduled_sync(services: Services, client, org: Tokens, db_url: str, claims: int) -> dict:
    start, _end = previous_month(datetime.now(ZoneInfo("Europe/Oslo")).date())
    bodies = [claim_json(start.isoformat(), f"{10 + i}.00", category="reise",
                         claimant_id=f"v{i}") for i in range(claims)]
    assert client.put(f"/v1/orgs/{org.org_id}/claims", json={"claims": bodies},
                      headers=org.header()).status_code == 200
    slot = (datetime.now(UTC) - timedelta(minutes=2)).replace(second=0, microsecond=0)
    configure(client, org, "dynamics", cron_at(slot), db_url)
    [sync_id] = services.upkeep.sync_tick()
    drain_queue(services)
    services.upkeep.sweep_sync_runs()  # settles syncs whose export (and delivery) ended
    answer = client.get(f"/v1/orgs/{org.org_id}/sync-runs/{sync_id}", headers=org.header())
    return dict(answer.json())


def setup(client, org: Tokens, standin: BusinessCentral, url: str) -> None:
    admin = org.header(Role.ADMIN)
    assert client.put(f"/v1/orgs/{org.org_id}/accounting-settings", json=ACCOUNTING,
                      headers=admin).status_code == 200
    assert client.put(f"/v1/orgs/{org.org_id}/delivery/dynamics",
                      json=bc_connection(standin, url), headers=admin).status_code == 200


def test_scheduled_sync_completes_with_the_lines_delivered_and_evidence_holds_them(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str], db_url: str  # noqa: F811
) -> None:
    standin, url = bc
    setup(client, org, standin, url)
    sync = scheduled_sync(services, client, org, db_url, claims=3)
    assert sync["status"] == "completed", sync
    assert (sync["records_processed"], sync["records_failed"]) == (6, 0)
    evidence = client.get(f"/v1/orgs/{org.org_id}/export-runs/{sync['export_run_id']}/evidence",
                          headers=org.header(Role.AUDITOR))
    assert evidence.status_code == 200
    bundle = zipfile.ZipFile(io.BytesIO(evidence.content))
    delivery = json.loads(bundle.read("delivery.json"))
    assert delivery["status"] == "delivered" and len(delivery["lines_posted"]) == 6
    assert standin.client_secret.encode() not in evidence.content


def test_scheduled_sync_fails_when_the_delivery_fails(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str], db_url: str  # noqa: F811
) -> None:
    standin, url = bc
    setup(client, org, standin, url)
    standin.revoke()
    sync = scheduled_sync(services, client, org, db_url, claims=2)
    assert sync["status"] == "failed", sync
    assert (sync["records_processed"], sync["records_failed"]) == (0, 4)
    assert "delivery failed: credentials_refused" in sync["error_message"]
    assert standin.client_secret not in sync["error_message"]
