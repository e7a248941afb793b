"""Accounting files through the API: NOK amounts required for foreign claims, the published
Business Central import definition, and settings refused as Xledger would refuse them."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from fastapi.testclient import TestClient

from bootstrap import Services
from infrastructure.exporters.dynamics_definition import definition_xml
from infrastructure.exporters.xledger import COLUMNS
from interfaces.http.auth import Role
from tests.accounting_readers import read_gl02
from tests.integration.conftest import Tokens, claim_json, drain_queue
from tests.integration.test_export_execution import SETTINGS, download, get_run, request_run


def put_claims(client: TestClient, org: Tokens, claims: list[dict[str, Any]]) -> Any:
    return client.put(f"/v1/orgs/{org.org_id}/claims", json={"claims": claims},
                      headers=org.header())


def test_a_foreign_claim_without_amount_nok_refuses_the_batch_naming_it(
    client: TestClient, org: Tokens
) -> None:
    batch = [claim_json("2025-01-10"), claim_json("2025-01-11", currency="EUR")]
    r = put_claims(client, org, batch)

    assert r.status_code == 422
    assert "claims.1.amount_nok" in [e["field"] for e in r.json()["errors"]]
    bad = put_claims(client, org, [claim_json("2025-01-11", currency="EUR", amount_nok="1e3")])
    assert bad.status_code == 422


def test_a_foreign_claim_is_posted_in_nok_with_its_currency_beside(
    client: TestClient, services: Services, org: Tokens
) -> None:
    assert client.put(f"/v1/orgs/{org.org_id}/accounting-settings", json=SETTINGS,
                      headers=org.header(Role.ADMIN)).status_code == 200
    eur = claim_json("2025-01-10", "42.10", currency="EUR", amount_nok="493.55")
    assert put_claims(client, org, [eur]).status_code == 200
    run_id = request_run(client, org, "2025-01-01", "2025-01-31")
    drain_queue(services)
    run = get_run(client, org, run_id)
    assert run["status"] == "completed", run

    lines = read_gl02(download(client, run["file"]["download_url"]), COLUMNS)
    assert [(x["Amount"], x["Currency"], x["CurrencyAmount"]) for x in lines] == [
        ("493.55", "EUR", "42.10"), ("-493.55", "EUR", "-42.10")
    ]


def test_the_dynamics_import_definition_is_served_to_those_who_read_settings(
    client: TestClient, org: Tokens
) -> None:
    path = f"/v1/orgs/{org.org_id}/accounting-settings/dynamics-import-definition"
    r = client.get(path, headers=org.header(Role.AUDITOR))

    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/xml")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content == definition_xml()
    assert client.get(path, headers=org.header(Role.ANALYST)).status_code == 403
    assert client.get(path).status_code == 401
    other = f"/v1/orgs/{uuid4()}/accounting-settings/dynamics-import-definition"
    assert client.get(other, headers=org.header(Role.ADMIN)).status_code == 403


def test_settings_xledger_would_refuse_are_refused_when_stored(
    client: TestClient, org: Tokens
) -> None:
    path = f"/v1/orgs/{org.org_id}/accounting-settings"
    for change, field in (
        ({"voucher_type": "FRIVILLIG"}, "voucher_type"),
        ({"file_format": "xlsx"}, "file_format"),
        ({"document_prefix": "FAR-TOO-LONG"}, "document_prefix"),
        ({"claimant_accounts": {"frivillig-7": "=1+1"}}, "claimant_accounts.frivillig-7"),
    ):
        r = client.put(path, json={**SETTINGS, **change}, headers=org.header(Role.ADMIN))
        assert r.status_code == 422, change
        assert field in r.text, (field, r.text)
    ok = {**SETTINGS, "claimant_accounts": {"frivillig-7": "10042"}, "document_prefix": "UTL"}
    stored = client.put(path, json=ok, headers=org.header(Role.ADMIN))
    assert stored.status_code == 200
    assert stored.json()["claimant_accounts"] == {"frivillig-7": "10042"}
