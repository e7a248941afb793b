"""The overview follows unfinished runs in place: each such row asks for itself again and gets
204 while nothing changed, then the new row and a line for the screen reader's status region."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from bootstrap import Services
from interfaces.http.auth import Role, mint
from tests.integration.bufdir_helpers import put_activities, request_export
from tests.integration.conftest import SECRET, Tokens, claim_json, drain_queue
from tests.integration.projection_helpers import catch_up
from tests.integration.test_bufdir_counting import FIXTURE
from tests.integration.test_pages import sign_in


def polls(html: str, row_id: str) -> bool:
    row = re.search(rf'<tr id="{row_id}"[^>]*>', html)
    assert row, f"no row {row_id}"
    return "hx-get" in row.group(0)


def test_the_overview_follows_a_bufdir_report_until_it_has_ended(
    client: TestClient, services: Services, org: Tokens
) -> None:
    assert put_activities(client, org, FIXTURE[:3]).status_code == 200
    export_id = request_export(client, org)
    catch_up(services)  # the overview lists from the read models
    sign_in(client, mint(SECRET, "kari", org.org_id, Role.AUDITOR))
    overview = client.get(f"/orgs/{org.org_id}").text
    assert polls(overview, f"bufdir-{export_id}") and "Steg 1 av 6" in overview
    row = f"/orgs/{org.org_id}/bufdir-exports/{export_id}/row"
    first = client.get(row)
    assert first.status_code == 200 and "overview-announcer" not in first.text
    version = re.search(r"seen=(\d+)", first.text)
    assert version
    assert client.get(f"{row}?seen={version.group(1)}").status_code == 204
    drain_queue(services)
    done = client.get(f"{row}?seen={version.group(1)}")
    assert done.status_code == 200 and 'data-status="completed"' in done.text
    assert not polls(done.text, f"bufdir-{export_id}")  # ended: no more asking
    said = re.search(r'id="overview-announcer"[^>]*>(.*?)</div>', done.text, re.S)
    assert said and said.group(1).startswith("Bufdir-rapport") and "Fullført" in said.group(1)
    catch_up(services)
    assert not polls(client.get(f"/orgs/{org.org_id}").text, f"bufdir-{export_id}")


def test_the_overview_follows_an_export_run_and_refuses_other_organisations(
    client: TestClient, services: Services, org: Tokens
) -> None:
    from interfaces.demo import ORGS, demo_settings

    admin = org.header(Role.ADMIN)
    assert client.put(f"/v1/orgs/{org.org_id}/accounting-settings", json=demo_settings(ORGS[0]),
                      headers=admin).status_code == 200
    assert client.put(f"/v1/orgs/{org.org_id}/claims", headers=admin, json={
        "claims": [claim_json("2026-01-10", "100.00")]}).status_code == 200
    answer = client.post(f"/v1/orgs/{org.org_id}/export-runs", headers=org.header(), json={
        "period_start": "2026-01-01", "period_end": "2026-01-31", "target": "xledger"})
    run_id = answer.json()["run_id"]
    catch_up(services)
    sign_in(client, mint(SECRET, "kari", org.org_id, Role.COORDINATOR))
    assert polls(client.get(f"/orgs/{org.org_id}").text, f"run-{run_id}")
    row = f"/orgs/{org.org_id}/export-runs/{run_id}/row"
    assert client.get(f"{row}?seen=1").status_code == 204  # still pending
    drain_queue(services)
    done = client.get(f"{row}?seen=1")
    assert 'data-status="completed"' in done.text and not polls(done.text, f"run-{run_id}")
    assert "Regnskapseksport" in done.text and "Fullført" in done.text
    other = Tokens(org.org_id.__class__(int=org.org_id.int ^ 1))
    assert client.get(f"/orgs/{other.org_id}/export-runs/{run_id}/row").status_code == 403
    sign_in(client, mint(SECRET, "ola", other.org_id, Role.COORDINATOR))
    hidden = client.get(f"/orgs/{other.org_id}/export-runs/{run_id}/row")
    assert hidden.status_code == 404 and run_id not in hidden.text


def test_a_running_sync_page_follows_the_run_until_it_ends(client: TestClient, org: Tokens
                                                          ) -> None:
    scheduler = org.header(Role.SCHEDULER)
    started = client.post(f"/v1/orgs/{org.org_id}/sync-runs", headers=scheduler,
                          json={"integration_type": "hubspot", "triggered_by": "manual"})
    run_id = started.json()["run_id"]
    sign_in(client, mint(SECRET, "ola", org.org_id, Role.ANALYST))
    page = client.get(f"/orgs/{org.org_id}/sync-runs/{run_id}").text
    assert f"/sync-runs/{run_id}/status?seen=1" in page
    status = f"/orgs/{org.org_id}/sync-runs/{run_id}/status"
    assert client.get(f"{status}?seen=1").status_code == 204
    assert client.post(f"/v1/orgs/{org.org_id}/sync-runs/{run_id}/status", headers=scheduler,
                       json={"status": "failed", "records_processed": 1, "records_failed": 1,
                             "error_message": "HubSpot answered 401"}).status_code == 200
    ended = client.get(f"{status}?seen=1")
    assert ended.status_code == 200 and 'data-status="failed"' in ended.text
    assert "hx-get" not in ended.text.split("<dl")[0]  # ended: no more asking
    assert "HubSpot answered 401" in ended.text
    said = re.search(r'id="sync-announcer"[^>]*>(.*?)</div>', ended.text, re.S)
    assert said and "Feilet" in said.group(1) and "Nytt i tidslinjen: Feilet" in said.group(1)
    assert ended.text.count('<li id="event-') == 2
    assert client.get(f"/orgs/{org.org_id}/sync-runs/{org.org_id}/status").status_code == 404
