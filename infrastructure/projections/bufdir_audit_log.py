"""The `bufdir_audit_log` read model: every Bufdir export with each status and its timestamp,
built only from BufdirExport events (a rebuild gives the same rows)."""

from __future__ import annotations

from datetime import datetime
from functools import singledispatchmethod
from typing import Any

from psycopg.types.json import Jsonb

from domain.bufdir_export import BufdirExport
from infrastructure.projections.base import EventReadModel, Statement

COLUMNS = (
    "export_id, org_id, period_start, period_end, format, include_attachments, config_version, "
    "status, row_count, file_size_bytes, file, error_message, status_history, created_at, "
    "updated_at, version"
)
FINAL = ("completed", "completed_empty", "failed")


def _entry(status: str, at: datetime) -> Jsonb:
    return Jsonb([{"status": status, "at": at.isoformat()}])


def _update(e: Any, status: str, sets: str = "", params: dict[str, Any] | None = None,
            ) -> Statement:
    return (
        "UPDATE bufdir_audit_log SET status = %(status)s, "  # noqa: S608 - constant fragments
        f"status_history = status_history || %(entry)s, updated_at = %(at)s{sets}, "
        "version = %(version)s WHERE export_id = %(id)s AND version < %(version)s",
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
                f"INSERT INTO bufdir_audit_log ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, "  # noqa: S608
                "%s, 'initialised', 0, NULL, NULL, NULL, %s, %s, %s, %s) "
                "ON CONFLICT (export_id) DO NOTHING",
                (
                    e.originator_id, e.org_id, e.period_start, e.period_end, e.format,
                    e.include_attachments, e.config_version,
                    _entry("initialised", e.timestamp), e.timestamp, e.timestamp,
                    e.originator_version,
                ),
            )
        ]

    @statements.register
    def _(self, e: BufdirExport.StepEntered) -> list[Statement]:
        return [_update(e, e.status)]

    @statements.register
    def _(self, e: BufdirExport.Completed) -> list[Statement]:
        return [
            _update(
                e, "completed", ", row_count = %(n)s, file = %(file)s, file_size_bytes = %(size)s, "
                "summary = %(summary)s",
                {"n": e.row_count, "file": Jsonb(e.file), "size": e.file.get("size_bytes"),
                 "summary": Jsonb(getattr(e, "summary", None))},
            )
        ]

    @statements.register
    def _(self, e: BufdirExport.CompletedEmpty) -> list[Statement]:
        return [_update(e, "completed_empty", ", row_count = 0")]

    @statements.register
    def _(self, e: BufdirExport.Failed) -> list[Statement]:
        return [_update(e, "failed", ", error_message = %(message)s", {"message": e.message})]


#: The entry of PROJECTIONS in infrastructure.projections.runner.
REGISTRATION = BufdirAuditLogProjection
