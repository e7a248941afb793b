"""The ports that read what the events left behind (run lists, upkeep tables, audit evidence),
one behaviour suite run through the real `bootstrap()` twice: over the unit tests' fakes and over
PostgreSQL. A fake that drifts from its adapter fails here, not in a unit test that trusts it."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.ports import ClaimRecord, NotFound
from bootstrap import Services, SystemClock
from domain.bufdir_export import BufdirExport, ReportFormat
from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from domain.sync_schedule import schedule_id
from interfaces.demo import ORGS, demo_settings
from tests.integration.projection_helpers import catch_up
from tests.integration.test_event_store_contract import claim
from tests.unit.fakes import fake_services

JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31))
FEBRUARY = Period(date(2025, 2, 1), date(2025, 2, 28))
MARCH = Period(date(2025, 3, 1), date(2025, 3, 31))
EXPORT_RUN_COLUMNS = {"run_id", "org_id", "period_start", "period_end", "target", "status",
                      "record_count", "file", "error", "created_at", "completed_at", "version",
                      "delivery"}
BUFDIR_COLUMNS = {"export_id", "status", "row_count", "file_size_bytes", "file", "error_message",
                  "status_history", "period_start", "period_end", "format",
                  "include_attachments", "config_version", "created_at", "summary"}


@pytest.fixture(params=["fake", "postgres"])
def wired(request: pytest.FixtureRequest) -> Iterator[Services]:
    """The real service graph over fakes (reading the wall clock, as PostgreSQL does) or over
    a fresh PostgreSQL database."""
    if request.param == "fake":
        yield fake_services(clock=SystemClock())
    else:
        yield request.getfixturevalue("services")


def settle(services: Services) -> None:
    """Bring the read models up to the log (the fakes read the events directly)."""
    if services.database is not None:
        catch_up(services)


def actor_of(org: UUID) -> Actor:
    return Actor("kari", org, "corr-1")


def with_one_claim(services: Services, org: UUID) -> UUID:
    services.app.accounting_settings.configure(org, demo_settings(ORGS[0]), actor_of(org))
    claim = ClaimRecord(uuid4(), "frivillig-7", date(2025, 1, 9),
                        datetime(2025, 1, 10, 9, 0, tzinfo=UTC), "reise", "250.00", "NOK",
                        "Tog Oslo-Bergen")
    services.app.source_data.import_claims(org, [claim])
    return claim.id


def test_export_runs_are_listed_newest_first_as_their_events_left_them(wired: Services) -> None:
    org = uuid4()
    with_one_claim(wired, org)
    runs = wired.app.export_runs
    done = runs.request_export(org, JANUARY, ExportTarget.XLEDGER, actor_of(org))
    runs.execute(done)
    waiting = runs.request_export(org, FEBRUARY, ExportTarget.XLEDGER, actor_of(org))
    settle(wired)
    listing = runs.listing
    assert listing is not None

    rows = listing.export_runs(org, None, 10)
    assert [r["run_id"] for r in rows] == [waiting, done]
    assert all(set(r) == EXPORT_RUN_COLUMNS for r in rows)
    events = wired.store.history(done)
    completed = next(e for e in events if e.type == "Completed")
    assert {k: rows[1][k] for k in ("status", "record_count", "period_start", "target",
                                    "created_at", "completed_at", "version", "error")} == {
        "status": "completed", "record_count": 1, "period_start": JANUARY.start,
        "target": "xledger", "created_at": events[0].timestamp,
        "completed_at": completed.timestamp, "version": completed.version, "error": None}
    assert rows[1]["file"] == completed.data["file"]
    assert (rows[0]["status"], rows[0]["completed_at"], rows[0]["file"]) == ("pending", None, None)

    assert [r["run_id"] for r in listing.export_runs(org, "completed", 10)] == [done]
    assert listing.export_runs(org, None, 1) == rows[:1]
    assert listing.export_runs(uuid4(), None, 10) == []


def test_bufdir_exports_are_listed_with_every_status_they_passed(wired: Services) -> None:
    org = uuid4()
    exports = wired.app.bufdir_exports
    empty = exports.request(org, JANUARY, ReportFormat.CSV, False, actor_of(org))
    exports.execute(empty)  # no activities: completed_empty without a file
    waiting = exports.request(org, FEBRUARY, ReportFormat.XLSX, True, actor_of(org))
    settle(wired)
    listing = exports.listing
    assert listing is not None

    rows = listing.bufdir_exports(org, None, 10)
    assert [r["export_id"] for r in rows] == [waiting, empty]
    assert all(set(r) == BUFDIR_COLUMNS for r in rows)
    events = wired.store.history(empty)
    assert [h["status"] for h in rows[1]["status_history"]] == [
        "initialised", "querying_activities", "completed_empty"]
    assert [h["at"] for h in rows[1]["status_history"]] == [
        e.timestamp.isoformat() for e in events]
    assert {k: rows[1][k] for k in ("status", "row_count", "file", "format", "created_at",
                                    "include_attachments", "config_version")} == {
        "status": "completed_empty", "row_count": 0, "file": None, "format": "csv",
        "created_at": events[0].timestamp, "include_attachments": False, "config_version": 0}
    assert (rows[0]["status"], rows[0]["format"], rows[0]["include_attachments"]) == (
        "initialised", "xlsx", True)
    assert [r["export_id"] for r in listing.bufdir_exports(org, "initialised", 10)] == [waiting]


def test_upkeep_tables_list_open_runs_from_their_guard_rows_and_the_queue(
    wired: Services,
) -> None:
    org = uuid4()
    worker = Actor("system:worker", org, "w")
    tables = wired.upkeep.tables
    queued = wired.app.export_runs.request_export(org, JANUARY, ExportTarget.XLEDGER,
                                                  actor_of(org))
    orphan = ExportRun.request(org, FEBRUARY, ExportTarget.XLEDGER, actor_of(org))
    wired.store.save(orphan)  # saved without its job: only the sweep can queue it again
    running = ExportRun.request(org, MARCH, ExportTarget.XLEDGER, actor_of(org))
    running.start([claim(uuid4())], worker)
    wired.store.save(running)

    assert tables.running_export_runs() == [running.id]
    assert tables.orphaned_pending_export_runs(0) == [orphan.id]
    assert tables.orphaned_pending_export_runs(3600) == []
    assert queued not in tables.orphaned_pending_export_runs(0)


def test_upkeep_tables_list_idle_and_timed_out_bufdir_exports_and_running_syncs(
    wired: Services,
) -> None:
    org = uuid4()
    tables = wired.upkeep.tables
    with_job = wired.app.bufdir_exports.request(org, JANUARY, ReportFormat.CSV, False,
                                                actor_of(org))
    without = BufdirExport.request(org, FEBRUARY, ReportFormat.CSV, False, 0, actor_of(org))
    wired.store.save(without)
    finished = wired.app.bufdir_exports.request(org, MARCH, ReportFormat.CSV, False,
                                                actor_of(org))
    wired.app.bufdir_exports.execute(finished)  # completed_empty: no longer open

    idle = tables.open_bufdir_exports(timeout_seconds=3600, idle_seconds=0)
    assert [(r.run_id, r.status, r.timed_out, r.has_job) for r in idle] == [
        (with_job, "initialised", False, True), (without.id, "initialised", False, False)]
    late = tables.open_bufdir_exports(timeout_seconds=0, idle_seconds=3600)
    assert [(r.run_id, r.timed_out) for r in late] == [(with_job, True), (without.id, True)]
    assert tables.open_bufdir_exports(timeout_seconds=3600, idle_seconds=3600) == []

    syncs = wired.app.sync_runs
    linked = syncs.start(org, "xledger", "manual", actor_of(org))
    export_run_id = uuid4()
    linked.link_export_run(export_run_id, actor_of(org))
    wired.store.save(linked)
    ended = syncs.start(org, "dynamics", "manual", actor_of(org))
    syncs.finish(org, ended.id, "completed", 3, 0, None, actor_of(org))
    assert [(r.run_id, r.status, r.export_run_id) for r in tables.running_syncs()] == [
        (linked.id, "running", export_run_id)]


def test_evidence_holds_the_runs_events_claims_and_file(wired: Services) -> None:
    org = uuid4()
    claim_id = with_one_claim(wired, org)
    run_id = wired.app.export_runs.request_export(org, JANUARY, ExportTarget.XLEDGER,
                                                  actor_of(org))
    wired.app.export_runs.execute(run_id)
    settle(wired)
    bundle = zipfile.ZipFile(io.BytesIO(wired.app.audit.evidence(org, run_id)))

    events: list[dict[str, Any]] = json.loads(bundle.read("events.json"))
    assert [e["type"] for e in events] == [e.type for e in wired.store.history(run_id)]
    assert [e["type"] for e in events][-1] == "Completed"
    assert [c["claim_id"] for c in json.loads(bundle.read("claims.json"))] == [str(claim_id)]
    file = events[-1]["data"]["file"]
    name = "file/" + file["path"].rsplit("/", 1)[-1]
    assert bundle.read("file.sha256").decode().split() == [file["sha256"], name]
    assert len(bundle.read(name)) == file["size_bytes"]
    with pytest.raises(NotFound):
        wired.app.audit.evidence(uuid4(), run_id)  # another organisation's auditor


SYNC_COLUMNS = {"id", "org_id", "integration_type", "status", "triggered_by", "started_at",
                "ended_at", "records_processed", "records_failed", "error_message",
                "duration_seconds", "scheduled_for", "drift_seconds", "drift_flagged",
                "export_run_id", "version"}


def test_the_sync_log_lists_latest_and_history_and_archives_after_the_cutoff(
    wired: Services,
) -> None:
    org = uuid4()
    actor = actor_of(org)
    syncs = wired.app.sync_runs
    done = syncs.start(org, "xledger", "manual", actor)
    syncs.finish(org, done.id, "completed", 5, 1, None, actor)
    running = syncs.start(org, "xledger", "scheduler", actor)
    failed = syncs.start(org, "dynamics", "manual", actor)
    export_run_id = uuid4()
    failed.link_export_run(export_run_id, actor)
    wired.store.save(failed)
    syncs.finish(org, failed.id, "failed", 0, 2, "Tjenesten svarte ikke", actor)
    settle(wired)
    log = wired.app.sync_runs.log_view

    latest = log.latest(org)
    assert [(r["id"], r["integration_type"]) for r in latest] == [
        (failed.id, "dynamics"), (running.id, "xledger")]
    assert all(set(r) == SYNC_COLUMNS for r in latest)
    ended = wired.store.get(failed.id)
    assert {k: latest[0][k] for k in ("status", "records_failed", "error_message",
                                      "export_run_id", "version", "started_at", "ended_at")} == {
        "status": "failed", "records_failed": 2, "error_message": "Tjenesten svarte ikke",
        "export_run_id": export_run_id, "version": ended.version,
        "started_at": ended.started_at, "ended_at": ended.ended_at}
    assert latest[0]["duration_seconds"] == pytest.approx(ended.duration_seconds)
    assert (latest[1]["status"], latest[1]["ended_at"], latest[1]["triggered_by"]) == (
        "running", None, "scheduler")
    history = log.history(org, None, 10, False)
    assert [(r["id"], r["archived"]) for r in history] == [
        (failed.id, False), (running.id, False), (done.id, False)]
    assert [r["id"] for r in log.history(org, "xledger", 1, False)] == [running.id]

    later = ended.ended_at + timedelta(days=91)
    cutoff = later - timedelta(days=90)
    assert log.orgs_with_runs_before(cutoff) == [org]
    assert syncs.archive(now=later) == [org]
    settle(wired)
    assert [r["id"] for r in log.latest(org)] == [running.id]
    assert [r["id"] for r in log.history(org, None, 10, False)] == [running.id]
    assert [(r["id"], r["archived"]) for r in log.history(org, None, 10, True)] == [
        (failed.id, True), (running.id, False), (done.id, True)]
    assert log.orgs_with_runs_before(cutoff) == []


def test_the_schedule_table_lists_configured_schedules_with_their_last_start(
    wired: Services,
) -> None:
    org = uuid4()
    actor = actor_of(org)
    schedules = wired.app.sync_schedules
    schedules.put(org, "xledger", "0 6 2 * *", "Europe/Oslo", "previous_month", actor)
    schedules.put(org, "dynamics", "0 7 * * 1", "Europe/Oslo", "previous_month", actor)
    table = schedules.table
    configured = {e.type: e.timestamp
                  for e in wired.store.history(schedule_id(org, "xledger"))}["Configured"]

    rows = table.due_candidates()
    assert [(r.org_id, r.integration_type, r.cron, r.last_scheduled_for) for r in rows] == [
        (org, "dynamics", "0 7 * * 1", None), (org, "xledger", "0 6 2 * *", None)]
    assert (rows[1].timezone, rows[1].period, rows[1].configured_at) == (
        "Europe/Oslo", "previous_month", configured)

    first, second = (datetime(2025, 2, 2, 5, tzinfo=UTC), datetime(2025, 3, 2, 5, tzinfo=UTC))
    for at in (first, second):
        run = wired.app.sync_runs.start(org, "xledger", "scheduler", actor, scheduled_for=at)
        wired.app.sync_runs.finish(org, run.id, "completed", 0, 0, None, actor)
    schedules.delete(org, "dynamics", actor)
    assert [(r.integration_type, r.last_scheduled_for) for r in table.due_candidates()] == [
        ("xledger", second)]
