"""A heavy append (a run taking many claims) encodes its events as it sends them, not all
beforehand; a connection lost in the middle rolls the whole append back, and the retry encodes
and sends them again: every event is stored once, as encoding beforehand would have stored it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from infrastructure.event_store import EVENTS_TABLE, PostgresEventStore, open_event_log
from infrastructure.recorder import INLINE_MAX_BYTES

JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31))
CLAIMS = 12_000  # three ClaimsTaken events, well over INLINE_MAX_BYTES


def claims() -> Iterator[dict[str, Any]]:
    for i in range(CLAIMS):
        yield {"claim_id": str(uuid4()), "claimant_id": f"v-{i % 97}", "expense_date": "2025-01-02",
               "approved_at": "2025-01-03T09:00:00+00:00", "category": "reise",
               "amount": f"{10 + i % 4000}.{i % 100:02d}", "currency": "NOK",
               "description": f"Reise {i}; Tromsø", "late": False, "amount_nok": None,
               "ledger_ref": f"ref-{i}"}


@pytest.fixture
def store(db_url: str) -> Iterator[PostgresEventStore]:
    log = open_event_log(db_url, pool_size=2)
    yield PostgresEventStore(log)
    log.close()


def stored_states(db_url: str, run_id: Any) -> list[tuple[int, bytes]]:
    with psycopg.connect(db_url) as conn:
        return [(v, bytes(s)) for v, s in conn.execute(
            f"SELECT originator_version, state FROM {EVENTS_TABLE} WHERE originator_id = %s "
            "ORDER BY originator_version", (run_id,))]


def test_a_heavy_append_lost_midway_is_sent_again_and_stored_once(
        store: PostgresEventStore, db_url: str) -> None:
    org_id = uuid4()
    actor = Actor("u", org_id, "c")
    run = ExportRun.request(org_id, JANUARY, ExportTarget.XLEDGER, actor)
    store.save(run)
    run = store.get(run.id)
    run.start(claims(), actor)
    pending = list(run.pending_events)
    mapper = store.app.mapper
    expected = [(e.originator_version, mapper.to_stored_event(e).state) for e in pending]
    assert sum(len(s) for _, s in expected) > 2 * INLINE_MAX_BYTES
    assert len(pending) >= 4  # Started and the ClaimsTaken batches

    encoded: list[int] = []
    underway: list[int] = []  # transactions open when the connection was cut
    original = mapper.to_stored_event

    def encode(event: Any) -> Any:
        encoded.append(event.originator_version)
        if len(encoded) == len(pending) - 1:  # the first attempt is on its way: cut it off
            with psycopg.connect(db_url, autocommit=True) as admin:
                others = "datname = current_database() AND pid <> pg_backend_pid()"
                underway.extend(pid for (pid,) in admin.execute(
                    f"SELECT pid FROM pg_stat_activity WHERE {others} AND xact_start IS NOT NULL"))
                admin.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {others}")
        return original(event)

    mapper.to_stored_event = encode  # type: ignore[method-assign,assignment]
    try:
        store.save(run)
    finally:
        mapper.to_stored_event = original  # type: ignore[method-assign,assignment]

    versions = [e.originator_version for e in pending]
    cut = len(pending) - 1
    # Encoded in order as sent: the append's transaction was open on the server, its first
    # events sent, while the next ones were still being encoded.
    assert encoded[:cut] == versions[:cut]
    assert underway
    # The retry sent every event again, encoding again those not kept encoded: the one being
    # encoded when the connection was cut and those after it (the first two, encoded while
    # the append's size was measured, are kept).
    assert encoded[cut:] == versions[cut - 1:]
    stored = stored_states(db_url, run.id)
    assert stored[1:] == expected  # each once (a second copy would have broken the key)
    assert [v for v, _ in stored] == list(range(1, len(pending) + 2))
