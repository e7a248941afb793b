"""Event store benchmarks, each beside its raw PostgreSQL floor measured in the same run:
projection rebuild (events/s) against one SELECT + decode + COPY + commit; appends
(`request_export`, with its job, guard row and remembered answer) at 1 and 8 writers against
single-row INSERT + COMMIT; 48 racing overlapping triggers against the service's guard statement raced on 48 connections.
Used by `benchmarks/run`."""

from __future__ import annotations

import queue
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import psycopg

from application.export_runs import ExportRuns
from application.ports import Job
from application.task_names import EXECUTE_EXPORT_RUN
from domain.export_run import ExportRun, ExportTarget, RunAlreadyExists
from domain.shared import Actor, Period
from domain.sync_run import SyncRun
from infrastructure import guards
from infrastructure.database import ensure_database, eventsourcing_env, with_dbname
from infrastructure.event_store import (
    EVENTS_TABLE,
    PostgresEventStore,
    open_event_log,
    traced_jobs,
)
from infrastructure.migrations import migrate
from infrastructure.prepared import Binder, prepare
from infrastructure.projections.runner import ProjectionSupervisor, rebuild
from infrastructure.recorder import append_query, run_query
from infrastructure.sql import queries

TAKE_PERIOD = queries("guards")["take_period"]

PERIOD = Period(date(2025, 1, 1), date(2025, 1, 31))
FILE = {"path": "exports/x.csv", "size_bytes": 1, "sha256": "0"}


def fresh_database(admin: str, name: str) -> str:
    url = ensure_database(admin, f"bench_{name}_{uuid.uuid4().hex[:8]}")
    migrate(url)
    return url


def mixed_aggregates(i: int) -> list[Any]:
    """Export runs (completed, failed) and sync runs of one organisation: 10 events."""
    actor = Actor("loader", uuid4(), f"bench-{i}")
    done = ExportRun.request(actor.org_id, PERIOD, ExportTarget.XLEDGER, actor)
    done.start([], actor)
    done.complete(FILE, actor)
    failed = ExportRun.request(actor.org_id, Period(date(2025, 2, 1), date(2025, 2, 28)),
                               ExportTarget.DYNAMICS, actor)
    failed.start([], actor)
    failed.fail("target_unreachable", "the target did not answer", actor)
    synced = SyncRun.start_new(actor.org_id, "xledger", "scheduler", actor)
    synced.complete(10, 1, None, actor)
    broken = SyncRun.start_new(actor.org_id, "dynamics", "manual", actor)
    broken.fail(3, 2, "connection refused", actor)
    return [done, failed, synced, broken]


def fill_log(url: str, events: int) -> int:
    log = open_event_log(url, pool_size=2)
    store = PostgresEventStore(log)
    i = 0
    try:
        while store.max_notification_id() < events:
            store.save(*[a for k in range(10) for a in mixed_aggregates(i * 10 + k)])
            i += 1
        return store.max_notification_id()
    finally:
        log.close()


def raw_rebuild_floor(url: str) -> float:
    """Seconds for: one SELECT of the log, decode every event, COPY a row each, commit. Rows
    are read and COPYed in binary, as the projections' pages are (a floor the projections
    would beat by reading differently would not be a floor)."""
    log = open_event_log(url, pool_size=1)
    from eventsourcing.persistence import StoredEvent

    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TEMP TABLE floor (id bigint, originator_id uuid, topic text)")
        rows = conn.execute(
            f"SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {EVENTS_TABLE} ORDER BY notification_id", binary=True
        ).fetchall()
        with conn.cursor().copy("COPY floor FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "uuid", "text"])
            for nid, oid, version, topic, state in rows:
                log.mapper.to_domain_event(StoredEvent(oid, version, topic, bytes(state)))
                copy.write_row((nid, oid, topic))
        conn.commit()
    elapsed = time.perf_counter() - started
    log.close()
    return elapsed


def copy_of(admin: str, template: str) -> str:
    """A new database holding exactly what `template` holds (its read models still empty)."""
    name = f"{template}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return with_dbname(admin, name)


def drop(admin: str, url: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')


def projection_rebuild(admin: str, events: int, rounds: int = 3,
                       ) -> dict[str, tuple[float, float]]:
    """Per projection: (events/s of `rebuild`, events/s of the raw floor), each the best of
    `rounds`; every round measures the floor and then the rebuild on a fresh copy of the same
    log, so a busy moment of the shared machine does not decide the ratio."""
    template = fresh_database(admin, "rebuild")
    head = fill_log(template, events)
    with psycopg.connect(template, autocommit=True) as conn:
        conn.execute(f"VACUUM ANALYZE {EVENTS_TABLE}")  # as a settled log is: hint bits set
    out = {}
    for name in ("export_runs", "sync_run_log", "audit_chain"):
        best_floor = best = float("inf")
        for _ in range(rounds):
            url = copy_of(admin, urlsplit(template).path.lstrip("/"))
            try:
                best_floor = min(best_floor, raw_rebuild_floor(url))
                started = time.perf_counter()
                assert rebuild(eventsourcing_env(url), name) == head
                best = min(best, time.perf_counter() - started)
            finally:
                drop(admin, url)
        out[name] = (head / best, head / best_floor)
    return out


def _request(runs: ExportRuns, org_id: UUID, period: Period) -> UUID | RunAlreadyExists:
    try:
        return runs.request_export(org_id, period, ExportTarget.XLEDGER,
                                   Actor("bench", org_id, "c"), idempotency_key=None)
    except RunAlreadyExists as refused:
        return refused


def _rate(writers: int, per_writer: int, make: Callable[[], Callable[[int], None]]) -> float:
    """Operations per second with `writers` threads doing `per_writer` operations each."""
    workers = [make() for _ in range(writers)]
    barrier = threading.Barrier(writers + 1)

    def work(k: int) -> None:
        barrier.wait()
        for i in range(per_writer):
            workers[k](i)

    with ThreadPoolExecutor(writers) as pool:
        futures = [pool.submit(work, k) for k in range(writers)]
        barrier.wait()
        started = time.perf_counter()
        for f in futures:
            f.result()
    return writers * per_writer / (time.perf_counter() - started)


#: Rounds of each append measure, interleaved; the median of each is reported (one commit's
#: flush time on this shared disk moves by 2x from one second to the next). With 5 rounds the
#: 8-writer ratio moved by about ±0.03 from one run to the next; 9 narrow that by a quarter.
APPEND_ROUNDS = 9


def appends(admin: str, writers: int, per_writer: int) -> tuple[float, float, float, float]:
    """(request_export appends/s, raw single-row INSERT+COMMIT/s, the append's own SQL sent
    alone/s, the same without its queued job/s), same number of writers. The third shows what
    the database itself spends on what an append writes (its job, guard rows, lock, NOTIFY,
    event; built beforehand, so no Python of ours is timed); the fourth, how much of that is
    the job queue's (procrastinate's row, its seven indexes, its event row and two NOTIFYs)."""
    url = fresh_database(admin, "append")
    log = open_event_log(url, pool_size=writers)
    runs = ExportRuns(PostgresEventStore(log), None, None, None, None)  # type: ignore[arg-type]

    def app_writer() -> Callable[[int], None]:
        return lambda i: _ensure_run(_request(runs, uuid4(), PERIOD))

    state = bytes(400)  # about the size of a stored Requested event

    opened: list[psycopg.Connection[Any]] = []  # the floors' connections, closed each round

    def raw_writer() -> Callable[[int], None]:
        conn = psycopg.connect(url, autocommit=True)
        opened.append(conn)

        def insert(i: int) -> None:
            with conn.transaction():
                conn.execute("INSERT INTO raw_floor (id, state) VALUES (%s, %s)", (uuid4(), state))
        return insert

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE raw_floor (id uuid PRIMARY KEY, state bytea)")
    try:
        _rate(writers, 5, app_writer)  # warm the pool
        rates: dict[str, list[float]] = {"app": [], "raw": [], "same": [], "jobless": []}
        for _ in range(APPEND_ROUNDS):  # interleaved: the disk's drift falls on all alike
            rates["app"].append(_rate(writers, per_writer, app_writer))
            rates["raw"].append(_rate(writers, per_writer, raw_writer))
            rates["same"].append(_rate(writers, per_writer, lambda: _same_sql_writer(
                url, log, per_writer, opened)))
            rates["jobless"].append(_rate(writers, per_writer, lambda: _same_sql_writer(
                url, log, per_writer, opened, with_job=False)))
            while opened:
                opened.pop().close()
    finally:
        log.close()
        for conn in opened:
            conn.close()
        drop(admin, url)  # its autovacuum would otherwise run during the next measure
    app, raw, same, jobless = (statistics.median(rates[k])
                               for k in ("app", "raw", "same", "jobless"))
    return app, raw, same, jobless


def _same_sql_writer(
    url: str, log: Any, count: int, opened: list[psycopg.Connection[Any]], with_job: bool = True
) -> Callable[[int], None]:
    """A connection sending `count` appends of request_export exactly as the recorder would
    send each alone (one query text each, prepared before the clock starts); without the
    job that executes the run when `with_job` is false."""
    conn = psycopg.connect(url, autocommit=True)
    opened.append(conn)
    prepare(conn)  # as the event log's connections are, by their first appends
    binder = Binder(conn)
    queries = []
    for _ in range(count):
        org_id = uuid4()
        run = ExportRun.request(org_id, PERIOD, ExportTarget.XLEDGER, Actor("bench", org_id, "c"))
        pending = run.collect_events()
        stored = [log.mapper.to_stored_event(e) for e in pending]
        jobs = traced_jobs([Job(EXECUTE_EXPORT_RUN, {"run_id": str(run.id)})] if with_job
                           else [], pending)
        queries.append(append_query(binder, stored, jobs=jobs,
                                    guard_statements=guards.statements_for(pending)).encode())

    def send(i: int) -> None:
        run_query(conn, queries[i])
    return send


def _ensure_run(result: UUID | RunAlreadyExists) -> None:
    assert isinstance(result, UUID), result


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) > 1 else samples[0]


def racing_triggers(admin: str, rounds: int, parallel: int = 48) -> tuple[float, float, bool]:
    """(p99 s of `parallel` racing overlapping triggers, p99 s of as many racing raw guard
    INSERTs, whether every round accepted exactly one)."""
    url = fresh_database(admin, "race")
    log = open_event_log(url, pool_size=parallel)
    runs = ExportRuns(PostgresEventStore(log), None, None, None, None)  # type: ignore[arg-type]
    conns = [psycopg.connect(url, autocommit=True) for _ in range(parallel)]
    app_times: list[float] = []
    raw_times: list[float] = []
    exactly_one = True

    def race(attempt: Callable[[int], bool], times: list[float]) -> int:
        barrier = threading.Barrier(parallel)

        def one(i: int) -> bool:
            barrier.wait()
            started = time.perf_counter()
            ok = attempt(i)
            times.append(time.perf_counter() - started)
            return ok

        with ThreadPoolExecutor(parallel) as pool:
            return sum(pool.map(one, range(parallel)))

    try:
        for round_no in range(rounds + 1):  # round 0 warms the connections and is not counted
            if round_no == 1:
                app_times.clear()
                raw_times.clear()
            org_id = uuid4()
            accepted = race(lambda i, o=org_id: isinstance(_request(runs, o, Period(
                date(2025, 3, 1) + timedelta(days=i % 7), date(2025, 3, 21 + i % 5))), UUID),
                app_times)
            exactly_one &= accepted == 1
            raw_org = uuid4()

            def raw(i: int, o: UUID = raw_org) -> bool:
                # The service's own guard statement (the organisation's advisory lock, then
                # the insert the exclusion constraint checks), each in its own transaction.
                try:
                    conns[i].execute(TAKE_PERIOD, {
                        "run_id": uuid4(), "org_id": o,
                        "start": date(2025, 3, 1) + timedelta(days=i % 7),
                        "end": date(2025, 3, 21 + i % 5)})
                    return True
                except psycopg.errors.ExclusionViolation:
                    return False
            race(raw, raw_times)
    finally:
        for c in conns:
            c.close()
        log.close()
        drop(admin, url)
    return p99(app_times), p99(raw_times), exactly_one


def projection_lag(admin: str, seconds: float, writers: int = 4,
                   ) -> tuple[float, dict[str, tuple[float, float, float]]]:
    """Live catch-up under load: `writers` threads append export and sync runs (10 events an
    append) for `seconds` while the projections run live in the same process, as `serve` runs
    them. Returns the events appended per second and, per read model, the time from each
    append's commit until the read model holds it: (p50, p99, max) in seconds."""
    url = fresh_database(admin, "lag")
    names = ["export_runs", "sync_run_log", "audit_chain"]
    supervisor = ProjectionSupervisor(eventsourcing_env(url), names)
    supervisor.start()
    log = open_event_log(url, pool_size=writers)
    store = PostgresEventStore(log)
    appended: dict[str, queue.SimpleQueue[tuple[int, float] | None]] = {
        name: queue.SimpleQueue() for name in names}
    lags: dict[str, list[float]] = {name: [] for name in names}
    started = time.monotonic()
    until = started + seconds

    def write(k: int) -> None:
        i = 0
        while time.monotonic() < until:
            position = store.save(*mixed_aggregates(k * 1_000_000 + i)) or 0
            committed = time.perf_counter()
            for q in appended.values():
                q.put((position, committed))
            i += 1

    def watch(name: str) -> None:
        runner = supervisor.runners[name]
        while (item := appended[name].get()) is not None:
            position, committed = item
            assert runner.wait(position, 60), f"{name} did not reach event {position}"
            lags[name].append(time.perf_counter() - committed)

    watchers = [threading.Thread(target=watch, args=(name,)) for name in names]
    for t in watchers:
        t.start()
    try:
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(write, range(writers)))
        rate = store.max_notification_id() / (time.monotonic() - started)
    finally:
        for q in appended.values():
            q.put(None)
        for t in watchers:
            t.join()
        supervisor.stop()
        log.close()
        drop(admin, url)  # its autovacuum would otherwise run during the next measure
    return rate, {name: (statistics.median(v), p99(v), max(v)) for name, v in lags.items()}
