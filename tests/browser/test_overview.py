"""What an auditor or whoever watches the integrations sees first, checked with axe."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.shared import Actor
from interfaces.http.auth import Role
from tests.browser.conftest import Site, artifact
from tests.browser.helpers import (
    accounting_ready,
    axe_violations,
    failed_sync,
    sign_in,
    wait_for_export,
)
from tests.standins.base import serve
from tests.standins.xledger import Xledger

pytestmark = pytest.mark.xdist_group("browser")


def test_overview_shows_a_failed_sync_and_passes_axe(page: Any, site: Site, org_id: UUID
                                                     ) -> None:
    accounting_ready(site, org_id)
    with site.api(org_id, Role.COORDINATOR) as api:
        assert api.post("/export-runs", json={"period_start": "2026-01-01",
                                              "period_end": "2026-01-31",
                                              "target": "xledger"}).status_code == 202
    failed_sync(site, org_id)
    sign_in(page, site, org_id, Role.AUDITOR)
    integrations = page.get_by_role("table", name="Siste kjøring for hver integrasjon")
    row = integrations.get_by_role("row").filter(has_text="xledger")
    assert "Feilet" in row.inner_text()
    assert row.get_by_role("cell").nth(3).inner_text().strip() == "1"  # failures, 30 days
    assert page.get_by_role("link", name="Ny regnskapseksport").count() == 0  # read only
    chart = page.get_by_role("img", name="Kjøringer per dag")  # outcomes over time, with text
    assert "0 fullførte, 1 feilede og 0 avbrutte" in chart.locator("desc").text_content()
    page.screenshot(path=artifact("overview.png"), full_page=True)
    assert axe_violations(page) == []
    page.get_by_role("navigation", name="Språk").get_by_role("link", name="English").click()
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.url.endswith(f"/orgs/{org_id}")  # the same page, now in English
    assert page.get_by_role("heading", name="Accounting exports").is_visible()
    assert axe_violations(page) == []
    page.get_by_role("navigation", name="Language").get_by_role(
        "link", name="Norsk (bokmål)").click()
    page.wait_for_function("document.documentElement.lang === 'nb'")


def test_sign_in_and_error_pages_pass_axe(page: Any, site: Site, org_id: UUID) -> None:
    page.goto("/sign-in")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Logg inn").click()
    page.locator("#error-summary").wait_for()
    assert axe_violations(page) == []
    code = site.services.app.sign_in.issue(site.token(org_id))
    page.goto(f"/sign-in/code/{code}")  # the demo's one-time link
    assert axe_violations(page) == []
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(f"**/orgs/{org_id}")
    response = page.goto(f"/sign-in/code/{code}")  # used: no second sign-in
    assert response is not None and response.status in (200, 410)
    page.get_by_role("button", name="Logg inn").click()
    assert page.get_by_role("alert").is_visible()
    assert axe_violations(page) == []
    response = page.goto(f"/orgs/{UUID(int=7)}")
    assert response is not None and response.status == 403
    assert axe_violations(page) == []
    response = page.goto(f"/orgs/{org_id}/export-runs/{UUID(int=8)}")
    assert response is not None and response.status == 404
    assert axe_violations(page) == []


def test_the_overview_follows_a_delivery_flags_a_late_start_and_offers_the_file(
    page: Any, site: Site, org_id: UUID
) -> None:
    standin = Xledger()
    with serve(standin.app()) as url:
        accounting_ready(site, org_id, claims=2)
        with site.api(org_id) as api:
            assert api.put("/delivery/xledger", json={
                "enabled": True, "endpoint": f"{url}/graphql",
                "credentials": {"api_token": standin.api_token}}).status_code == 200
        standin.faults.posting_open.clear()  # the overview is shown while it delivers
        with site.api(org_id, Role.COORDINATOR) as api:
            run_id = api.post("/export-runs", json={
                "period_start": "2026-01-01", "period_end": "2026-01-31",
                "target": "xledger"}).json()["run_id"]
        late = datetime.now(UTC) - timedelta(hours=1)  # a scheduled run that started late
        site.services.app.sync_runs.start(org_id, "hubspot", "scheduler",
                                          Actor("system:scheduler", org_id, "test"), late)
        sign_in(page, site, org_id)
        page.evaluate("window.notReloaded = true")
        standin.faults.posting_open.set()
        row = page.locator(f"#run-{run_id}")
        row.locator("[data-delivery='delivered']").wait_for()
        assert page.evaluate("window.notReloaded") is True
        assert "Regnskapseksport" in page.locator("#overview-announcer").inner_text()
        assert len(standin.items) == 4

    integrations = page.get_by_role("table", name="Siste kjøring for hver integrasjon")
    assert "Startet for sent" in integrations.get_by_role("row").filter(
        has_text="hubspot").inner_text()
    run = wait_for_export(site, org_id, run_id)
    with page.expect_download() as download:
        row.get_by_role("link", name=re.compile("^Last ned")).click()
    assert hashlib.sha256(download.value.path().read_bytes()).hexdigest() == run["file"]["sha256"]
    assert axe_violations(page) == []
