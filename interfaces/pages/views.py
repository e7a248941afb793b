"""What the pages show, read through the same application services and answer shapes as the
JSON API (a page is a view of what the API offers, never a query of its own)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from application.export_runs import claims_in_history
from application.runs import RunReads
from application.services import ApplicationServices as Services
from interfaces.http.routers import bufdir, export_runs, history
from interfaces.http.sync_schemas import SyncRunOut

FINAL_EXPORT = frozenset({"completed", "failed"})
DELIVERING = frozenset({"pending", "delivering"})
FINAL_BUFDIR = frozenset({"completed", "completed_empty", "failed"})
#: Rows per reason a page lists; the report itself has them all.
NOT_COUNTED_SHOWN = 200
#: The Bufdir pipeline, in order, as a coordinator follows it.
BUFDIR_STEPS = ("initialised", "querying_activities", "mapping_columns", "generating_file",
                "bundling_attachments", "storing_file", "completed")


def totals(claims: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Amount per currency (a run never mixes them in one voucher, but may hold several)."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for claim in claims:
        try:
            sums[str(claim.get("currency") or "NOK")] += Decimal(str(claim["amount"]))
        except (InvalidOperation, KeyError):
            continue
    return dict(sorted(sums.items()))


def export_run_list(services: Services, org_id: UUID, limit: int = 25) -> list[dict[str, Any]]:
    runs = [export_runs.to_out(services, row).model_dump(mode="json")
            for row in services.export_runs.recent(org_id, None, limit)]
    for run in runs:
        run["totals"] = (_run_totals(services, org_id, UUID(run["run_id"]))
                         if run["record_count"] else {})
        if run["status"] == "completed":  # the list's read model does not follow deliveries
            view = services.export_runs.view(org_id, UUID(run["run_id"]))
            run["delivery"] = export_runs.to_out(services, view).model_dump(mode="json")[
                "delivery"]
        run["final"] = is_final(run)
    return runs


def is_final(run: dict[str, Any]) -> bool:
    """Nothing more will happen to the run by itself: it ended, and so did its delivery.
    (A completed run may still be delivering: pages follow it until that has ended too.)"""
    delivery = run.get("delivery") or {}
    return run["status"] in FINAL_EXPORT and delivery.get("status") not in DELIVERING


def _run_totals(services: Services, org_id: UUID, run_id: UUID) -> dict[str, Decimal]:
    """Summed from the claims the run's events recorded (what GET .../events shows)."""
    return totals(claims_in_history(services.export_runs.events(org_id, run_id)))


def export_run(services: Services, org_id: UUID, run_id: UUID,
               version: int | None = None) -> dict[str, Any]:
    """The run as GET /export-runs/{id} answers it (NotFound for another organisation's)."""
    view = services.export_runs.view(org_id, run_id, version=version)
    run = export_runs.to_out(services, view).model_dump(mode="json")
    run["totals"] = _run_totals(services, org_id, run_id)
    run["final"] = is_final(run)
    return run


def events(runs: RunReads[Any], org_id: UUID, run_id: UUID) -> list[dict[str, Any]]:
    """The run's events as GET .../{id}/events answers them (NotFound for another org's)."""
    return [e.model_dump(mode="json") for e in history.history_of(runs, org_id, run_id)]


def export_run_events(services: Services, org_id: UUID, run_id: UUID) -> list[dict[str, Any]]:
    found = events(services.export_runs, org_id, run_id)
    for event in found:  # the claims are listed once below the timeline, not per event
        if event["type"] == "ExportRun.ClaimsTaken":
            claims = event["data"].get("claims", {})
            event["data"] = {"batch": event["data"].get("batch"),
                             "claims": len(claims.get("claim_id", []))}
    return found


def sync_runs(services: Services, org_id: UUID, integration_type: str | None = None,
              limit: int = 200) -> list[dict[str, Any]]:
    rows = services.sync_runs.history(org_id, integration_type, limit, False)
    return [SyncRunOut.of(row).model_dump(mode="json") for row in rows]


def sync_run(services: Services, org_id: UUID, run_id: UUID) -> dict[str, Any]:
    return SyncRunOut.of(services.sync_runs.view(org_id, run_id)).model_dump(mode="json")


def sync_health(services: Services, org_id: UUID, now: datetime | None = None
                ) -> list[dict[str, Any]]:
    """Per integration: its latest run, and how many of its runs failed in the last 30 days."""
    since = (now or datetime.now(UTC)) - timedelta(days=30)
    health = []
    for row in services.sync_runs.latest(org_id):
        latest = SyncRunOut.of(row).model_dump(mode="json")
        recent = [r for r in sync_runs(services, org_id, latest["integration_type"], 500)
                  if r["started_at"] and datetime.fromisoformat(r["started_at"]) >= since]
        latest["failures_30d"] = sum(1 for r in recent if r["status"] == "failed")
        latest["drift_30d"] = sum(1 for r in recent if r["drift_flagged"])
        latest["runs_30d"] = len(recent)
        health.append(latest)
    return sorted(health, key=lambda h: h["integration_type"])


def outcomes_by_day(runs: list[dict[str, Any]], days: int = 30, now: datetime | None = None
                    ) -> list[dict[str, Any]]:
    """Completed, failed and cancelled runs per day (Oslo dates), oldest first, for the chart."""
    from interfaces.pages.i18n import OSLO

    today = (now or datetime.now(UTC)).astimezone(OSLO).date()
    counts: dict[Any, Counter[str]] = {today - timedelta(days=i): Counter() for i in range(days)}
    for run in runs:
        if not run["started_at"]:
            continue
        day = datetime.fromisoformat(run["started_at"]).astimezone(OSLO).date()
        if day in counts:
            counts[day][run["status"]] += 1
    return [{"day": day.isoformat(), "completed": c["completed"], "failed": c["failed"],
             "cancelled": c["cancelled"], "running": c["running"]}
            for day, c in sorted(counts.items())]


def bufdir_list(services: Services, org_id: UUID, limit: int = 25) -> list[dict[str, Any]]:
    return [_progress(bufdir._out_of_row(services, row).model_dump(mode="json"))
            for row in services.bufdir_exports.recent(org_id, None, limit)]


def _progress(export: dict[str, Any]) -> dict[str, Any]:
    """Where the export is in its pipeline: each step done, current or still to come."""
    export["final"] = export["status"] in FINAL_BUFDIR
    reached = {s["status"] for s in export["status_history"]}
    export["steps"] = [
        {"status": step, "done": step in reached and step != export["status"],
         "current": step == export["status"]}
        for step in BUFDIR_STEPS
        if step != "bundling_attachments" or export["include_attachments"]
    ]
    export["step_number"] = next(
        (n for n, step in enumerate(export["steps"], 1) if step["current"]), None)
    return export


def bufdir_export(services: Services, org_id: UUID, export_id: UUID) -> dict[str, Any]:
    """The export as GET /bufdir-exports/{id} answers it, with `summary` when it has one."""
    found = services.bufdir_exports.as_it_was(org_id, export_id, None, None)
    export = bufdir._out_of_export(services, found).model_dump(mode="json")
    _progress(export)
    export["version"] = found.version
    export["not_counted_rows"] = (
        services.bufdir_exports.rows_not_counted(org_id, export_id, NOT_COUNTED_SHOWN).as_dict()
        if export["status"] == "completed" and export["summary"]
        and any(export["summary"]["not_counted"].values()) else None)
    return export

