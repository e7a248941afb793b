"""The rows of a Bufdir export that did not count, grouped by reason, read back from the
export's own stored report (the file is what was handed in; activities may have changed since).

The columns shown are found by the source each configured column reads, in the configuration
version the export used, so an organisation's own headers and column order are respected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from domain.bufdir_config import BufdirConfigDocument
from domain.counting_rules import Reason
from domain.shared import DomainError

#: The sources that tell a coordinator which activity a row is and why it did not count.
SHOWN_SOURCES = ("id", "date", "activity_type_label", "activity_type", "participants",
                 "duration_minutes", "contact_mode", "municipality", "description",
                 "not_counted_explanation")
REASON_SOURCE = "not_counted_reason"


class ReportNotReady(DomainError):
    """Only a completed export has rows to read (409: ask again once it has ended)."""

    code = "report_not_ready"
    http_status = 409

    def __init__(self, status: str) -> None:
        super().__init__(f"the export is '{status}'; its rows can be read once it is completed")
        self.status = status


@dataclass(frozen=True)
class Column:
    source: str
    header: str


@dataclass(frozen=True)
class ReasonRows:
    reason: str
    #: Every row of this reason in the report (`rows` may hold fewer: at most the limit).
    total: int
    rows: list[dict[str, str]]


@dataclass(frozen=True)
class RowsNotCounted:
    columns: list[Column]
    reasons: list[ReasonRows] = field(default_factory=list)
    #: False when the export's configuration has no reason column (nothing can be grouped).
    has_reason_column: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "columns": [{"source": c.source, "header": c.header} for c in self.columns],
            "by_reason": {r.reason: {"total": r.total, "rows": r.rows} for r in self.reasons},
            "has_reason_column": self.has_reason_column,
        }


def _shown(config: BufdirConfigDocument) -> list[tuple[int, Column]]:
    by_source: dict[str, tuple[int, Column]] = {}
    for index, column in enumerate(config.columns):
        if column.source in SHOWN_SOURCES and column.source not in by_source:
            by_source[column.source] = (index, Column(column.source, column.header))
    if "activity_type_label" in by_source:
        by_source.pop("activity_type", None)
    return [by_source[s] for s in SHOWN_SOURCES if s in by_source]


def group_not_counted(rows: Iterable[list[str]], config: BufdirConfigDocument,
                      limit: int) -> RowsNotCounted:
    """Group the report's rows (header row first) by their reason code, in the order of the
    reason codes; at most `limit` rows per reason are kept, all are counted."""
    shown = _shown(config)
    columns = [c for _, c in shown]
    reason_at = next((i for i, c in enumerate(config.columns) if c.source == REASON_SOURCE), None)
    if reason_at is None:
        return RowsNotCounted(columns, [], has_reason_column=False)
    totals: dict[str, int] = {}
    kept: dict[str, list[dict[str, str]]] = {}
    for number, row in enumerate(rows):
        if number == 0 or reason_at >= len(row) or not row[reason_at].strip():
            continue  # the header row, or an activity that counted
        reason = row[reason_at].strip()
        totals[reason] = totals.get(reason, 0) + 1
        if len(kept.setdefault(reason, [])) < limit:
            kept[reason].append({c.source: (row[i] if i < len(row) else "") for i, c in shown})
    order = {r.value: n for n, r in enumerate(Reason)}
    reasons = sorted(totals, key=lambda r: (order.get(r, len(order)), r))
    return RowsNotCounted(columns, [ReasonRows(r, totals[r], kept[r]) for r in reasons])
