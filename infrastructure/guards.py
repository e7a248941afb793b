"""Guard rows that follow from events, written in the same transaction that appends them.

The database constraints on these tables (an exclusion constraint over periods, unique claim and
sync keys) are what refuse a second active run; Python never checks before inserting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from domain.bufdir_export import BufdirExport
from domain.export_run import ExportRun
from infrastructure.delivery.guards import DELIVERY_RULES
from infrastructure.sql import queries
from infrastructure.sync_guards import SYNC_RULES

SQL = queries("guards")

Statement = tuple[str, dict[str, Any]]


def statements_for(events: Iterable[Any]) -> list[Statement]:
    out: list[Statement] = []
    for e in events:
        kind: type = type(e)  # (typed: mypy takes type(Any) for something unhashable)
        for rule in _rules_of(kind):
            out.extend(rule(e))
    return out


@cache
def _rules_of(kind: type) -> tuple[Any, ...]:
    """The rules for one event class, in `RULES`' order (found once per class, not asked of
    every rule for every event)."""
    return tuple(rule for cls, rule in RULES if issubclass(kind, cls))


def _opened(kind: str, status: str) -> Any:
    def rule(e: Any) -> Sequence[Statement]:
        params = {"run_id": e.originator_id, "kind": kind, "org_id": e.org_id,
                  "status": status, "at": e.timestamp}
        return [(SQL["open_run"], params)]

    return rule


def _moved(status: str | None) -> Any:
    """`status` None: the event's own `status` (a Bufdir step)."""

    def rule(e: Any) -> Sequence[Statement]:
        params = {"run_id": e.originator_id, "status": status or e.status, "at": e.timestamp}
        return [(SQL["run_moved"], params)]

    return rule


def _ended(e: Any) -> Sequence[Statement]:
    return [(SQL["run_ended"], {"run_id": e.originator_id})]


def _export_requested(e: Any) -> Sequence[Statement]:
    return [*_opened("export_run", "pending")(e),
        (
            SQL["take_period"],
            {"run_id": e.originator_id, "org_id": e.org_id, "start": e.period_start, "end": e.period_end},
        ),
    ]


def _export_claims_taken(e: Any) -> Sequence[Statement]:
    return [
        (
            SQL["take_claims"],
            {"org_id": e.actor["org_id"], "ids": claim_id_list(e.claims["claim_id"]),
             "run_id": e.originator_id},
        )
    ]


def claim_id_list(ids: Sequence[Any]) -> str:
    """The ids (text or UUIDs) as one comma-separated text; an empty id, or one holding a
    comma, is refused rather than read as no claim or two (ids are UUIDs: the database
    refuses anything else)."""
    texts = list(map(str, ids))
    joined = ",".join(texts)
    if texts and (not all(texts) or joined.count(",") != len(texts) - 1):
        raise ValueError("a claim id is empty or holds a comma")
    return joined


def _export_completed(e: Any) -> Sequence[Statement]:
    return [
        *_ended(e),
        (
            SQL["cover_period"],
            {"run_id": e.originator_id},
        )
    ]


def _export_failed(e: Any) -> Sequence[Statement]:
    return [
        *_ended(e),
        (SQL["free_claims"], {"run_id": e.originator_id}),
        (SQL["free_period"], {"run_id": e.originator_id}),
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
    *DELIVERY_RULES,  # open deliveries: infrastructure/delivery/guards.py
]
