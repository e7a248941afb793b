"""What an auditor or whoever watches the integrations sees first, checked with axe."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from interfaces.http.auth import Role
from tests.browser.conftest import Site, artifact
from tests.browser.helpers import accounting_ready, axe_violations, failed_sync, sign_in

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
    page.screenshot(path=artifact("overview.png"), full_page=True)
    assert axe_violations(page) == []
    page.goto("/language/en?next=" + page.url.split(site.base_url, 1)[1])
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Accounting exports").is_visible()
    assert axe_violations(page) == []


def test_sign_in_and_error_pages_pass_axe(page: Any, site: Site, org_id: UUID) -> None:
    page.goto("/sign-in")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Logg inn").click()
    page.locator("#error-summary").wait_for()
    assert axe_violations(page) == []
    sign_in(page, site, org_id)
    response = page.goto(f"/orgs/{UUID(int=7)}")
    assert response is not None and response.status == 403
    assert axe_violations(page) == []
