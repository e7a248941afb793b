"""The `sync_run_log` read model: one row per sync run, built only from events.

Archival (90 days) is part of the projection: the daily job records each organisation's cut-off
as a `SyncLogArchive.CutoffAdvanced` event, and the projection moves that organisation's finished
runs that started before the cut-off from `sync_run_log` to `sync_run_log_archive`, both when the
cut-off arrives and when a run ends after it. Since everything follows from the events in their
order, a rebuild gives the same hot and archive tables.

A page is folded in memory, in the log's order: the rows of the runs it touches and the cut-offs
of their organisations are read once, each event changes them there (a run moved to the archive
is no longer in the hot table, so a later event of it changes nothing, as it would in SQL), and
the page ends with one statement per table. An event changes a row only if the row is older
(`version <`), so however the log is cut into pages the tables end the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from domain.sync_run import SyncRun
from domain.sync_schedule import SyncLogArchive
from infrastructure.projections.base import (
    Decode,
    ReadModel,
    Row,
    columns,
    copy_rows,
    handled_topics,
)
from infrastructure.sql import queries

SQL = queries("sync_run_log")
#: What benchmarks/sync_log.py measures beside the service's own call.
LATEST_SQL = SQL["latest"]
COLUMNS = ("id", "org_id", "integration_type", "status", "triggered_by", "started_at",
           "ended_at", "records_processed", "records_failed", "error_message",
           "duration_seconds", "scheduled_for", "drift_seconds", "drift_flagged",
           "export_run_id", "version")
TYPES = ("uuid", "uuid", "text", "text", "text", "timestamptz", "timestamptz", "int4", "int4",
         "text", "float8", "timestamptz", "float8", "bool", "uuid", "int4")
FINISHED = frozenset({"completed", "failed", "cancelled"})

Run = dict[str, Any]


def latest_runs(conn: psycopg.Connection[Any], org_id: UUID) -> list[dict[str, Any]]:
    """The service's `latest` query (also what benchmarks/sync_log.py measures)."""
    with conn.cursor(row_factory=dict_row) as curs:
        curs.execute(SQL["latest"], {"org": org_id})
        return list(curs.fetchall())


class PostgresSyncRunLog:
    """Implements the SyncRunLog port (application.ports) on the read model's tables."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def latest(self, org_id: UUID) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            return latest_runs(conn, org_id)

    def history(
        self, org_id: UUID, integration_type: str | None, limit: int, include_archived: bool
    ) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as curs:
            curs.execute(SQL["history"], {"org": org_id, "type": integration_type,
                                          "limit": limit, "include_archived": include_archived})
            return list(curs.fetchall())

    def orgs_with_runs_before(self, cutoff: datetime) -> list[UUID]:
        with self.pool.connection() as conn:
            rows = conn.execute(SQL["orgs_with_runs_before"], {"cutoff": cutoff}).fetchall()
        return [r[0] for r in rows]


@dataclass
class Page:
    """What a page changes: the hot rows as they stand, the rows moved to the archive, the
    cut-offs (those read, then those moved forward)."""

    hot: dict[UUID, Run | None]
    cutoffs: dict[UUID, datetime]
    stored: set[UUID] = field(default_factory=set)  # runs in the hot table before the page
    by_org: dict[UUID, list[UUID]] = field(default_factory=dict)
    changed: set[UUID] = field(default_factory=set)
    archived: list[Run] = field(default_factory=list)
    advanced: set[UUID] = field(default_factory=set)

    def add(self, run: Run) -> None:
        self.hot[run["id"]] = run
        self.by_org.setdefault(run["org_id"], []).append(run["id"])

    def archive_if_due(self, run_id: UUID) -> None:
        """Move a finished run that started before its organisation's cut-off."""
        run = self.hot.get(run_id)
        if run is None or run["status"] not in FINISHED:
            return
        cutoff = self.cutoffs.get(run["org_id"])
        if cutoff is not None and run["started_at"] < cutoff:
            self.archived.append(run)
            self.hot[run_id] = None
            self.changed.discard(run_id)


class SyncRunLogProjection(ReadModel):
    name = "sync_run_log"
    tables = ("sync_run_log", "sync_run_log_archive", "sync_run_log_cutoffs")

    def topics(self) -> list[str]:
        return handled_topics(type(self).__dict__["fold"])

    def write(self, conn: psycopg.Connection[Any], rows: Sequence[Row], decode: Decode) -> None:
        events = [decode(row) for row in rows]
        ids = list(dict.fromkeys(row.originator_id for row in rows))
        page = Page({}, {})
        with conn.cursor(row_factory=dict_row) as curs:
            for run in curs.execute(SQL["rows_of"], {"ids": ids}):
                page.add(run)
        page.stored = set(page.hot)
        orgs = set(page.by_org)
        orgs.update(e.org_id for e in events if hasattr(e, "org_id"))
        page.cutoffs = dict(conn.execute(SQL["cutoffs_of"], {"orgs": list(orgs)}).fetchall())
        for event in events:
            self.fold(event, page)
        self._store(conn, page)

    @staticmethod
    def _store(conn: psycopg.Connection[Any], page: Page) -> None:
        """The page's end state in one statement per table, in an order that gives what the
        events did one by one: hot rows, rows moved out, cut-offs, then the organisations'
        older finished runs the new cut-offs move."""
        changed = [run for i in page.changed if (run := page.hot[i]) is not None]
        new = [run for run in changed if run["id"] not in page.stored]
        known = [run for run in changed if run["id"] in page.stored]
        moved_out = [r["id"] for r in page.archived if r["id"] in page.stored]
        if new:  # nothing else writes the table: the page holds the projection's lock
            copy_rows(conn, SQL["copy_new_runs"], new, COLUMNS, TYPES)
        if page.archived:
            copy_rows(conn, SQL["copy_archived"], page.archived, COLUMNS, TYPES)
        with conn.pipeline():
            if known:
                conn.execute(SQL["upsert_runs"], columns(known, COLUMNS))
            if moved_out:
                conn.execute(SQL["delete_runs"], {"ids": moved_out})
            if page.advanced:
                orgs = sorted(page.advanced)
                conn.execute(SQL["advance_cutoffs"],
                             {"orgs": orgs, "cutoffs": [page.cutoffs[o] for o in orgs]})
                conn.execute(SQL["archive_ended_runs_of_orgs"], {"orgs": orgs})

    @singledispatchmethod
    def fold(self, event: Any, page: Page) -> None:
        """What one event changes in the page."""

    @staticmethod
    def _newer(e: Any, page: Page) -> Run | None:
        """The run's hot row if it is older than the event (else the event changes nothing)."""
        run = page.hot.get(e.originator_id)
        return run if run is not None and run["version"] < e.originator_version else None

    @fold.register
    def _(self, e: SyncRun.Started, page: Page) -> None:
        if page.hot.get(e.originator_id) is None:  # created once
            page.add({
                "id": e.originator_id, "org_id": e.org_id, "integration_type": e.integration_type,
                "status": "running", "triggered_by": e.triggered_by, "started_at": e.timestamp,
                "ended_at": None, "records_processed": 0, "records_failed": 0,
                "error_message": None, "duration_seconds": None,
                "scheduled_for": e.scheduled_for,
                "drift_seconds": e.drift_seconds, "drift_flagged": e.drift_flagged,
                "export_run_id": None, "version": e.originator_version,
            })
            page.changed.add(e.originator_id)

    @fold.register
    def _(self, e: SyncRun.ExportRunLinked, page: Page) -> None:  # type: ignore[name-defined]
        if (run := self._newer(e, page)) is not None:
            run.update(export_run_id=e.export_run_id, version=e.originator_version)
            page.changed.add(e.originator_id)

    def _ended(self, e: Any, page: Page) -> None:
        if (run := self._newer(e, page)) is not None:
            # What `extract(epoch FROM ended - started)` gives: the exact microseconds, as the
            # nearest double.
            run.update(status=e.final_status.value, ended_at=e.timestamp,
                       records_processed=e.records_processed, records_failed=e.records_failed,
                       error_message=e.error_message, version=e.originator_version,
                       duration_seconds=(e.timestamp - run["started_at"]).total_seconds())
            page.changed.add(e.originator_id)
        page.archive_if_due(e.originator_id)

    @fold.register
    def _(self, e: SyncRun.Completed, page: Page) -> None:
        self._ended(e, page)

    @fold.register
    def _(self, e: SyncRun.Failed, page: Page) -> None:
        self._ended(e, page)

    @fold.register
    def _(self, e: SyncRun.Cancelled, page: Page) -> None:
        self._ended(e, page)

    @fold.register
    def _(self, e: SyncLogArchive.CutoffAdvanced, page: Page) -> None:  # type: ignore[name-defined]
        """A cut-off only moves forward; the organisation's finished runs before it move."""
        known = page.cutoffs.get(e.org_id)
        page.cutoffs[e.org_id] = e.cutoff if known is None else max(known, e.cutoff)
        page.advanced.add(e.org_id)
        for run_id in page.by_org.get(e.org_id, ()):
            page.archive_if_due(run_id)


#: The entry of PROJECTIONS in infrastructure.projections.runner.
REGISTRATION = SyncRunLogProjection
