"""The `bufdir_audit_log` read model: every Bufdir export with each status and its timestamp,
built only from BufdirExport events (a rebuild gives the same rows)."""

from __future__ import annotations

from datetime import datetime
from functools import singledispatchmethod
from typing import Any

from psycopg.types.json import Jsonb

from domain.bufdir_export import BufdirExport
from infrastructure.projections.base import EventReadModel, Statement
from infrastructure.sql import queries

SQL = queries("bufdir_audit_log")


def _entry(status: str, at: datetime) -> Jsonb:
    return Jsonb([{"status": status, "at": at.isoformat()}])


def _update(e: Any, status: str, query: str = "enter_step",
            params: dict[str, Any] | None = None) -> Statement:
    return (
        SQL[query],
        {
            **(params or {}),
            "status": status,
            "entry": _entry(status, e.timestamp),
            "at": e.timestamp,
            "id": e.originator_id,
            "version": e.originator_version,
        },
    )


class BufdirAuditLogProjection(EventReadModel):
    name = "bufdir_audit_log"
    tables = ("bufdir_audit_log",)

    @singledispatchmethod
    def statements(self, event: Any) -> list[Statement]:
        return []

    @statements.register
    def _(self, e: BufdirExport.Initialised) -> list[Statement]:  # type: ignore[name-defined]
        return [
            (
                SQL["insert_export"],
                {
                    "id": e.originator_id, "org": e.org_id, "start": e.period_start,
                    "end": e.period_end, "format": e.format,
                    "attachments": e.include_attachments, "config_version": e.config_version,
                    "entry": _entry("initialised", e.timestamp), "at": e.timestamp,
                    "version": e.originator_version,
                },
            )
        ]

    @statements.register
    def _(self, e: BufdirExport.StepEntered) -> list[Statement]:
        return [_update(e, e.status)]

    @statements.register
    def _(self, e: BufdirExport.Completed) -> list[Statement]:
        return [
            _update(
                e, "completed", "complete",
                {"n": e.row_count, "file": Jsonb(e.file), "size": e.file.get("size_bytes"),
                 "summary": Jsonb(getattr(e, "summary", None))},
            )
        ]

    @statements.register
    def _(self, e: BufdirExport.CompletedEmpty) -> list[Statement]:
        return [_update(e, "completed_empty", "complete_empty")]

    @statements.register
    def _(self, e: BufdirExport.Failed) -> list[Statement]:
        return [_update(e, "failed", "fail", {"message": e.message})]


#: The entry of PROJECTIONS in infrastructure.projections.runner.
REGISTRATION = BufdirAuditLogProjection
