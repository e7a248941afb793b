"""Steps the browser tests share: sign in through the form, set data up through the API, axe."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from interfaces.demo import ORGS, demo_settings
from interfaces.http.auth import Role
from tests.browser.conftest import Site
from tests.integration.conftest import claim_json

#: The rules of WCAG 2.0 and 2.1, levels A and AA, as axe tags them.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def sign_in(page: Any, site: Site, org_id: UUID, role: Role = Role.COORDINATOR) -> None:
    page.goto("/")
    page.get_by_label("Tilgangsnøkkel").fill(site.token(org_id, role))
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(f"**/orgs/{org_id}")


def accounting_ready(site: Site, org_id: UUID, claims: int = 3) -> None:
    """Settings and a few approved claims in January 2026, through the API."""
    with site.api(org_id) as api:
        assert api.put("/accounting-settings", json=demo_settings(ORGS[0])).status_code == 200
        body = {"claims": [claim_json(f"2026-01-{10 + i:02d}", f"{100 + i}.50")
                           for i in range(claims)]}
        assert api.put("/claims", json=body).status_code == 200


def wait_for_export(site: Site, org_id: UUID, run_id: str) -> dict[str, Any]:
    with site.api(org_id) as api:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            run: dict[str, Any] = api.get(f"/export-runs/{run_id}").json()
            if run["status"] in ("completed", "failed"):
                return run
            time.sleep(0.1)
    raise AssertionError("the export never ended")


def failed_sync(site: Site, org_id: UUID, integration: str = "xledger") -> str:
    with site.api(org_id, Role.SCHEDULER) as api:
        started = api.post("/sync-runs", json={"integration_type": integration,
                                               "triggered_by": "scheduler"})
        assert started.status_code == 201, started.text
        run_id: str = started.json()["run_id"]
        ended = api.post(f"/sync-runs/{run_id}/status", json={
            "status": "failed", "records_processed": 4, "records_failed": 2,
            "error_message": "Xledger answered 503 Service Unavailable"})
        assert ended.status_code == 200, ended.text
    return run_id


def axe_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])} × {v['nodes'][0]['target']})"
            for v in results.response["violations"]]
