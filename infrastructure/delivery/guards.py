"""Guard rows of open deliveries, derived from ExportRun's delivery events (see guards.py).

`DeliveryQueued` and `DeliveryRetryRequested` open the row (pending), `DeliveryStarted` and
each `LinesPosted` move it (delivering, touched now), `DeliveryCompleted` and `DeliveryFailed`
delete it. Written in the append's transaction, so the sweep sees exactly the deliveries the
events leave open, never a lagging read model's idea of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.export_run import ExportRun
from infrastructure.sql import queries

SQL = queries("deliveries")

Statement = tuple[str, dict[str, Any]]


def _opened(e: Any) -> Sequence[Statement]:
    return [(SQL["delivery_opened"],
             {"run_id": e.originator_id, "org_id": e.actor["org_id"], "at": e.timestamp})]


def _moved(e: Any) -> Sequence[Statement]:
    return [(SQL["delivery_moved"],
             {"run_id": e.originator_id, "status": "delivering", "at": e.timestamp})]


def _ended(e: Any) -> Sequence[Statement]:
    return [(SQL["delivery_ended"], {"run_id": e.originator_id})]


DELIVERY_RULES: list[tuple[type, Any]] = [
    (ExportRun.DeliveryQueued, _opened),  # type: ignore[attr-defined]
    (ExportRun.DeliveryRetryRequested, _opened),  # type: ignore[attr-defined]
    (ExportRun.DeliveryStarted, _moved),  # type: ignore[attr-defined]
    (ExportRun.LinesPosted, _moved),  # type: ignore[attr-defined]
    (ExportRun.DeliveryCompleted, _ended),  # type: ignore[attr-defined]
    (ExportRun.DeliveryFailed, _ended),  # type: ignore[attr-defined]
]
