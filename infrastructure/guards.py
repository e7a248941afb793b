"""Guard rows that follow from events, written in the same transaction that appends them.

The database constraints on these tables (an exclusion constraint over periods, unique claim and
sync keys) are what refuse a second active run; Python never checks before inserting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

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


def _export_requested(e: Any) -> Sequence[Statement]:
    return [
        (
            "INSERT INTO export_run_periods (run_id, org_id, period) "
            "VALUES (%(run_id)s, %(org_id)s, daterange(%(start)s, %(end)s, '[]'))",
            {"run_id": e.originator_id, "org_id": e.org_id, "start": e.period_start, "end": e.period_end},
        )
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
        (
            "INSERT INTO covered_periods (run_id, org_id, period) "
            "SELECT run_id, org_id, period FROM export_run_periods WHERE run_id = %(run_id)s",
            {"run_id": e.originator_id},
        )
    ]


def _export_failed(e: Any) -> Sequence[Statement]:
    return [
        ("DELETE FROM claim_reservations WHERE run_id = %(run_id)s", {"run_id": e.originator_id}),
        ("DELETE FROM export_run_periods WHERE run_id = %(run_id)s", {"run_id": e.originator_id}),
    ]


RULES: list[tuple[type, Any]] = [
    (ExportRun.Requested, _export_requested),
    (ExportRun.ClaimsTaken, _export_claims_taken),  # type: ignore[attr-defined]
    (ExportRun.Completed, _export_completed),  # type: ignore[attr-defined]
    (ExportRun.Failed, _export_failed),  # type: ignore[attr-defined]
    *SYNC_RULES,  # sync runs and schedules: infrastructure/sync_guards.py
]
