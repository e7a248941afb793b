"""Guard rows that follow from events, written in the same transaction that appends them.

The database constraints on these tables (an exclusion constraint over periods, unique claim and
sync keys) are what refuse a second active run; Python never checks before inserting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from domain.bufdir_export import BufdirExport
from domain.export_run import ExportRun
from infrastructure.sync_guards import SYNC_RULES

Statement = tuple[str, dict[str, Any]]


def statements_for(events: Iterable[Any]) -> list[Statement]:
    out: list[Statement] = []
    for e in events:
        for rule in RULES:
            if isinstance(e, rule[0]):
                out.extend(rule[1](e))
    return out


OPEN_RUN = (
    "INSERT INTO open_runs (run_id, kind, org_id, status, created_at, updated_at) "
    "VALUES (%(run_id)s, %(kind)s, %(org_id)s, %(status)s, %(at)s, %(at)s)"
)
RUN_MOVED = "UPDATE open_runs SET status = %(status)s, updated_at = %(at)s WHERE run_id = %(run_id)s"
RUN_ENDED = "DELETE FROM open_runs WHERE run_id = %(run_id)s"


def _opened(kind: str, status: str) -> Any:
    def rule(e: Any) -> Sequence[Statement]:
        params = {"run_id": e.originator_id, "kind": kind, "org_id": e.org_id,
                  "status": status, "at": e.timestamp}
        return [(OPEN_RUN, params)]

    return rule


def _moved(status: str | None) -> Any:
    """`status` None: the event's own `status` (a Bufdir step)."""

    def rule(e: Any) -> Sequence[Statement]:
        params = {"run_id": e.originator_id, "status": status or e.status, "at": e.timestamp}
        return [(RUN_MOVED, params)]

    return rule


def _ended(e: Any) -> Sequence[Statement]:
    return [(RUN_ENDED, {"run_id": e.originator_id})]


def _export_requested(e: Any) -> Sequence[Statement]:
    return [*_opened("export_run", "pending")(e),
        (
            "INSERT INTO export_run_periods (run_id, org_id, period) "
            "VALUES (%(run_id)s, %(org_id)s, daterange(%(start)s, %(end)s, '[]'))",
            {"run_id": e.originator_id, "org_id": e.org_id, "start": e.period_start, "end": e.period_end},
        ),
    ]


def _export_claims_taken(e: Any) -> Sequence[Statement]:
    return [
        (
            "INSERT INTO claim_reservations (org_id, claim_id, run_id) "
            "SELECT %(org_id)s, unnest(%(ids)s::uuid[]), %(run_id)s",
            {"org_id": e.actor["org_id"], "ids": e.claims["claim_id"], "run_id": e.originator_id},
        )
    ]


def _export_completed(e: Any) -> Sequence[Statement]:
    return [
        *_ended(e),
        (
            "INSERT INTO covered_periods (run_id, org_id, period) "
            "SELECT run_id, org_id, period FROM export_run_periods WHERE run_id = %(run_id)s",
            {"run_id": e.originator_id},
        )
    ]


def _export_failed(e: Any) -> Sequence[Statement]:
    return [
        *_ended(e),
        ("DELETE FROM claim_reservations WHERE run_id = %(run_id)s", {"run_id": e.originator_id}),
        ("DELETE FROM export_run_periods WHERE run_id = %(run_id)s", {"run_id": e.originator_id}),
    ]


RULES: list[tuple[type, Any]] = [
    (ExportRun.Requested, _export_requested),
    (ExportRun.ClaimsTaken, _export_claims_taken),  # type: ignore[attr-defined]
    (ExportRun.Completed, _export_completed),  # type: ignore[attr-defined]
    (ExportRun.Failed, _export_failed),  # type: ignore[attr-defined]
    (ExportRun.Started, _moved("running")),  # type: ignore[attr-defined]
    (BufdirExport.Initialised, _opened("bufdir_export", "initialised")),  # type: ignore[attr-defined]
    (BufdirExport.StepEntered, _moved(None)),
    (BufdirExport.Completed, _ended),
    (BufdirExport.CompletedEmpty, _ended),
    (BufdirExport.Failed, _ended),
    *SYNC_RULES,  # sync runs and schedules: infrastructure/sync_guards.py
]
