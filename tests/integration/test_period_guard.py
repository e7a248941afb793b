"""The period guard is the database's exclusion constraint, proven with parallel connections."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from uuid import UUID, uuid4

import psycopg

from application.ports import PeriodTaken
from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from infrastructure.event_store import PostgresEventStore, open_event_log

PARALLEL = 32


def counts(url: str, org_id: UUID) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        events = conn.execute(  # a fresh database per test: every event is this test's
            "SELECT count(*) FROM export_service_events WHERE topic LIKE %s",
            ("%ExportRun.Requested",),
        ).fetchone()
        rows = conn.execute(
            "SELECT count(*) FROM export_run_periods WHERE org_id = %s", (org_id,)
        ).fetchone()
        jobs = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'execute_export_run'"
        ).fetchone()
    assert events and rows and jobs
    return events[0], rows[0], jobs[0]


def test_32_parallel_overlapping_requests_leave_exactly_one_run(db_url: str) -> None:
    from application.export_runs import ExportRuns

    org_id = uuid4()
    log = open_event_log(db_url, pool_size=PARALLEL)
    runs = ExportRuns(PostgresEventStore(log), None, None, None, None)  # type: ignore[arg-type]
    barrier = threading.Barrier(PARALLEL)
    base = date(2025, 3, 1)

    def attempt(i: int) -> UUID | PeriodTaken:
        period = Period(base + timedelta(days=i % 7), base + timedelta(days=20 + i % 5))
        actor = Actor(f"user-{i}", org_id, f"req-{i}")
        barrier.wait()
        try:
            return runs.request_export(org_id, period, ExportTarget.XLEDGER, actor)
        except Exception as refused:
            return refused.__cause__ or refused  # type: ignore[return-value]

    try:
        with ThreadPoolExecutor(PARALLEL) as pool:
            results = list(pool.map(attempt, range(PARALLEL)))
    finally:
        log.close()
    accepted = [r for r in results if isinstance(r, UUID)]
    refused = [r for r in results if not isinstance(r, UUID)]
    assert len(accepted) == 1, results
    assert all(type(r).__name__ == "RunAlreadyExists" for r in refused), refused
    assert {r.existing_run_id for r in refused} == {accepted[0]}  # type: ignore[attr-defined]
    assert counts(db_url, org_id) == (1, 1, 1)


def test_failed_run_frees_its_period_in_the_same_transaction(db_url: str) -> None:
    org_id = uuid4()
    actor = Actor("u", org_id, "c")
    log = open_event_log(db_url, pool_size=2)
    store = PostgresEventStore(log)
    try:
        january = Period(date(2025, 1, 1), date(2025, 1, 31))
        first = ExportRun.request(org_id, january, ExportTarget.XLEDGER, actor)
        store.save(first)
        second = ExportRun.request(org_id, january, ExportTarget.DYNAMICS, actor)
        try:
            store.save(second)
            raise AssertionError("overlap accepted")
        except PeriodTaken as taken:
            assert taken.existing_run_id == first.id
        first.start([], actor)
        first.fail("boom", "failed", actor)
        store.save(first)
        assert counts(db_url, org_id)[1] == 0
        with psycopg.connect(db_url) as conn:
            statuses = conn.execute("SELECT topic FROM export_service_events").fetchall()
        assert [t.rsplit(".", 1)[-1] for (t,) in statuses] == ["Requested", "Started", "Failed"]
        third = ExportRun.request(org_id, january, ExportTarget.DYNAMICS, actor)
        store.save(third)
        # Another organisation's identical period never collides.
        other = ExportRun.request(uuid4(), january, ExportTarget.XLEDGER, Actor("u", uuid4(), "c"))
        store.save(other)
        # Adjacent periods do not overlap (inclusive ends).
        february = Period(date(2025, 2, 1), date(2025, 2, 28))
        store.save(ExportRun.request(org_id, february, ExportTarget.XLEDGER, actor))
    finally:
        log.close()


def test_every_event_carries_who_which_org_when_and_correlation(db_url: str) -> None:
    org_id = uuid4()
    log = open_event_log(db_url, pool_size=1)
    store = PostgresEventStore(log)
    try:
        run = ExportRun.request(org_id, Period(date(2025, 5, 1), date(2025, 5, 31)),
                                ExportTarget.XLEDGER, Actor("kari", org_id, "req-42"))
        run.start([], Actor("system:worker", org_id, "run-x"))
        store.save(run)
        history = store.history(run.id)
    finally:
        log.close()
    assert [e.type for e in history] == ["Requested", "Started"]
    assert history[0].actor == {"sub": "kari", "org_id": str(org_id), "correlation_id": "req-42"}
    assert history[1].actor is not None and history[1].actor["sub"] == "system:worker"
    assert all(e.timestamp.tzinfo is not None for e in history)
