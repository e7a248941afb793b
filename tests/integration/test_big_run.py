"""A 20 000-claim run: its events list every claim with its amount, in batches appended in one
save, and the file (rendered from those events, streamed) matches them line by line."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import psycopg
import pytest

from application.export_runs import claims_in_history
from application.ports import ClaimRecord
from bootstrap import Services
from domain.export_run import CLAIMS_PER_EVENT, ExportRunStatus, ExportTarget
from domain.shared import Actor, Period
from domain.vouchers import claim_id_of
from infrastructure.event_store import EVENTS_TABLE
from interfaces.demo import ORGS, demo_settings

CLAIMS = 20_000
JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31))

pytestmark = pytest.mark.slow


def seed(services: Services, org_id: UUID, actor: Actor) -> list[ClaimRecord]:
    services.accounting_settings.configure(org_id, demo_settings(ORGS[0]), actor)
    approved = datetime(2025, 1, 2, 9, tzinfo=UTC)
    claims = [
        ClaimRecord(uuid4(), f"v-{i % 97}", date(2025, 1, 1), approved + timedelta(seconds=i * 7),
                    "reise", f"{10 + i % 4000}.{i % 100:02d}", "NOK", f"Reise {i}; Tromsø")
        for i in range(CLAIMS)
    ]
    for start in range(0, CLAIMS, 5000):
        services.claims.upsert(org_id, claims[start:start + 5000])
    return claims


def test_big_run_events_list_every_claim_and_the_file_matches_them(
    services: Services, db_url: str
) -> None:
    org_id = uuid4()
    actor = Actor("coordinator", org_id, "big-run")
    claims = seed(services, org_id, actor)
    seeded = {str(c.id): c.amount for c in claims}
    run_id = services.export_runs.request_export(org_id, JANUARY, ExportTarget.XLEDGER, actor)
    # Take the claims (what execute does first), then re-import them all with new amounts:
    # the file must still carry the amounts the events recorded.
    run = services.store.get(run_id)
    run.start((c.as_event_data() for c in services.claims.candidates(org_id, JANUARY.start, JANUARY.end)), actor)
    services.store.save(run)
    reimport = services.claims.upsert(org_id, [
        ClaimRecord(c.id, c.claimant_id, c.expense_date, c.approved_at, c.category,
                    str(Decimal(c.amount) + 1), c.currency, c.description)
        for c in claims
    ])
    assert len(reimport.locked) == CLAIMS and reimport.upserted == 0  # the run holds them
    services.export_runs.execute(run_id)

    run = services.store.get(run_id)
    assert run.status is ExportRunStatus.COMPLETED and run.record_count == CLAIMS
    history = services.store.history(run_id)
    batches = [e for e in history if e.type == "ClaimsTaken"]
    assert len(batches) == CLAIMS // CLAIMS_PER_EVENT
    taken = claims_in_history(history)
    assert len(taken) == len({c["claim_id"] for c in taken}) == CLAIMS
    assert {c["claim_id"]: c["amount"] for c in taken} == seeded  # the event log alone tells
    with psycopg.connect(db_url) as conn:  # Started and every batch in one transaction
        txids = conn.execute(
            f"SELECT DISTINCT xmin::text FROM {EVENTS_TABLE} WHERE originator_id = %s "
            "AND originator_version BETWEEN 2 AND %s", (run_id, 2 + len(batches)),
        ).fetchall()
        assert len(txids) == 1
        assert conn.execute(
            "SELECT count(*) FROM claim_reservations WHERE run_id = %s", (run_id,)
        ).fetchone() == (CLAIMS,)
        first = claims[0]
        assert conn.execute(  # locked: the re-import did not change the source amounts
            "SELECT amount::text FROM claims WHERE org_id = %s AND id = %s", (org_id, first.id)
        ).fetchone() == (str(Decimal(first.amount).quantize(Decimal("0.01"))),)

    with services.files.open(run.file["path"]) as f:
        rows = list(csv.DictReader(io.TextIOWrapper(f, encoding="utf-8"), delimiter=";"))
    assert len(rows) == 2 * CLAIMS  # per claim: its expense line and its counter line
    expense = {
        str(claim_id_of(r["ImpSystemRef"])): r["Amount"]
        for r in rows if not r["Amount"].startswith("-")
    }
    assert expense == seeded
    assert sum(Decimal(r["Amount"]) for r in rows) == 0
