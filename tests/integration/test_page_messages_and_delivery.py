"""The API's validation messages beside the field in the page language; a failed delivery offered
for retry to coordinators and administrators only; live updates that carry the new events."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bootstrap import Services
from infrastructure.settings import Settings
from interfaces.http.auth import Role, mint
from tests.integration.conftest import SECRET, Tokens, drain_queue
from tests.integration.delivery_helpers import (
    delivery_settings,
    prepare,
    request_run,
    run_of,
    xl,  # noqa: F401 - fixture
    xl_connection,
)
from tests.integration.projection_helpers import catch_up
from tests.integration.test_pages import csrf_of, sign_in
from tests.standins.xledger import Xledger


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return delivery_settings(tmp_path)


def beside(html: str, field: str) -> str:
    found = re.search(rf'id="{field}-error">(.*?)</p>', html, re.S)
    assert found, f"no message beside {field}"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_validation_messages_are_shown_in_the_page_language(client: TestClient, org: Tokens
                                                            ) -> None:
    sign_in(client, mint(SECRET, "kari", org.org_id, Role.ADMIN))
    form = client.get(f"/orgs/{org.org_id}/export-runs/new")
    url = f"/orgs/{org.org_id}/export-runs"
    data = {"period_start": "2026-01-31", "period_end": "2026-01-01", "target": "xledger",
            "csrf_token": csrf_of(form.text)}
    backwards = client.post(url, data=data)
    assert backwards.status_code == 422
    assert beside(backwards.text, "period_end") == "Feil: Siste dag kan ikke være før første dag"
    bad_day = client.post(url, data={**data, "period_start": "2026-02-30"})
    assert "Skriv datoen som ÅÅÅÅ-MM-DD" in beside(bad_day.text, "period_start")
    empty = client.post(url, data={**data, "period_start": "31.01.2026", "period_end": ""})
    assert "Skriv datoen som ÅÅÅÅ-MM-DD" in beside(empty.text, "period_end")
    for page in (backwards, bad_day, empty):
        assert "must" not in page.text and "Input should" not in page.text

    client.cookies.set("lang", "en")
    english = client.post(url, data=data)
    assert beside(english.text, "period_end") == (
        "Error: The last day must not be before the first day")

    client.cookies.set("lang", "nb")
    settings_page = client.get(f"/orgs/{org.org_id}/settings")
    refused = client.post(f"/orgs/{org.org_id}/settings/accounting", data={
        "csrf_token": csrf_of(settings_page.text), "company_code": "NHF",
        "voucher_type": "UTLEGGSBILAG",
        "counter_account": "2930", "voucher_grouping": "per_claim", "rows": "1",
        "cat-0-name": "reise", "cat-0-account": "7140",
        "cat-0-tax_code": "0"})
    assert refused.status_code == 422
    assert beside(refused.text, "voucher_type") == "Feil: Bruk høyst 8 tegn"
    started = client.post(f"/orgs/{org.org_id}/sync-runs", data={
        "csrf_token": csrf_of(settings_page.text), "integration_type": "x/y"})
    assert beside(started.text, "integration_type") == (
        "Feil: Bruk 1 til 64 bokstaver, sifre, _ eller -")


def test_a_failed_delivery_is_offered_for_retry_to_coordinators_only(
    client: TestClient, services: Services, org: Tokens, xl: tuple[Xledger, str]  # noqa: F811
) -> None:
    standin, url = xl
    prepare(client, org, "xledger", xl_connection(standin, url), claims=2)
    standin.revoke()
    run_id = request_run(client, org, "xledger")
    drain_queue(services)
    assert run_of(client, org, run_id)["delivery"]["status"] == "failed"
    page = f"/orgs/{org.org_id}/export-runs/{run_id}"
    retry = f"{page}/delivery"

    sign_in(client, mint(SECRET, "revisor", org.org_id, Role.AUDITOR))
    catch_up(services)
    overview = client.get(f"/orgs/{org.org_id}").text
    row = re.search(rf'<tr id="run-{run_id}".*?</tr>', overview, re.S)
    assert row and 'data-delivery="failed"' in row.group(0)  # the overview's delivery state
    seen = client.get(page)
    assert 'data-delivery="failed"' in seen.text and "retry-delivery" not in seen.text
    refused = client.post(retry, data={"csrf_token": csrf_of(seen.text)}, follow_redirects=False)
    assert refused.status_code == 403

    sign_in(client, mint(SECRET, "kari", org.org_id, Role.COORDINATOR))
    seen = client.get(page)
    assert 'id="retry-delivery"' in seen.text and "Prøv leveringen på nytt" in seen.text
    assert client.post(retry, data={}, follow_redirects=False).status_code == 403  # no CSRF
    assert run_of(client, org, run_id)["delivery"]["status"] == "failed"
    assert client.put(f"/v1/orgs/{org.org_id}/delivery/xledger", json=xl_connection(standin, url),
                      headers=org.header(Role.ADMIN)).status_code == 200
    queued = client.post(retry, data={"csrf_token": csrf_of(seen.text)}, follow_redirects=False)
    assert queued.status_code == 303 and queued.headers["location"] == page
    assert run_of(client, org, run_id)["delivery"]["status"] == "pending"
    following = client.get(page)
    assert "/status?seen=" in following.text  # the page follows the delivery again
    drain_queue(services)
    assert run_of(client, org, run_id)["delivery"]["status"] == "delivered"
    assert len(standin.items) == 4  # two claims: expense and counter line each, once
    again = client.post(retry, data={"csrf_token": csrf_of(seen.text)}, follow_redirects=False)
    assert again.status_code == 409


def test_a_live_update_brings_the_new_events_and_announces_them(
    client: TestClient, services: Services, org: Tokens, xl: tuple[Xledger, str]  # noqa: F811
) -> None:
    standin, url = xl
    prepare(client, org, "xledger", xl_connection(standin, url), claims=1)
    run_id = request_run(client, org, "xledger")
    sign_in(client, mint(SECRET, "kari", org.org_id, Role.COORDINATOR))
    status = f"/orgs/{org.org_id}/export-runs/{run_id}/status"
    assert client.get(f"{status}?seen=1").status_code == 204  # nothing new yet
    drain_queue(services)
    events = client.get(f"/v1/orgs/{org.org_id}/export-runs/{run_id}/events",
                        headers=org.header()).json()
    update = client.get(f"{status}?seen=1")
    assert update.status_code == 200
    assert 'id="timeline" hx-swap-oob="true"' in update.text
    assert update.text.count('<li id="event-') == len(events) > 3
    announced = re.search(r'id="run-announcer"[^>]*>(.*?)</div>', update.text, re.S)
    assert announced and "Nytt i tidslinjen: Startet" in announced.group(1)
    assert "Levert" in announced.group(1)
    assert "Bestilt" not in announced.group(1)  # event 1 was already shown
    latest = client.get(f"/v1/orgs/{org.org_id}/export-runs/{run_id}", headers=org.header())
    assert client.get(f"{status}?seen={latest.json()['version']}").status_code == 204
    assert "hx-get" not in client.get(f"/orgs/{org.org_id}/export-runs/{run_id}").text.split(
        'id="run-status"')[1].split(">")[0]  # delivered: nothing more to follow
