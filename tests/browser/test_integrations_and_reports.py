"""Integration runs (history, chart, one run), a Bufdir report followed to its end, and the
audit chain page, each checked with axe."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import pytest

from interfaces.http.auth import Role
from tests.browser.conftest import Site
from tests.browser.helpers import axe_violations, failed_sync, sign_in

pytestmark = pytest.mark.xdist_group("browser")

ACTIVITIES = [
    {"id": "a1", "date": "2026-03-02", "activity_type": "gruppemøte", "participants": 5,
     "municipality": "0301", "description": "Samtalegruppe", "duration_minutes": 90},
    {"id": "a2", "date": "2026-03-03", "activity_type": "gruppemøte", "participants": 2,
     "municipality": "0301", "description": "For få", "duration_minutes": 90},
    {"id": "a3", "date": "2026-03-04", "activity_type": "arrangement", "participants": 40,
     "municipality": "4601", "description": "Sommerfest", "duration_minutes": 180},
]


def test_a_failed_sync_in_the_history_chart_and_its_page(page: Any, site: Site, org_id: UUID
                                                         ) -> None:
    run_id = failed_sync(site, org_id)
    sign_in(page, site, org_id, Role.ADMIN)
    page.get_by_role("link", name="Integrasjoner", exact=True).click()
    chart = page.get_by_role("img", name="Kjøringer per dag")
    assert "0 fullførte, 1 feilede og 0 avbrutte" in chart.locator("desc").text_content()
    assert chart.locator("rect[fill='url(#pattern-hatch)']").count() == 1  # one failed bar
    page.get_by_text("Tallene per dag i en tabell").click()
    days = page.get_by_role("table", name="Kjøringer per dag")
    assert days.get_by_role("row").count() == 2  # header and today
    assert axe_violations(page) == []
    history = page.get_by_role("table", name="Integrasjonskjøringer, nyeste først")
    assert "503 Service Unavailable" in history.inner_text()
    history.get_by_role("link").first.click()
    page.wait_for_url(f"**/sync-runs/{run_id}")
    assert "Feilet" in page.locator("#run-facts").inner_text()
    assert axe_violations(page) == []

    # Starting a second run of a running integration names the running one.
    page.goto(f"/orgs/{org_id}/sync-runs")
    page.get_by_role("textbox", name="Integrasjon").fill("hubspot")
    page.get_by_role("button", name="Start kjøring").click()
    page.wait_for_url("**/sync-runs/*")
    page.goto(f"/orgs/{org_id}/sync-runs")
    page.get_by_role("textbox", name="Integrasjon").fill("hubspot")
    page.get_by_role("button", name="Start kjøring").click()
    assert "pågår allerede" in page.locator("#error-summary").inner_text()
    page.get_by_role("link", name="Åpne kjøringen som pågår").click()
    assert "Kjører" in page.locator("#run-facts").inner_text()
    assert axe_violations(page) == []

    # The integration reports its end: the open page follows without reloading.
    page.evaluate("window.notReloaded = true")
    running = page.url.rsplit("/", 1)[-1]
    with site.api(org_id, Role.SCHEDULER) as api:
        assert api.post(f"/sync-runs/{running}/status", json={
            "status": "completed", "records_processed": 3, "records_failed": 0}).status_code == 200
    page.locator("#run-facts [data-status='completed']").wait_for()
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("ol.timeline > li").count() == 2
    assert "Fullført" in page.locator("#sync-announcer").inner_text()


def test_a_bufdir_report_is_followed_to_its_end(page: Any, site: Site, org_id: UUID) -> None:
    with site.api(org_id, Role.ADMIN) as api:
        assert api.put("/activities", json={"activities": ACTIVITIES}).status_code == 200
    sign_in(page, site, org_id)
    page.get_by_role("link", name="Ny Bufdir-rapport").first.click()
    page.get_by_label("Første dag").fill("2026-03-01")
    page.get_by_label("Siste dag").fill("2026-03-31")
    page.get_by_label("Kommaseparert tekst (csv)").check()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Lag rapporten").click()
    page.wait_for_url("**/bufdir-exports/*")
    page.evaluate("window.notReloaded = true")
    page.locator("#bufdir-progress [data-status='completed']").wait_for()
    assert page.evaluate("window.notReloaded") is True
    assert page.get_by_role("link", name="Last ned rapporten").is_visible()
    not_counted = page.get_by_role("table", name="Aktiviteter som ikke teller, gruppert etter årsak")
    assert "For få deltakere" in not_counted.inner_text()
    assert "Ikke en aktivitetstype som teller" in not_counted.inner_text()
    # Row by row, one table per reason, read back from the report itself.
    few = page.get_by_role("table", name="Aktiviteter som ikke telte: For få deltakere")
    assert few.get_by_role("row").count() == 2  # header and a2
    assert few.get_by_role("rowheader").inner_text() == "a2"
    assert "For få" in few.inner_text() and "Deltakere" in few.inner_text()
    other = page.get_by_role(
        "table", name="Aktiviteter som ikke telte: Ikke en aktivitetstype som teller")
    assert other.get_by_role("rowheader").inner_text() == "a3"
    assert "Sommerfest" in other.inner_text()
    counted = page.get_by_role("table", name="Talte tall per kategori")
    assert "samtale- og aktivitetsgruppe" in counted.inner_text()
    steps = page.locator("ol.steps li")
    assert steps.count() == 6 and steps.last.get_attribute("aria-current") == "step"
    assert axe_violations(page) == []
    page.get_by_role("link", name="Tilbake til oversikten").click()
    reports = page.get_by_role("table", name="Bufdir-rapporter, nyeste først")
    assert "samtale- og aktivitetsgruppe: 1 aktiviteter, 1 dager" in reports.inner_text()
    assert axe_violations(page) == []


def test_the_audit_chain_page_for_an_auditor(page: Any, site: Site, org_id: UUID) -> None:
    failed_sync(site, org_id)
    sign_in(page, site, org_id, Role.AUDITOR)
    page.get_by_role("link", name="Revisjonskjede").click()
    assert "Kjeden er hel." in page.locator("#chain-result").inner_text()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Innstillinger").click()  # read only for an auditor
    assert page.get_by_role("button", name="Lagre regnskapsinnstillingene").count() == 0
    assert axe_violations(page) == []


def test_settings_for_an_administrator(page: Any, site: Site, org_id: UUID) -> None:
    sign_in(page, site, org_id, Role.ADMIN)
    page.get_by_role("link", name="Innstillinger").click()
    page.get_by_label("Selskapskode").fill("NHF01")
    page.get_by_label("Bilagstype").fill("UTL")
    page.get_by_label("Motkonto").fill("29x0")
    page.get_by_label("Kategori, rad 1").fill("reise")
    page.get_by_label("Konto, rad 1").fill("7140")
    page.get_by_label("Mva-kode, rad 1").fill("0")
    page.get_by_role("button", name="Lagre regnskapsinnstillingene").click()
    assert "Motkonto" in page.locator("#error-summary").inner_text()
    assert axe_violations(page) == []
    page.get_by_label("Motkonto").fill("2930")
    page.get_by_role("button", name="Lagre regnskapsinnstillingene").click()
    page.get_by_text("Innstillingene er lagret som en ny versjon.").wait_for()
    assert axe_violations(page) == []


def test_a_broken_chain_names_its_first_bad_event(page: Any, site: Site, org_id: UUID) -> None:
    import psycopg

    from tests.integration.test_audit_chain import EVENTS, rows_of

    failed_sync(site, org_id)  # two events: started and failed
    sign_in(page, site, org_id, Role.AUDITOR)
    page.goto(f"/orgs/{org_id}/audit")
    deadline = time.monotonic() + 30
    while "2 hendelser kontrollert" not in page.locator("#chain-result").inner_text():
        assert time.monotonic() < deadline, "the chain never took in the run's events"
        time.sleep(0.2)
        page.reload()
    nid, _, _ = rows_of(site.services.database_url, org_id)[1]
    with psycopg.connect(site.services.database_url) as conn:
        conn.execute(f"UPDATE {EVENTS} SET state = convert_to(replace(convert_from(state, 'UTF8'),"
                     " '503', '504'), 'UTF8') WHERE notification_id = %s", (nid,))
    page.reload()
    result = page.locator("#chain-result").inner_text()
    assert "Kjeden er brutt." in result and "endret etter at den ble registrert" in result
    assert str(nid) in result
    assert axe_violations(page) == []
