"""Reading an aggregate never decodes a run's ClaimsTaken payloads, and gives exactly the state
(and version) the library's full replay gives, at every version."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import psycopg
import pytest

from application.ports import NotFound
from domain.export_run import CLAIMS_PER_EVENT, ExportRun, ExportTarget
from domain.shared import Actor, Period
from infrastructure.event_store import EVENTS_TABLE, UNREAD, PostgresEventStore, open_event_log

FILE = {"path": "exports/x.csv", "size_bytes": 1, "sha256": "0"}


def claims(n: int) -> list[dict[str, object]]:
    return [
        {"claim_id": uuid4(), "claimant_id": f"v-{i % 7}", "expense_date": date(2025, 1, 2),
         "approved_at": datetime(2025, 1, 3, tzinfo=UTC), "category": "reise",
         "amount": Decimal("12.50"), "currency": "NOK", "description": f"Reise {i}"}
        for i in range(n)
    ]


def test_reads_skip_claim_payloads_and_equal_a_full_replay(db_url: str) -> None:
    log = open_event_log(db_url, pool_size=2)
    store = PostgresEventStore(log)
    actor = Actor("user-1", uuid4(), "c")
    run = ExportRun.request(actor.org_id, Period(date(2025, 1, 1), date(2025, 1, 31)),
                            ExportTarget.XLEDGER, actor)
    run.start(claims(2 * CLAIMS_PER_EVENT + 1), actor)  # three ClaimsTaken events
    run.complete(FILE, actor)
    try:
        store.save(run)
        replayed = {v: log.repository.get(run.id, version=v) for v in range(1, 7)}
        with psycopg.connect(db_url) as conn:
            # Unreadable payloads: a read that decoded them would fail.
            spoiled = conn.execute(f"UPDATE {EVENTS_TABLE} SET state = 'not json' "
                                   "WHERE originator_id = %s AND topic = ANY(%s)", (run.id, UNREAD))
            assert spoiled.rowcount == 3
        for version, full in replayed.items():
            read = store.get(run.id, version=version)
            assert (read.version, read.status, read.record_count, read.file, read.created_on) == (
                full.version, full.status, full.record_count, full.file, full.created_on)
        read = store.get(run.id)
        assert (read.version, read.status.value, read.record_count, read.file) == (
            6, "completed", 2 * CLAIMS_PER_EVENT + 1, FILE)
        assert read.modified_on == replayed[6].modified_on
        with pytest.raises(NotFound):
            store.get(uuid4())
    finally:
        log.close()
