"""An append's statements are prepared once per connection and executed by name; a connection
that lost them (a pooler's DISCARD ALL) prepares them again and the append still lands once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from application.ports import Job, PeriodTaken
from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from infrastructure.event_store import PostgresEventStore, open_event_log
from infrastructure.prepared import prepare, prepared_statements

JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31))


@pytest.fixture
def store(db_url: str) -> Iterator[PostgresEventStore]:
    log = open_event_log(db_url, pool_size=1)
    yield PostgresEventStore(log)
    log.close()


def request(org_id: Any, period: Period = JANUARY) -> ExportRun:
    return ExportRun.request(org_id, period, ExportTarget.XLEDGER, Actor("u", org_id, "c"))


def on_every_connection(store: PostgresEventStore, sql: str) -> list[Any]:
    """`sql` run on each connection of the pool at once (appends take whichever is idle)."""
    pool = store.app.recorder.datastore.pool  # type: ignore[attr-defined]
    with ExitStack() as stack:
        conns = [stack.enter_context(pool.connection())
                 for _ in range(pool.get_stats()["pool_size"])]
        rows: list[Any] = []
        for conn in conns:
            cursor = conn.execute(sql)
            rows += cursor.fetchall() if cursor.description else []
        return rows


def plans_used(store: PostgresEventStore) -> dict[str, int]:
    """How often each prepared statement was executed, over the pool's connections."""
    used: Counter[str] = Counter()
    for row in on_every_connection(
            store, "SELECT name, generic_plans + custom_plans AS used FROM pg_prepared_statements"):
        used[row["name"]] += row["used"]
    return dict(used)


def test_an_append_prepares_what_it_writes_and_later_appends_execute_it(
        store: PostgresEventStore) -> None:
    for _ in range(4):
        run = request(uuid4())
        store.save(run, jobs=[Job("execute_export_run", {"run_id": str(run.id)})])
    used = plans_used(store)
    for name in ("event_store_insert_event", "event_store_defer_job", "guards_open_run",
                 "guards_take_period"):
        assert used[f"export_service_{name}"] == 4, (name, used)
    assert "export_service_guards_cover_period" not in used  # nothing it does not write


def test_preparing_waits_on_no_table_the_append_does_not_write(
        store: PostgresEventStore, db_url: str) -> None:
    with psycopg.connect(db_url) as blocker:  # as a long-running statement elsewhere would
        blocker.execute("LOCK TABLE covered_periods, claim_reservations IN EXCLUSIVE MODE")
        with ThreadPoolExecutor(1) as pool:
            saved = pool.submit(store.save, request(uuid4()))
            assert isinstance(saved.result(timeout=20), int)


def test_after_a_refusal_a_connection_prepares_nothing_twice(store: PostgresEventStore) -> None:
    org = uuid4()
    store.save(request(org))
    with pytest.raises(PeriodTaken):
        store.save(request(org))
    store.save(request(uuid4()))  # a second PREPARE of a name would fail it
    assert plans_used(store)["export_service_guards_take_period"] == 3


def test_a_connection_whose_server_lost_its_statements_sends_them_as_text(
        store: PostgresEventStore, db_url: str) -> None:
    """As behind a pooler in transaction mode: the append lands once, and that connection
    prepares nothing again (it would be lost again)."""
    for _ in range(3):  # every connection of the pool has appended (prepared)
        store.save(request(uuid4()))
    pool = store.app.recorder.datastore.pool  # type: ignore[attr-defined]
    on_every_connection(store, "DISCARD ALL")
    assert plans_used(store) == {}
    org = uuid4()
    first = request(org)
    store.save(first)
    with pytest.raises(PeriodTaken):  # the guard, sent as text, still refuses
        store.save(request(org))
    store.save(request(uuid4()))
    assert plans_used(store) == {}
    assert all(getattr(c, "_export_service_prepared", None) == "unprepared" for c in pool._pool)
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT count(*) FROM export_service_events WHERE originator_id = %s",
                              (first.id,)).fetchone()
    assert stored == (1,)


def test_preparing_all_at_once_skips_those_a_connection_has(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        prepare(conn)
        prepare(conn)  # knows them: prepares nothing twice
        names = {r[0] for r in conn.execute("SELECT name FROM pg_prepared_statements")}
    assert names == {p.name for p in prepared_statements().values()}
