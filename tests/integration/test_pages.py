"""The pages over HTTP without a browser: sign-in, cookies, CSRF, tenancy, roles, languages."""

from __future__ import annotations

import re
from uuid import uuid4

from fastapi.testclient import TestClient

from bootstrap import Services
from interfaces.http.auth import Role, mint
from tests.integration.conftest import SECRET, Tokens


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, "form without CSRF token"
    return found.group(1)


def sign_in(client: TestClient, token: str) -> None:
    page = client.get("/sign-in")
    response = client.post("/sign-in", data={"token": token, "csrf_token": csrf_of(page.text)},
                           follow_redirects=False)
    assert response.status_code == 303, response.text


def test_root_sends_a_stranger_to_sign_in(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"
    page = client.get("/sign-in")
    assert page.status_code == 200
    assert '<html lang="nb">' in page.text
    assert "Logg inn" in page.text


def test_sign_in_sets_a_strict_httponly_cookie_and_shows_the_overview(
    client: TestClient, org: Tokens
) -> None:
    page = client.get("/sign-in")
    token = mint(SECRET, "kari", org.org_id, Role.COORDINATOR)
    response = client.post("/sign-in", data={"token": token, "csrf_token": csrf_of(page.text)},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/orgs/{org.org_id}"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("es_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    overview = client.get(response.headers["location"])
    assert overview.status_code == 200
    assert "Regnskapseksporter" in overview.text
    assert client.get("/", follow_redirects=False).headers["location"] == f"/orgs/{org.org_id}"


def test_sign_in_without_csrf_token_is_refused(client: TestClient, org: Tokens) -> None:
    client.get("/sign-in")
    token = mint(SECRET, "kari", org.org_id, Role.COORDINATOR)
    response = client.post("/sign-in", data={"token": token}, follow_redirects=False)
    assert response.status_code == 403
    assert "es_session" not in response.headers.get("set-cookie", "")


def test_a_bad_token_is_named_beside_the_field(client: TestClient) -> None:
    page = client.get("/sign-in")
    response = client.post("/sign-in", data={"token": "nonsense", "csrf_token": csrf_of(page.text)})
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text
    assert 'href="#token"' in response.text


def test_another_organisations_pages_are_403_and_reveal_nothing(
    client: TestClient, org: Tokens
) -> None:
    sign_in(client, mint(SECRET, "kari", org.org_id, Role.ADMIN))
    other = uuid4()
    for path in (f"/orgs/{other}", f"/orgs/{other}/export-runs/{uuid4()}",
                 f"/orgs/{other}/export-runs/new"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert str(other) not in response.text


def test_an_expired_token_returns_to_the_sign_in_page(client: TestClient, org: Tokens) -> None:
    expired = mint(SECRET, "kari", org.org_id, Role.COORDINATOR, ttl_seconds=-10)
    client.cookies.set("es_session", expired)
    response = client.get(f"/orgs/{org.org_id}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/sign-in?next=/orgs/{org.org_id}")
    assert "expired=1" in response.headers["location"]
    assert "utløpt" in client.get(response.headers["location"]).text


def test_sign_out_clears_the_cookie(client: TestClient, org: Tokens) -> None:
    sign_in(client, mint(SECRET, "kari", org.org_id, Role.AUDITOR))
    overview = client.get(f"/orgs/{org.org_id}")
    response = client.post("/sign-out", data={"csrf_token": csrf_of(overview.text)},
                           follow_redirects=False)
    assert response.status_code == 303
    assert 'es_session=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    assert client.get(f"/orgs/{org.org_id}", follow_redirects=False).status_code == 303


def test_the_one_time_link_signs_in_once(client: TestClient, services: Services, org: Tokens) -> None:
    code = services.app.sign_in.issue(mint(SECRET, "demo", org.org_id, Role.COORDINATOR))
    page = client.get(f"/sign-in/code/{code}")
    assert page.status_code == 200 and "es_session" not in page.headers.get("set-cookie", "")
    first = client.post("/sign-in/code", data={"code": code, "csrf_token": csrf_of(page.text)},
                        follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == f"/orgs/{org.org_id}"
    client.cookies.clear()
    page = client.get(f"/sign-in/code/{code}")
    again = client.post("/sign-in/code", data={"code": code, "csrf_token": csrf_of(page.text)},
                        follow_redirects=False)
    assert again.status_code == 410


def test_english_by_accept_language_and_by_the_switch(client: TestClient) -> None:
    english = client.get("/sign-in", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in english.text and "Sign in" in english.text
    nynorsk = client.get("/sign-in", headers={"Accept-Language": "nn-NO"})
    assert '<html lang="nb">' in nynorsk.text
    switched = client.get("/language/en?next=/sign-in")
    assert switched.status_code == 200 and '<html lang="en">' in switched.text
    assert client.get("/language/en?next=//evil.example", follow_redirects=False
                      ).headers["location"] == "/"


def test_read_only_roles_see_no_action_controls_and_are_refused(
    client: TestClient, org: Tokens
) -> None:
    sign_in(client, mint(SECRET, "revisor", org.org_id, Role.AUDITOR))
    overview = client.get(f"/orgs/{org.org_id}")
    assert "/export-runs/new" not in overview.text
    assert client.get(f"/orgs/{org.org_id}/export-runs/new").status_code == 403
    refused = client.post(f"/orgs/{org.org_id}/export-runs", data={
        "period_start": "2026-01-01", "period_end": "2026-01-31", "target": "xledger",
        "csrf_token": csrf_of(overview.text)})
    assert refused.status_code == 403
    assert client.get(f"/v1/orgs/{org.org_id}/export-runs",
                      headers=org.header(Role.AUDITOR)).json() == []


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        html = client.get(path).text
        assert "cdn." not in html and "fonts.googleapis" not in html, path
        assets = re.findall(r'(?:src|href)="(/docs-assets/[^"]+)"', html)
        assert assets, path
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
