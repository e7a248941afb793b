"""Delivery tests: stand-ins on 127.0.0.1, an organisation with claims, settings and a
connection, and the run's lines as the stand-in stored them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from infrastructure.settings import Settings
from interfaces.http.auth import Role
from tests.integration.conftest import SECRET, Tokens, claim_json
from tests.standins.base import serve
from tests.standins.business_central import BusinessCentral
from tests.standins.xledger import Xledger

TENANT = "contoso.onmicrosoft.com"
ACCOUNTING = {
    "company_code": "HLF", "voucher_type": "UTLEGG", "counter_account": "2930",
    "categories": {
        "reise": {"account": "7140", "tax_code": "0", "dimension": "100"},
        "kurs": {"account": "7320", "tax_code": "0", "dimension": None},
    },
}


def delivery_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path, "jwt_secret": SecretStr(SECRET), "demo_data": False,
        "delivery_hosts": "127.0.0.1", "delivery_retry_initial_seconds": 0.01,
        "delivery_retry_max_seconds": 0.05, "delivery_batch_size": 10,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def bc() -> Iterator[tuple[BusinessCentral, str]]:
    standin = BusinessCentral()
    with serve(standin.app()) as url:
        yield standin, url


@pytest.fixture
def xl() -> Iterator[tuple[Xledger, str]]:
    standin = Xledger()
    with serve(standin.app()) as url:
        yield standin, url


def bc_connection(standin: BusinessCentral, url: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "enabled": True, "endpoint": url, "token_url": f"{url}/{TENANT}/oauth2/v2.0/token",
        "tenant_id": TENANT, "environment": "production", "company_id": standin.company_id,
        "journal": "UTLEGG",
        "credentials": {"client_id": standin.client_id, "client_secret": standin.client_secret},
    }
    body.update(overrides)
    return body


def xl_connection(standin: Xledger, url: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"enabled": True, "endpoint": f"{url}/graphql",
                            "credentials": {"api_token": standin.api_token}}
    body.update(overrides)
    return body


def prepare(client: TestClient, org: Tokens, target: str, connection: dict[str, Any],
            claims: int = 5, day: str = "2025-03-10") -> list[dict[str, Any]]:
    """Settings, claims and a stored connection for the organisation; returns the claims."""
    admin = org.header(Role.ADMIN)
    assert client.put(f"/v1/orgs/{org.org_id}/accounting-settings", json=ACCOUNTING,
                      headers=admin).status_code == 200
    stored = client.put(f"/v1/orgs/{org.org_id}/delivery/{target}", json=connection, headers=admin)
    assert stored.status_code == 200, stored.text
    bodies = [claim_json(day, f"{100 + i}.{i % 100:02d}", category="reise" if i % 3 else "kurs",
                         claimant_id=f"frivillig-{i}") for i in range(claims)]
    assert client.put(f"/v1/orgs/{org.org_id}/claims", json={"claims": bodies},
                      headers=org.header()).status_code == 200
    return bodies


def request_run(client: TestClient, org: Tokens, target: str) -> UUID:
    answer = client.post(f"/v1/orgs/{org.org_id}/export-runs", headers=org.header(), json={
        "period_start": "2025-03-01", "period_end": "2025-03-31", "target": target})
    assert answer.status_code == 202, answer.text
    return UUID(answer.json()["run_id"])


def run_of(client: TestClient, org: Tokens, run_id: UUID) -> dict[str, Any]:
    answer = client.get(f"/v1/orgs/{org.org_id}/export-runs/{run_id}", headers=org.header())
    assert answer.status_code == 200
    return dict(answer.json())


def bc_keys(standin: BusinessCentral) -> Counter[tuple[str, str, str, Decimal]]:
    return Counter((r["documentNumber"], r["externalDocumentNumber"], r["accountNumber"],
                    Decimal(r["amount"])) for r in standin.lines)


def xl_keys(standin: Xledger) -> Counter[tuple[str, str, Decimal]]:
    return Counter((r["extIdentifier"], r["account"]["code"], Decimal(r["amount"]))
                   for r in standin.items)


def expected_expense_lines(claims: list[dict[str, Any]]) -> Counter[tuple[str, Decimal]]:
    accounts = {name: c["account"] for name, c in ACCOUNTING["categories"].items()}  # type: ignore[attr-defined]
    return Counter((accounts[c["category"]], Decimal(c["amount"])) for c in claims)


def new_org() -> Tokens:
    return Tokens(uuid4())
