"""What a delivery counts and posts when things change around it: a scheduled sync counts lines
in every failure path, a retry after the accounting settings changed posts the file's lines
(never new ones beside the old), a retry after the accountant posted the journal posts none of
the posted lines again, and Xledger's burst rate limit is waited out."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import psycopg
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
    prepare,
    request_run,
    run_of,
    xl,  # noqa: F401 - fixture
    xl_connection,
    xl_keys,
)
from tests.integration.test_delivery_sync import scheduled_sync, setup
from tests.standins.business_central import BusinessCentral
from tests.standins.xledger import Xledger


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return delivery_settings(tmp_path)


def test_a_sync_whose_delivery_fails_before_posting_counts_lines_not_claims(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str], db_url: str  # noqa: F811
) -> None:
    standin, url = bc
    setup(client, org, standin, url)
    with psycopg.connect(db_url, autocommit=True) as conn:  # the stored secret is unreadable
        conn.execute("UPDATE delivery_connections SET credentials = 'garbage'::bytea "
                     "WHERE org_id = %s", (org.org_id,))
    sync = scheduled_sync(services, client, org, db_url, claims=3)
    assert sync["status"] == "failed", sync
    assert "credentials_unavailable" in sync["error_message"]
    # 3 claims, one voucher each: an expense line and a counter line, none posted.
    assert (sync["records_processed"], sync["records_failed"]) == (0, 6)
    assert standin.lines == []


def test_a_sync_whose_delivery_fails_half_way_counts_the_lines_posted_and_the_rest(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str], db_url: str  # noqa: F811
) -> None:
    standin, url = bc
    setup(client, org, standin, url)
    # Journal lookup, read-back (journal, G/L entries), the first $batch; the second is refused.
    standin.faults.script = [None, None, None, None, (400, None)]
    sync = scheduled_sync(services, client, org, db_url, claims=6)
    assert sync["status"] == "failed", sync
    assert (sync["records_processed"], sync["records_failed"]) == (10, 2)
    assert len(standin.lines) == 10


def test_a_retry_after_the_settings_changed_posts_the_files_lines_only(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str]  # noqa: F811
) -> None:
    standin, url = bc
    claims = prepare(client, org, "dynamics", bc_connection(standin, url), claims=6)
    # Journal lookup, read-back (journal, G/L entries) and the first $batch pass; the second
    # $batch is refused.
    standin.faults.script = [None, None, None, None, (400, None)]
    run_id = request_run(client, org, "dynamics")
    drain_queue(services)
    failed = run_of(client, org, run_id)["delivery"]
    assert failed["status"] == "failed" and failed["lines_posted"] == 10, failed
    first_batch = bc_keys(standin)
    # The admin now books against a new counter account; the run's file used the old one.
    changed = {**ACCOUNTING, "counter_account": "2990"}
    assert client.put(f"/v1/orgs/{org.org_id}/accounting-settings", json=changed,
                      headers=org.header(Role.ADMIN)).status_code == 200
    assert client.post(f"/v1/orgs/{org.org_id}/export-runs/{run_id}/delivery",
                       headers=org.header()).status_code == 202
    drain_queue(services)
    assert run_of(client, org, run_id)["delivery"]["status"] == "delivered"
    keys = bc_keys(standin)
    assert set(keys.values()) == {1}, "a line was posted twice"
    assert first_batch <= keys and len(standin.lines) == 2 * len(claims)
    assert {r["accountNumber"] for r in standin.lines} == {"7140", "7320", "2930"}


def test_xledger_burst_rate_limit_is_waited_out(
    services: Services, client, org: Tokens, xl: tuple[Xledger, str]  # noqa: F811
) -> None:
    standin, url = xl
    prepare(client, org, "xledger", xl_connection(standin, url), claims=8)
    standin.burst_limited = 3
    standin.faults.script = [(503, None)]
    run_id = request_run(client, org, "xledger")
    drain_queue(services)
    assert run_of(client, org, run_id)["delivery"]["status"] == "delivered"
    assert standin.burst_limited == 0
    keys = xl_keys(standin)
    assert set(keys.values()) == {1} and len(standin.items) == 16
    assert Counter(Decimal(r["amount"]) > 0 for r in standin.items) == {True: 8, False: 8}


def test_a_retry_after_the_journal_was_posted_posts_only_the_missing_documents(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str]  # noqa: F811
) -> None:
    standin, url = bc
    claims = prepare(client, org, "dynamics", bc_connection(standin, url), claims=6)
    standin.faults.script = [None, None, None, None, (400, None)]  # the second $batch refused
    run_id = request_run(client, org, "dynamics")
    drain_queue(services)
    assert run_of(client, org, run_id)["delivery"]["status"] == "failed"
    assert standin.post_journal() == 10  # the accountant posts what arrived: 5 documents
    assert client.post(f"/v1/orgs/{org.org_id}/export-runs/{run_id}/delivery",
                       headers=org.header()).status_code == 202
    drain_queue(services)
    assert run_of(client, org, run_id)["delivery"]["status"] == "delivered"
    in_ledger = Counter(e["documentNumber"] for e in standin.entries)
    in_journal = Counter(r["documentNumber"] for r in standin.lines)
    assert not set(in_ledger) & set(in_journal), "a posted document was posted again"
    assert sum(in_ledger.values()) + sum(in_journal.values()) == 2 * len(claims)
    assert set(in_journal.values()) == {2}  # the one missing voucher: expense + counter line
