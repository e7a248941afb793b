"""Group commit: appends of one process that arrive together share one transaction, and each is
still accepted or refused on its own. A second connection holds the events table's lock so the
appends queue up behind a first one deterministically (rows of one transaction share `xmin`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from application.ports import ConcurrentChange, Job, PeriodTaken
from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from infrastructure import guards
from infrastructure.append_queue import Append
from infrastructure.event_store import PostgresEventStore, open_event_log

JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31))
MID_JANUARY = Period(date(2025, 1, 10), date(2025, 1, 20))


@contextmanager
def events_locked(url: str) -> Iterator[None]:
    """Hold the events table's lock (as an append in flight does) until the block ends."""
    with psycopg.connect(url) as conn:
        conn.execute("LOCK TABLE export_service_events IN EXCLUSIVE MODE")
        yield
        conn.rollback()


def wait_until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the appends did not queue up"
        time.sleep(0.01)


def transactions_of(url: str, ids: list[UUID]) -> dict[UUID, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT originator_id, xmin::text FROM export_service_events "
            "WHERE originator_id = ANY(%s)", (ids,)).fetchall()
    return dict(rows)


class Queued:
    """Saves submitted one at a time, each waiting in the append queue before the next."""

    def __init__(self, store: PostgresEventStore, pool: ThreadPoolExecutor) -> None:
        self.store = store
        self.pool = pool
        self.queue = store.app.recorder.appends  # type: ignore[attr-defined]

    def save(self, aggregate: Any, **kwargs: Any) -> Future[Any]:
        before = len(self.queue.waiting)
        future = self.pool.submit(self._save, aggregate, **kwargs)
        wait_until(lambda: len(self.queue.waiting) > before or future.done())
        return future

    def _save(self, aggregate: Any, **kwargs: Any) -> Any:
        try:
            return self.store.save(aggregate, **kwargs)
        except Exception as refused:  # the test looks at what each caller got
            return refused


@contextmanager
def behind_a_first_append(db_url: str, store: PostgresEventStore) -> Iterator[Queued]:
    """A first append on its way (blocked on the lock this holds); the saves made through the
    yielded queue wait behind it and are written as one group once the block ends."""
    with ThreadPoolExecutor(8) as pool:
        queued = Queued(store, pool)
        with events_locked(db_url):
            first = pool.submit(store.save, request(uuid4()))
            wait_until(lambda: queued.queue.writing == queued.queue.writers)
            time.sleep(0.2)  # its transaction is at the server, blocked on the lock
            yield queued
        assert isinstance(first.result(10), int)


@pytest.fixture
def store(db_url: str) -> Iterator[PostgresEventStore]:
    """One group on its way at a time, so what queues behind it is known."""
    log = open_event_log(db_url, pool_size=4)
    log.recorder.appends.writers = 1  # type: ignore[attr-defined]
    yield PostgresEventStore(log)
    log.close()


def request(org_id: UUID, period: Period = JANUARY) -> ExportRun:
    return ExportRun.request(org_id, period, ExportTarget.XLEDGER, Actor("u", org_id, "c"))


def job_of(run: ExportRun) -> Job:
    return Job("execute_export_run", {"run_id": str(run.id)})


def test_appends_that_arrive_together_commit_in_one_transaction(
        db_url: str, store: PostgresEventStore) -> None:
    runs = [request(uuid4()) for _ in range(9)]
    with ThreadPoolExecutor(9) as pool:
        queued = Queued(store, pool)
        with events_locked(db_url):
            first = pool.submit(store.save, runs[0])  # writes alone, waits for the lock
            wait_until(lambda: queued.queue.writing == queued.queue.writers)
            time.sleep(0.2)  # its transaction is at the server, blocked on the lock
            rest = [queued.save(run, jobs=[job_of(run)]) for run in runs[1:]]
        positions = [first.result(10)] + [f.result(10) for f in rest]
    assert all(isinstance(p, int) for p in positions), positions
    assert sorted(positions) == list(range(1, 10))  # every caller got its own event
    xmins = transactions_of(db_url, [r.id for r in runs])
    assert xmins[runs[0].id] not in {xmins[r.id] for r in runs[1:]}
    assert len({xmins[r.id] for r in runs[1:]}) == 1  # the eight queued ones: one transaction
    with psycopg.connect(db_url) as conn:  # their jobs: queued in it, one each, in the order
        jobs = conn.execute("SELECT args->>'run_id', xmin::text FROM procrastinate_jobs "
                            "ORDER BY id").fetchall()  # of the group (by organisation)
    in_group = sorted(runs[1:], key=lambda run: str(run.org_id))
    assert jobs == [(str(run.id), xmins[run.id]) for run in in_group]


def test_two_groups_are_on_their_way_at_once(db_url: str) -> None:
    """While one group waits at the server (here for the lock), a second writer takes the
    next arrival; what comes after both queues up and is written as one group."""
    log = open_event_log(db_url, pool_size=4)
    store = PostgresEventStore(log)
    assert log.recorder.appends.writers == 2  # type: ignore[attr-defined]
    runs = [request(uuid4()) for _ in range(6)]
    try:
        with ThreadPoolExecutor(6) as pool:
            queued = Queued(store, pool)
            with events_locked(db_url):
                first = pool.submit(store.save, runs[0])
                wait_until(lambda: queued.queue.writing == 1)
                second = pool.submit(store.save, runs[1])
                wait_until(lambda: queued.queue.writing == 2)
                time.sleep(0.2)  # both transactions are at the server, blocked on the lock
                rest = [queued.save(run) for run in runs[2:]]
            positions = [first.result(10), second.result(10)] + [f.result(10) for f in rest]
    finally:
        log.close()
    assert sorted(positions) == list(range(1, 7)), positions
    xmins = transactions_of(db_url, [r.id for r in runs])
    assert len({xmins[runs[0].id], xmins[runs[1].id], xmins[runs[2].id]}) == 3
    assert len({xmins[r.id] for r in runs[2:]}) == 1  # the four that waited: one transaction


def appended(log: Any, run: ExportRun) -> Append:
    """The run's append as the queue holds it (its events stored, its guard rows)."""
    pending = run.collect_events()
    return Append([log.mapper.to_stored_event(e) for e in pending],
                  {"jobs": [job_of(run)], "guard_statements": guards.statements_for(pending)})


def advisory_locks(conn: psycopg.Connection[Any], granted: bool, excluding: int = 0) -> int:
    """Advisory locks of this database held (or waited for) by sessions other than `excluding`."""
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted = %s "
        "AND pid <> %s AND database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database())", (granted, excluding)).fetchone()
    assert row is not None
    return int(row[0])


def test_groups_take_the_locks_of_the_organisations_they_share_in_one_order(
        db_url: str) -> None:
    """Two groups (of two processes) request runs of the same two organisations, arrived in
    opposite orders. Each takes the organisations' period locks in one order, so neither holds
    one lock while waiting for the other's: in arrival order the second would hold `high`
    waiting for `low` while the first, once it has `low`, waits for `high`, a deadlock that
    PostgreSQL breaks only after a second by aborting one of them."""
    low, high = sorted([uuid4(), uuid4()], key=str)
    log = open_event_log(db_url, pool_size=4)
    february = Period(date(2025, 2, 1), date(2025, 2, 28))
    groups = [[appended(log, request(low)), appended(log, request(high))],
              [appended(log, request(high, february)), appended(log, request(low, february))]]
    try:
        with psycopg.connect(db_url, autocommit=True) as blocker, ThreadPoolExecutor(2) as pool:
            blocker.execute("SELECT pg_advisory_lock(hashtextextended("
                            "'export_run_periods ' || %s::uuid::text, 0))", (low,))
            writing = []
            for group in groups:  # each waits at the server before the next is sent
                writing.append(pool.submit(log.recorder._write_group, group))  # type: ignore[attr-defined]
                waiting = len(writing)
                wait_until(lambda: advisory_locks(blocker, False) == waiting)  # noqa: B023
            held_while_waiting = advisory_locks(blocker, True, blocker.info.backend_pid)
            blocker.execute("SELECT pg_advisory_unlock_all()")
            for written in writing:
                written.result(10)
    finally:
        log.close()
    assert held_while_waiting == 0  # both wait for `low` before taking `high`
    assert [[a.error for a in group] for group in groups] == [[None, None], [None, None]]
    assert all(a.ids for group in groups for a in group)


def test_an_append_refused_in_a_group_is_refused_alone(
        db_url: str, store: PostgresEventStore) -> None:
    org, other = uuid4(), uuid4()
    winner, loser, bystander = request(org), request(org, MID_JANUARY), request(other)
    with behind_a_first_append(db_url, store) as queued:
        answers = [queued.save(run, jobs=[job_of(run)]) for run in (winner, loser, bystander)]
    won, lost, passed = (a.result(10) for a in answers)
    assert isinstance(won, int) and isinstance(passed, int)
    assert isinstance(lost, PeriodTaken) and lost.existing_run_id == winner.id
    xmins = transactions_of(db_url, [winner.id, loser.id, bystander.id])
    assert set(xmins) == {winner.id, bystander.id}  # nothing of the refused one is stored
    assert xmins[winner.id] == xmins[bystander.id]
    with psycopg.connect(db_url) as conn:
        periods = conn.execute("SELECT run_id FROM export_run_periods WHERE org_id = %s",
                               (org,)).fetchall()
        jobs = conn.execute("SELECT args->>'run_id' FROM procrastinate_jobs").fetchall()
    assert periods == [(winner.id,)]
    assert {j for (j,) in jobs} == {str(winner.id), str(bystander.id)}


def test_refusals_of_one_group_each_name_the_run_holding_their_own_period(
        db_url: str, store: PostgresEventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A group's refusals share one read of the organisation's held periods; each still names
    the run that overlaps its own period, to the day at either end, as the single lookup does
    (several overlapping: the first by run id)."""
    org = uuid4()
    held = {name: request(org, Period(first, last)) for name, first, last in (
        ("a", date(2025, 1, 1), date(2025, 1, 10)), ("b", date(2025, 1, 20), date(2025, 1, 25)),
        ("c", date(2025, 2, 1), date(2025, 2, 28)))}
    for run in held.values():
        store.save(run)
    reads: list[UUID] = []
    read = store._read_held_periods

    def counted_read(org_id: UUID) -> Any:
        reads.append(org_id)
        return read(org_id)

    monkeypatch.setattr(store, "_read_held_periods", counted_read)
    expected = {
        (date(2025, 1, 10), date(2025, 1, 12)): held["a"].id,  # a's last day
        (date(2025, 1, 19), date(2025, 1, 20)): held["b"].id,  # b's first day
        (date(2025, 1, 25), date(2025, 1, 31)): held["b"].id,  # b's last day
        (date(2025, 2, 28), date(2025, 3, 3)): held["c"].id,  # c's last day
        (date(2025, 1, 5), date(2025, 2, 5)): min(r.id for r in held.values()),
    }
    with behind_a_first_append(db_url, store) as queued:
        answers = {period: queued.save(request(org, Period(*period))) for period in expected}
    for period, answer in answers.items():
        refused = answer.result(10)
        assert isinstance(refused, PeriodTaken), (period, refused)
        assert refused.existing_run_id == expected[period], period
    assert reads == [org]  # five refusals of one group: one read of the held periods


def test_two_appends_of_one_version_in_a_group_get_one_conflict(
        db_url: str, store: PostgresEventStore) -> None:
    run = request(uuid4())
    store.save(run)
    one, two = store.get(run.id), store.get(run.id)
    one.start([], Actor("w1", run.org_id, "c1"))
    two.start([], Actor("w2", run.org_id, "c2"))
    bystander = request(uuid4())
    with behind_a_first_append(db_url, store) as queued:
        answers = [queued.save(one), queued.save(two), queued.save(bystander)]
    results = [a.result(10) for a in answers]
    assert isinstance(results[2], int)
    assert sum(isinstance(r, int) for r in results[:2]) == 1
    assert sum(isinstance(r, ConcurrentChange) for r in results[:2]) == 1
    assert store.get(run.id).version == 2


def test_48_racing_requests_in_one_process_accept_exactly_one(
        db_url: str, store: PostgresEventStore) -> None:
    from application.export_runs import ExportRuns

    runs = ExportRuns(store, None, None, None, None)  # type: ignore[arg-type]
    org_id = uuid4()
    barrier = threading.Barrier(48)

    def attempt(i: int) -> UUID | Exception:
        barrier.wait()
        try:
            return runs.request_export(org_id, Period(date(2025, 3, 1 + i % 7),
                                                      date(2025, 3, 21 + i % 5)),
                                       ExportTarget.XLEDGER, Actor(f"u{i}", org_id, f"r{i}"))
        except Exception as refused:
            return refused

    with ThreadPoolExecutor(48) as pool:
        results = list(pool.map(attempt, range(48)))
    accepted = [r for r in results if isinstance(r, UUID)]
    assert len(accepted) == 1, results
    assert {getattr(r, "existing_run_id", None) for r in results
            if not isinstance(r, UUID)} == {accepted[0]}
