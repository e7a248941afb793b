"""A coordinator in a real browser: sign in, request an export, watch it finish without
reloading, download the file; the same by keyboard alone."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from uuid import UUID

import psycopg
import pytest

from tests.browser.conftest import Site, artifact
from tests.browser.helpers import accounting_ready, axe_violations, sign_in, wait_for_export

pytestmark = pytest.mark.xdist_group("browser")


def test_export_is_watched_to_completion_and_downloaded(page: Any, site: Site, org_id: UUID
                                                        ) -> None:
    accounting_ready(site, org_id)
    sign_in(page, site, org_id)
    page.get_by_role("link", name="Ny regnskapseksport").first.click()
    page.get_by_label("Første dag").fill("2026-01-01")
    page.get_by_label("Siste dag").fill("2026-01-31")
    page.get_by_label("Xledger").check()
    with psycopg.connect(site.services.database_url) as held:
        # The run's Completed append waits for this lock, so the page is shown while the run
        # is still going (three claims are otherwise exported before the page has loaded).
        held.execute("LOCK TABLE covered_periods IN EXCLUSIVE MODE")
        page.get_by_role("button", name="Start eksport").click()
        page.wait_for_url(re.compile(r".*/export-runs/[0-9a-f-]{36}$"))
        page.evaluate("window.notReloaded = true")
        held.rollback()
    status = page.locator("#run-status [data-status]")
    status.filter(has_text="Fullført").wait_for()
    assert page.evaluate("window.notReloaded") is True  # updated in place, no reload
    assert "Fullført" in page.locator("#run-announcer").inner_text()

    run_id = page.url.rsplit("/", 1)[-1]
    run = wait_for_export(site, org_id, run_id)
    assert run["status"] == "completed" and run["record_count"] == 3
    with page.expect_download() as download:
        page.get_by_role("link", name="Last ned filen").click()
    content = download.value.path().read_bytes()
    assert hashlib.sha256(content).hexdigest() == run["file"]["sha256"]
    assert page.locator("#sha256").inner_text() == run["file"]["sha256"]

    with site.api(org_id) as api:
        events = api.get(f"/export-runs/{run_id}/events").json()
    timeline = page.locator("ol.timeline > li")
    assert timeline.count() == len(events) >= 3  # brought in place while the run went on
    assert page.evaluate("window.notReloaded") is True

    page.reload()
    assert timeline.count() == len(events)
    assert "Requested" in timeline.first.inner_text() and "kari" in timeline.first.inner_text()
    page.screenshot(path=artifact("export-run-timeline.png"), full_page=True)
    assert axe_violations(page) == []


def test_an_export_is_requested_with_the_keyboard_alone(page: Any, site: Site, org_id: UUID
                                                        ) -> None:
    accounting_ready(site, org_id, claims=1)
    page.goto("/")

    def tab_to(selector: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("#token")
    page.keyboard.type(site.token(org_id))
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/orgs/{org_id}")
    tab_to("a[href$='/export-runs/new']")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # focus is visible
    page.keyboard.press("Enter")
    page.wait_for_url("**/export-runs/new")
    tab_to("#period_start")
    page.keyboard.type("2026-01-31")
    tab_to("#period_end")
    page.keyboard.type("2026-01-01")  # before the start: the API refuses it
    tab_to("input[name=target]")
    page.keyboard.press("Space")
    tab_to("button[type=submit]")
    page.keyboard.press("Enter")
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert "Siste dag" in summary.inner_text()
    assert page.locator("#period_end").get_attribute("aria-invalid") == "true"
    assert axe_violations(page) == []

    page.locator("#period_end").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("2026-02-28")
    tab_to("button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/export-runs/[0-9a-f-]{36}$"))
    page.locator("#run-status [data-status]").filter(has_text="Fullført").wait_for()
    first = page.url

    # The same period again: the form names the run that already covers it, with a link.
    page.goto("/")
    tab_to("a[href$='/export-runs/new']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/export-runs/new")
    tab_to("#period_start")
    page.keyboard.type("2026-02-01")
    tab_to("#period_end")
    page.keyboard.type("2026-02-10")
    tab_to("button[type=submit]")
    page.keyboard.press("Enter")
    page.locator("#error-summary").wait_for()
    assert "En eksport dekker allerede denne perioden" in page.get_by_role("status").inner_text()
    assert axe_violations(page) == []
    tab_to("a[href*='/export-runs/']:not([href$='/new'])")
    assert page.evaluate("document.activeElement.textContent") == "Åpne den eksisterende kjøringen"
    page.keyboard.press("Enter")
    page.wait_for_url(first)
