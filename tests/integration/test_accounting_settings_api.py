"""Accounting settings over HTTP: audited versions, roles, and 422 naming the bad field."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from bootstrap import Services
from interfaces.demo import ORGS, demo_settings
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens

GOOD: dict[str, Any] = demo_settings(ORGS[0])


def url(org: Tokens) -> str:
    return f"/v1/orgs/{org.org_id}/accounting-settings"


def test_put_get_versions_and_history(client: TestClient, services: Services, org: Tokens) -> None:
    assert client.get(url(org), headers=org.header(Role.ADMIN)).status_code == 404
    first = client.put(url(org), json=GOOD, headers=org.header(Role.ADMIN))
    assert first.status_code == 200 and first.json()["version"] == 1
    assert client.put(url(org), json=GOOD, headers=org.header(Role.ADMIN)).json()["version"] == 1
    changed = {**GOOD, "counter_account": "2940"}
    assert client.put(url(org), json=changed, headers=org.header(Role.ADMIN)).json()["version"] == 2
    got = client.get(url(org), headers=org.header(Role.AUDITOR)).json()
    assert got["counter_account"] == "2940" and got["categories"]["reise"]["account"] == "7140"
    from domain.accounting_settings import AccountingSettings

    history = services.store.history(AccountingSettings.create_id(org.org_id))
    assert [e.type for e in history] == ["Configured", "Changed"]
    assert history[1].actor is not None and history[1].actor["sub"] == "user-1"


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.AUDITOR, Role.ANALYST, Role.SCHEDULER])
def test_only_admins_change_settings(client: TestClient, org: Tokens, role: Role) -> None:
    assert client.put(url(org), json=GOOD, headers=org.header(role)).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"counter_account": "29-30"}, "counter_account"),
        ({"company_code": ""}, "company_code"),
        ({"categories": {}}, "categories"),
        ({"categories": {"reise": {"account": "71a0", "tax_code": "0"}}}, "categories.reise.account"),
        ({"categories": {"reise": {"tax_code": "0"}}}, "categories.reise.account"),
        ({"voucher_grouping": "per_month"}, "voucher_grouping"),
        ({"file_format": "pdf"}, "file_format"),
    ],
)
def test_bad_settings_are_422_naming_the_field(
    client: TestClient, org: Tokens, change: dict[str, Any], field: str
) -> None:
    response = client.put(url(org), json={**GOOD, **change}, headers=org.header(Role.ADMIN))
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert client.get(url(org), headers=org.header(Role.ADMIN)).status_code == 404
