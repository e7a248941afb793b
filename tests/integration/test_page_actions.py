"""Actions through the pages: the API's validation beside the field, duplicates named with a
link, roles checked again by the server, settings edited by administrators only."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from bootstrap import Services
from interfaces.demo import ORGS, demo_settings, print_welcome
from interfaces.http.auth import Role, mint
from tests.integration.conftest import SECRET, Tokens
from tests.integration.test_pages import csrf_of, sign_in


def test_a_duplicate_period_shows_the_existing_run_with_a_link(client: TestClient, org: Tokens
                                                               ) -> None:
    sign_in(client, mint(SECRET, "kari", org.org_id, Role.COORDINATOR))
    form = client.get(f"/orgs/{org.org_id}/export-runs/new")
    data = {"period_start": "2026-01-01", "period_end": "2026-01-31", "target": "xledger"}
    first = client.post(f"/orgs/{org.org_id}/export-runs", follow_redirects=False,
                        data={**data, "csrf_token": csrf_of(form.text), "request_key": "k-1"})
    assert first.status_code == 303
    run_id = first.headers["location"].rsplit("/", 1)[-1]
    again = client.post(f"/orgs/{org.org_id}/export-runs", follow_redirects=False, data={
        **data, "period_start": "2026-01-15", "csrf_token": csrf_of(form.text),
        "request_key": "k-2"})
    assert again.status_code == 409
    assert f'href="/orgs/{org.org_id}/export-runs/{run_id}"' in again.text
    assert 'href="#period_start"' in again.text  # the error summary links to the field
    replay = client.post(f"/orgs/{org.org_id}/export-runs", follow_redirects=False,
                         data={**data, "csrf_token": csrf_of(form.text), "request_key": "k-1"})
    assert replay.headers["location"] == first.headers["location"]  # a double submit: one run
    assert client.get(f"/v1/orgs/{org.org_id}/export-runs/{run_id}",
                      headers=org.header()).json()["period_end"] == "2026-01-31"


def test_read_only_roles_may_not_start_a_sync(client: TestClient, org: Tokens) -> None:
    sign_in(client, mint(SECRET, "ola", org.org_id, Role.ANALYST))
    page = client.get(f"/orgs/{org.org_id}/sync-runs")
    assert page.status_code == 200 and 'action="/orgs/' not in page.text.split("<main")[1]
    refused = client.post(f"/orgs/{org.org_id}/sync-runs", data={
        "integration_type": "xledger", "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 403
    assert client.get(f"/v1/orgs/{org.org_id}/sync-runs", headers=org.header()).json() == []


def test_an_administrator_edits_accounting_settings_with_the_apis_checks(
    client: TestClient, org: Tokens
) -> None:
    sign_in(client, mint(SECRET, "anne", org.org_id, Role.ADMIN))
    page = client.get(f"/orgs/{org.org_id}/settings")
    form = {"csrf_token": csrf_of(page.text), "rows": "3", "company_code": "NHF01",
            "voucher_type": "UTL", "counter_account": "2930", "voucher_grouping": "per_claim",
            "cat-0-name": "reise", "cat-0-account": "71x0", "cat-0-tax_code": "0"}
    refused = client.post(f"/orgs/{org.org_id}/settings/accounting", data=form)
    assert refused.status_code == 422
    assert 'id="cat-0-account-error"' in refused.text and 'href="#cat-0-account"' in refused.text
    saved = client.post(f"/orgs/{org.org_id}/settings/accounting", follow_redirects=False,
                        data={**form, "cat-0-account": "7140", "cat-1-name": "parkering",
                              "cat-1-account": "7150", "cat-1-tax_code": "0"})
    assert saved.status_code == 303
    stored = client.get(f"/v1/orgs/{org.org_id}/accounting-settings",
                        headers=org.header(Role.ADMIN)).json()
    assert stored["version"] == 1
    assert {k: v["account"] for k, v in stored["categories"].items()} == {
        "reise": "7140", "parkering": "7150"}


def test_bufdir_configuration_is_checked_and_kept_by_version(client: TestClient, org: Tokens
                                                             ) -> None:
    sign_in(client, mint(SECRET, "anne", org.org_id, Role.ADMIN))
    page = client.get(f"/orgs/{org.org_id}/settings")
    current = client.get(f"/v1/orgs/{org.org_id}/bufdir-config", headers=org.header()).json()
    document = {k: v for k, v in current.items() if k != "version"}
    broken = client.post(f"/orgs/{org.org_id}/settings/bufdir", data={
        "csrf_token": csrf_of(page.text), "config": json.dumps({**document, "columns": []})})
    assert broken.status_code == 422 and 'aria-invalid="true"' in broken.text
    assert "columns" in broken.text
    saved = client.post(f"/orgs/{org.org_id}/settings/bufdir", follow_redirects=False, data={
        "csrf_token": csrf_of(page.text), "config": json.dumps({**document, "name": "Vår"})})
    assert saved.status_code == 303
    after = client.get(f"/v1/orgs/{org.org_id}/bufdir-config", headers=org.header()).json()
    assert after["version"] == 1 and after["name"] == "Vår"


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.AUDITOR])
def test_settings_are_read_only_below_administrator(client: TestClient, org: Tokens,
                                                    role: Role) -> None:
    client.put(f"/v1/orgs/{org.org_id}/accounting-settings", json=demo_settings(ORGS[0]),
               headers=org.header(Role.ADMIN))
    sign_in(client, mint(SECRET, "kari", org.org_id, role))
    page = client.get(f"/orgs/{org.org_id}/settings")
    assert page.status_code == 200 and "NHF01" in page.text
    assert "/settings/accounting" not in page.text and "<textarea" not in page.text
    refused = client.post(f"/orgs/{org.org_id}/settings/accounting", data={
        "csrf_token": csrf_of(page.text), "rows": "0", "company_code": "X"})
    assert refused.status_code == 403


def test_demo_start_up_prints_a_one_time_link_not_a_token(
    services: Services, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    print_welcome(services, "127.0.0.1", 8000, loaded=True)  # the key was given: no link
    assert "/sign-in/code/" not in capsys.readouterr().out
    services.settings = services.settings.model_copy(update={"jwt_secret": None})  # pure demo
    print_welcome(services, "127.0.0.1", 8000, loaded=True)
    out = capsys.readouterr().out
    links = [w for w in out.split() if "/sign-in/code/" in w]
    assert len(links) == 1
    code = links[0].rsplit("/", 1)[-1]
    page = client.get(f"/sign-in/code/{code}")
    response = client.post("/sign-in/code", data={"code": code, "csrf_token": csrf_of(page.text)},
                           follow_redirects=False)
    assert response.headers["location"] == f"/orgs/{ORGS[0].org_id}"
    assert "eyJ" not in links[0]  # the link carries a code, never the token


def test_the_chain_page_names_the_first_bad_event(
    client: TestClient, services: Services, db_url: str, org: Tokens
) -> None:
    import psycopg

    from tests.integration.test_audit_chain import EVENTS, catch_up, request_runs, rows_of

    request_runs(services, org.org_id, months=2)
    catch_up(services)
    sign_in(client, mint(SECRET, "revisor", org.org_id, Role.AUDITOR))
    assert "Kjeden er hel." in client.get(f"/orgs/{org.org_id}/audit").text
    nid, oid, version = rows_of(db_url, org.org_id)[1]
    with psycopg.connect(db_url) as conn:
        conn.execute(f"UPDATE {EVENTS} SET state = convert_to(replace(convert_from(state, 'UTF8'),"
                     " '2024-', '2023-'), 'UTF8') WHERE notification_id = %s", (nid,))
    page = client.get(f"/orgs/{org.org_id}/audit").text
    assert "Kjeden er brutt." in page
    assert f"<dd>{nid}</dd>" in page and str(oid) in page and f"<dd>{version}</dd>" in page
    assert "endret etter at den ble registrert" in page


def test_the_cookie_is_secure_over_https(client: TestClient, org: Tokens) -> None:
    secure = TestClient(client.app, base_url="https://testserver")
    page = secure.get("/sign-in")
    assert "Secure" in page.headers["set-cookie"]  # the CSRF seed
    response = secure.post("/sign-in", follow_redirects=False, data={
        "token": mint(SECRET, "kari", org.org_id, Role.COORDINATOR),
        "csrf_token": csrf_of(page.text)})
    session = next(h for h in response.headers.get_list("set-cookie")
                   if h.startswith("es_session="))
    assert "Secure" in session and "HttpOnly" in session and "SameSite=strict" in session
