"""A run's history in a real browser: an auditor steps through its states and downloads the
evidence; a coordinator retries a failed delivery and follows it without reloading."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any
from uuid import UUID

import pytest

from interfaces.http.auth import Role
from tests.browser.conftest import Site
from tests.browser.helpers import accounting_ready, axe_violations, sign_in, wait_for_export
from tests.standins.base import serve
from tests.standins.xledger import Xledger

pytestmark = pytest.mark.xdist_group("browser")

JANUARY = {"period_start": "2026-01-01", "period_end": "2026-01-31", "target": "xledger"}


def requested(site: Site, org_id: UUID) -> str:
    with site.api(org_id, Role.COORDINATOR) as api:
        answer = api.post("/export-runs", json=JANUARY)
        assert answer.status_code == 202, answer.text
        run_id: str = answer.json()["run_id"]
    return run_id


def test_an_auditor_steps_through_the_run_and_downloads_the_evidence(
    page: Any, site: Site, org_id: UUID
) -> None:
    accounting_ready(site, org_id, claims=2)
    run = wait_for_export(site, org_id, requested(site, org_id))
    with site.api(org_id) as api:
        events = api.get(f"/export-runs/{run['run_id']}/events").json()
    sign_in(page, site, org_id, Role.AUDITOR)
    page.goto(f"/orgs/{org_id}/export-runs/{run['run_id']}")

    page.get_by_label("Etter hendelse").select_option("1")
    page.get_by_role("button", name="Vis", exact=True).click()
    page.wait_for_url("**version=1**")
    assert page.get_by_role("heading", name="Etter hendelse 1: Bestilt").is_visible()
    first = page.locator("#past-facts").inner_text()
    assert "Venter" in first and run["file"]["sha256"] not in first  # pending, no file yet

    last = events[-1]["version"]
    page.get_by_role("link", name=f"Kjøringen slik den var etter denne hendelsen "
                                  f"(hendelse {last})").click()
    page.wait_for_url(f"**version={last}**")
    final = page.locator("#past-facts").inner_text()
    assert "Fullført" in final and run["file"]["sha256"] in final
    assert axe_violations(page) == []

    with page.expect_download() as download:
        page.get_by_role("link", name="Last ned bevispakken (zip)").click()
    assert download.value.suggested_filename == f"evidence-{run['run_id']}.zip"
    with zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes())) as bundle:
        recorded = json.loads(bundle.read("events.json"))
        assert [(e["version"], e["type"]) for e in recorded] == [
            (e["version"], e["type"]) for e in events]
        assert bundle.read("file.sha256").decode().startswith(run["file"]["sha256"])


def test_a_failed_delivery_is_retried_and_followed_without_reloading(
    page: Any, site: Site, org_id: UUID
) -> None:
    standin = Xledger()
    with serve(standin.app()) as url:
        accounting_ready(site, org_id, claims=2)
        connection = {"enabled": True, "endpoint": f"{url}/graphql",
                      "credentials": {"api_token": standin.api_token}}
        with site.api(org_id) as api:
            assert api.put("/delivery/xledger", json=connection).status_code == 200
        standin.revoke()  # the ledger refuses the stored token from now on
        run_id = requested(site, org_id)
        with site.api(org_id) as api:
            deadline = time.monotonic() + 30
            while (api.get(f"/export-runs/{run_id}").json()["delivery"] or {}).get(
                    "status") != "failed":
                assert time.monotonic() < deadline, "the delivery never failed"
                time.sleep(0.1)

        sign_in(page, site, org_id, Role.COORDINATOR)
        page.goto(f"/orgs/{org_id}/export-runs/{run_id}")
        assert page.locator("[data-delivery='failed']").is_visible()
        assert axe_violations(page) == []
        with site.api(org_id) as api:
            fixed = {**connection, "credentials": {"api_token": standin.api_token}}
            assert api.put("/delivery/xledger", json=fixed).status_code == 200
        standin.faults.posting_open.clear()  # the page is shown while it delivers
        page.get_by_role("button", name="Prøv leveringen på nytt").click()
        page.wait_for_url(f"**/export-runs/{run_id}")
        page.evaluate("window.notReloaded = true")
        shown = page.locator("ol.timeline > li").count()
        standin.faults.posting_open.set()
        page.locator("[data-delivery='delivered']").wait_for()
        assert page.evaluate("window.notReloaded") is True
        assert page.locator("ol.timeline > li").count() > shown  # the timeline grew in place
        assert "Levering: Levert" in page.locator("#run-announcer").inner_text()
        assert "Nytt i tidslinjen" in page.locator("#run-announcer").inner_text()
        assert page.get_by_role("button", name="Prøv leveringen på nytt").count() == 0
        assert len(standin.items) == 4  # two claims, each an expense and a counter line, once
