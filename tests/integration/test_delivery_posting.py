"""Posting a completed run to the stand-ins: every line exactly once, amounts and accounts as
the vouchers say, through 429/503 storms and dropped connections; refusals fail clearly."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest

from bootstrap import Services
from infrastructure.settings import Settings
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens, drain_queue
from tests.integration.delivery_helpers import (
    ACCOUNTING,
    bc,  # noqa: F401 - fixture
    bc_connection,
    bc_keys,
    delivery_settings,
    expected_expense_lines,
    prepare,
    request_run,
    run_of,
    xl,  # noqa: F401 - fixture
    xl_connection,
    xl_keys,
)
from tests.standins.business_central import BusinessCentral
from tests.standins.xledger import Xledger


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return delivery_settings(tmp_path)


def assert_bc_lines_once(standin: BusinessCentral, claims: list[dict[str, object]]) -> None:
    keys = bc_keys(standin)
    assert set(keys.values()) == {1}, "a line was posted twice"
    assert len(standin.lines) == 2 * len(claims)
    expense = Counter((r["accountNumber"], Decimal(r["amount"])) for r in standin.lines
                      if r["accountNumber"] != ACCOUNTING["counter_account"])
    assert expense == expected_expense_lines(claims)  # type: ignore[arg-type]
    by_document: dict[str, Decimal] = {}
    for r in standin.lines:
        by_document[r["documentNumber"]] = by_document.get(r["documentNumber"], 0) + Decimal(r["amount"])
    assert set(by_document.values()) == {Decimal("0.00")}, "every document balances"
    claim_refs = {str(c["id"]).replace("-", "") for c in claims}
    assert {r["externalDocumentNumber"] for r in standin.lines} == claim_refs


def test_business_central_happy_path(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str]  # noqa: F811
) -> None:
    standin, url = bc
    claims = prepare(client, org, "dynamics", bc_connection(standin, url), claims=23)
    run_id = request_run(client, org, "dynamics")
    drain_queue(services)
    run = run_of(client, org, run_id)
    assert run["status"] == "completed"
    assert run["delivery"]["status"] == "delivered", run["delivery"]
    assert run["delivery"]["lines_posted"] == 46 and run["delivery"]["attempts"] == 1
    assert_bc_lines_once(standin, claims)
    with_dimension = [r for r in standin.lines if r["dimensionSetLines"]]
    assert {d["valueCode"] for r in with_dimension for d in r["dimensionSetLines"]} == {"100"}
    assert all(r["accountType"] == "G/L Account" and r["postingDate"] == "2025-03-31"
               for r in standin.lines)
    assert standin.requests["batch"] == 5  # 46 lines, 10 per $batch
    history = client.get(f"/v1/orgs/{org.org_id}/export-runs/{run_id}/events", headers=org.header())
    types = [e["type"] for e in history.json()]
    assert types[-9:] == ["Completed", "DeliveryQueued", "DeliveryStarted", *["LinesPosted"] * 5,
                          "DeliveryCompleted"]


def test_xledger_happy_path_keyed_by_imp_system_ref(
    services: Services, client, org: Tokens, xl: tuple[Xledger, str]  # noqa: F811
) -> None:
    standin, url = xl
    claims = prepare(client, org, "xledger", xl_connection(standin, url), claims=12)
    run_id = request_run(client, org, "xledger")
    drain_queue(services)
    assert run_of(client, org, run_id)["delivery"]["status"] == "delivered"
    keys = xl_keys(standin)
    assert set(keys.values()) == {1} and len(standin.items) == 24
    assert all(len(r["extIdentifier"]) <= 25 for r in standin.items)
    expense = Counter((r["account"]["code"], Decimal(r["amount"])) for r in standin.items
                      if r["account"]["code"] != "2930")
    assert expense == expected_expense_lines(claims)
    assert {r["transactionSource"]["code"] for r in standin.items} == {"UTLEGG"}


def test_429_and_503_storms_are_delivered_in_the_end_without_duplicates(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str]  # noqa: F811
) -> None:
    standin, url = bc
    claims = prepare(client, org, "dynamics", bc_connection(standin, url), claims=15)
    standin.faults.script = [(429, 1), (503, None), (503, None), (429, 1), (500, None)]
    run_id = request_run(client, org, "dynamics")
    drain_queue(services)
    assert run_of(client, org, run_id)["delivery"]["status"] == "delivered"
    assert standin.faults.script == []
    assert_bc_lines_once(standin, claims)


def test_dropped_connection_after_a_stored_batch_posts_nothing_twice(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str],  # noqa: F811
    xl: tuple[Xledger, str],  # noqa: F811
) -> None:
    standin, url = bc
    claims = prepare(client, org, "dynamics", bc_connection(standin, url), claims=15)
    standin.faults.drop_after_store = 2
    run_id = request_run(client, org, "dynamics")
    drain_queue(services)
    assert run_of(client, org, run_id)["delivery"]["status"] == "delivered"
    assert standin.faults.drop_after_store == 0
    assert_bc_lines_once(standin, claims)
    xstandin, xurl = xl
    other = Tokens(uuid4())
    prepare(client, other, "xledger", xl_connection(xstandin, xurl), claims=7)
    xstandin.faults.drop_after_store = 1
    xrun = request_run(client, other, "xledger")
    drain_queue(services)
    assert run_of(client, other, xrun)["delivery"]["status"] == "delivered"
    assert set(xl_keys(xstandin).values()) == {1} and len(xstandin.items) == 14


def test_revoked_credentials_fail_the_delivery_clearly_then_a_retry_delivers(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str]  # noqa: F811
) -> None:
    standin, url = bc
    claims = prepare(client, org, "dynamics", bc_connection(standin, url), claims=4)
    standin.revoke()
    run_id = request_run(client, org, "dynamics")
    drain_queue(services)
    run = run_of(client, org, run_id)
    assert run["status"] == "completed"  # the file exists; the delivery is what failed
    assert run["delivery"]["status"] == "failed"
    assert run["delivery"]["last_error"]["code"] == "credentials_refused"
    assert "Invalid client secret" in run["delivery"]["last_error"]["message"]
    health = client.get(f"/v1/orgs/{org.org_id}/delivery/dynamics", headers=org.header(Role.ADMIN))
    assert health.json()["health"]["ok"] is False  # passive detection
    assert standin.lines == []
    retry = f"/v1/orgs/{org.org_id}/export-runs/{run_id}/delivery"
    assert client.post(retry, headers=org.header(Role.ANALYST)).status_code == 403
    fixed = bc_connection(standin, url)
    assert client.put(f"/v1/orgs/{org.org_id}/delivery/dynamics", json=fixed,
                      headers=org.header(Role.ADMIN)).status_code == 200
    answer = client.post(retry, headers=org.header())
    assert answer.status_code == 202 and answer.json()["delivery"]["status"] == "pending"
    drain_queue(services)
    run = run_of(client, org, run_id)
    assert run["delivery"]["status"] == "delivered" and run["delivery"]["attempts"] == 1
    assert_bc_lines_once(standin, claims)
    assert client.post(retry, headers=org.header()).status_code == 409  # delivered: never again


def test_a_refused_line_fails_with_the_vendors_message(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str]  # noqa: F811
) -> None:
    standin, url = bc
    prepare(client, org, "dynamics", bc_connection(standin, url), claims=3)
    standin.accounts = {"2930", "7320"}  # 7140 was closed in the ledger
    run_id = request_run(client, org, "dynamics")
    drain_queue(services)
    delivery = run_of(client, org, run_id)["delivery"]
    assert delivery["status"] == "failed" and delivery["last_error"]["code"] == "refused"
    assert "G/L Account does not exist" in delivery["last_error"]["message"]
    assert "7140" in delivery["last_error"]["message"]
