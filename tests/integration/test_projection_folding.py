"""The export_runs and sync_run_log projections fold a page's events per row in memory and write
each row once. Their tables must not depend on where the pages fall (all of a run's events in
one page, or spread over several), must hold what the aggregates themselves say, and events
applied a second time (the position moved back) must change nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg.rows import dict_row

from bootstrap import Services
from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from domain.sync_run import SyncRun
from domain.sync_schedule import SyncLogArchive
from infrastructure.event_store import EventLog
from infrastructure.projections.runner import projection_env, rebuild, runner_for

FILE = {"path": "exports/x.csv", "size_bytes": 1, "sha256": "0"}
TABLES = ("export_runs", "sync_run_log", "sync_run_log_archive", "sync_run_log_cutoffs")


def period(month: int) -> Period:
    return Period(date(2025, month, 1), date(2025, month, 28))


def one_organisation(store: Any, i: int) -> tuple[list[ExportRun], list[SyncRun], list[Any]]:
    """Runs of every ending whose events are interleaved with other runs' over several appends,
    and sync runs on both sides of two archive cut-offs."""
    actor = Actor("loader", uuid4(), f"fold-{i}")
    done = ExportRun.request(actor.org_id, period(1), ExportTarget.XLEDGER, actor)
    failed = ExportRun.request(actor.org_id, period(2), ExportTarget.DYNAMICS, actor)
    delivered = ExportRun.request(actor.org_id, period(3), ExportTarget.DYNAMICS, actor)
    pending = ExportRun.request(actor.org_id, period(4), ExportTarget.XLEDGER, actor)
    early = SyncRun.start_new(actor.org_id, "xledger", "manual", actor)  # ends, then cut-off
    late = SyncRun.start_new(actor.org_id, "dynamics", "manual", actor)  # ends after cut-off
    store.save(done, failed, delivered, pending, early, late)
    done.start([], actor)
    failed.start([], actor)
    delivered.start([], actor)
    delivered.complete(FILE, actor)
    early.link_export_run(done.id, actor)
    early.complete(10, 1, None, actor)
    store.save(done, failed, delivered, early)
    archive = SyncLogArchive.create(actor.org_id, actor)
    archive.advance(datetime.now(UTC), actor)
    after = SyncRun.start_new(actor.org_id, "bufdir", "scheduler", actor,
                              scheduled_for=datetime.now(UTC), drift_seconds=2.5)
    store.save(archive, after)
    done.complete(FILE, actor)
    failed.fail("target_unreachable", "the target did not answer", actor)
    delivered.queue_delivery(actor)
    delivered.start_delivery(lines_total=5, already_present=1, actor=actor)
    delivered.record_lines_posted(1, ["a", "b"], actor)
    late.fail(3, 2, "connection refused", actor)
    store.save(done, failed, delivered, late)
    delivered.fail_delivery("refused", "401", actor, lines_total=None if i % 2 else 6)
    delivered.retry_delivery(actor)
    delivered.start_delivery(lines_total=6, already_present=3, actor=actor)
    delivered.record_lines_posted(2, ["c"], actor)
    if i % 3:
        delivered.complete_delivery("2025-06-01T08:00:00+00:00", actor)
    after.link_export_run(failed.id, actor)
    if i % 2:
        after.complete(4, 0, "done", actor)
    store.save(delivered, after)
    return [done, failed, delivered, pending], [early, late, after], [archive]


def tables(db_url: str) -> dict[str, list[dict[str, Any]]]:
    with psycopg.connect(db_url) as conn, conn.cursor(row_factory=dict_row) as curs:
        return {t: curs.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}


def build(services: Services) -> tuple[list[ExportRun], list[SyncRun], dict[UUID, datetime]]:
    runs, syncs, cutoffs = [], [], {}
    for i in range(6):
        r, s, archives = one_organisation(services.store, i)
        runs += r
        syncs += s
        cutoffs.update({a.org_id: a.cutoff for a in archives})
    return runs, syncs, cutoffs


def test_tables_are_the_same_wherever_the_pages_fall_and_hold_the_aggregates_state(
    services: Services, db_url: str
) -> None:
    runs, syncs, cutoffs = build(services)
    seen = []
    for size in (1, 2, 3, 7, 5000):
        for name in ("export_runs", "sync_run_log"):
            rebuild(services.env, name, page_size=size)
        seen.append(tables(db_url))
    assert all(t == seen[0] for t in seen[1:])

    now = seen[0]
    exported = {r["run_id"]: r for r in now["export_runs"]}
    assert len(exported) == len(runs)
    for run in runs:
        row = exported[run.id]
        assert (row["status"], row["record_count"], row["version"]) == (
            run.status.value, run.record_count, run.version)
        assert (row["file"], row["error"], row["delivery"]) == (run.file, run.error, run.delivery)
        assert row["completed_at"] == run.ended_on and row["created_at"] == run.created_on
    assert {r["delivery"]["status"] for r in exported.values() if r["delivery"]} == {
        "delivered", "delivering"}

    hot = {r["id"]: r for r in now["sync_run_log"]}
    archived = {r["id"]: r for r in now["sync_run_log_archive"]}
    assert hot and archived and not hot.keys() & archived.keys()
    for sync in syncs:
        due = sync.ended_at is not None and sync.started_at < cutoffs[sync.org_id]
        row = (archived if due else hot)[sync.id]
        assert (row["status"], row["ended_at"], row["duration_seconds"]) == (
            sync.status.value, sync.ended_at, sync.duration_seconds)
        assert (row["records_processed"], row["records_failed"], row["error_message"]) == (
            sync.records_processed, sync.records_failed, sync.error_message)
        assert (row["export_run_id"], row["drift_seconds"], row["version"]) == (
            sync.export_run_id, sync.drift_seconds, sync.version)
    assert {r["org_id"]: r["cutoff"] for r in now["sync_run_log_cutoffs"]} == cutoffs


def test_events_applied_again_change_nothing(services: Services, db_url: str) -> None:
    """The position moved back (as after a crash between write and commit, which a transaction
    prevents, or an operator's mistake): every run is older than none of the events again."""
    build(services)
    rebuild(services.env, "export_runs")
    before = tables(db_url)["export_runs"]
    head = services.store.max_notification_id()
    app = EventLog(env=projection_env(services.env))
    try:
        for position, size in ((0, 5000), (head // 2, 3), (head - 5, 1)):
            with psycopg.connect(db_url) as conn:
                conn.execute("UPDATE export_runs_tracking SET notification_id = %s", (position,))
            runner = runner_for("export_runs", services.env, app, size)
            try:
                runner.catch_up(head)
            finally:
                runner.close()
            assert tables(db_url)["export_runs"] == before
    finally:
        app.close()
