"""The `export_runs` read model: everything `GET` of a run shows, so that reading a run or
listing runs never replays its events (nor decodes its claims).

A page of the log is folded run by run in memory: the rows of the runs the page touches are
read once, each event changes its run's row there, and the changed rows are written back with
one statement. An event changes a row only if the row is older than the event (`version <`),
so an event is applied once however the log is cut into pages: a rebuild (pages of 5 000) and
the live runner (pages of whatever arrived) end with the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import singledispatchmethod
from typing import Any

import psycopg
from eventsourcing.utils import get_topic
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from domain.export_run import ExportRun
from infrastructure.projections.base import (
    Decode,
    ReadModel,
    Row,
    columns,
    copy_rows,
    handled_topics,
)
from infrastructure.sql import queries

SQL = queries("export_runs")
#: The claims of a run are the event itself: the row only takes the event's version.
CLAIMS_TAKEN = get_topic(ExportRun.ClaimsTaken)  # type: ignore[attr-defined]
COLUMNS = ("run_id", "org_id", "period_start", "period_end", "target", "status",
           "record_count", "file", "error", "created_at", "completed_at", "delivery", "version")
TYPES = ("uuid", "uuid", "date", "date", "text", "text", "int4", "jsonb", "jsonb",
         "timestamptz", "timestamptz", "jsonb", "int4")
JSON_COLUMNS = ("file", "error", "delivery")

Run = dict[str, Any]


def _plus(value: Any, more: int) -> Any:
    """`(delivery->>'x')::int + n`: null stays null."""
    return None if value is None else int(value) + more


class ExportRunsProjection(ReadModel):
    name = "export_runs"
    tables = ("export_runs",)

    def topics(self) -> list[str]:
        return handled_topics(type(self).__dict__["fold"])

    def bare_topics(self) -> list[str]:
        return [CLAIMS_TAKEN]

    def write(self, conn: psycopg.Connection[Any], rows: Sequence[Row], decode: Decode) -> None:
        with conn.cursor(row_factory=dict_row) as curs:
            ids = list(dict.fromkeys(row.originator_id for row in rows))
            runs: dict[Any, Run] = {
                run["run_id"]: run for run in curs.execute(SQL["rows_of"], {"ids": ids})
            }
        stored = set(runs)
        changed: dict[Any, Run] = {}
        for row in rows:
            run = runs.get(row.originator_id)
            if row.state is None:  # ClaimsTaken, taken bare: the row only moves on
                if run is not None and run["version"] < row.originator_version:
                    run["version"] = row.originator_version
                    changed[row.originator_id] = run
                continue
            event = decode(row)
            if isinstance(event, ExportRun.Requested):
                if run is None:  # a run is created once
                    runs[row.originator_id] = changed[row.originator_id] = self.created(event)
            elif run is not None and run["version"] < row.originator_version:
                self.fold(event, run)
                run["version"] = row.originator_version
                changed[row.originator_id] = run
        self._store(conn, changed, stored)

    @staticmethod
    def _store(conn: psycopg.Connection[Any], changed: dict[Any, Run], stored: set[Any]) -> None:
        """Runs new to the table by COPY (nothing else writes it: the page holds the
        projection's lock), runs it had by one upsert."""
        new = [run for run_id, run in changed.items() if run_id not in stored]
        if new:
            copy_rows(conn, SQL["copy_new"], new, COLUMNS, TYPES)
        known = [run for run_id, run in changed.items() if run_id in stored]
        if known:
            params = columns(known, COLUMNS)
            for name in JSON_COLUMNS:
                params[name] = [None if v is None else Jsonb(v) for v in params[name]]
            conn.execute(SQL["upsert"], params)

    @staticmethod
    def created(e: Any) -> Run:
        return {
            "run_id": e.originator_id, "org_id": e.org_id, "period_start": e.period_start,
            "period_end": e.period_end, "target": e.target, "status": "pending",
            "record_count": 0, "file": None, "error": None, "created_at": e.timestamp,
            "completed_at": None, "delivery": None, "version": e.originator_version,
        }

    @singledispatchmethod
    def fold(self, event: Any, run: Run) -> None:
        """What one event changes in its run's row (the version is moved by the caller)."""

    @fold.register
    def _(self, e: ExportRun.Requested, run: Run) -> None:
        """Registered so it is read; `write` creates the row (a run is created once)."""

    @fold.register
    def _(self, e: ExportRun.Started, run: Run) -> None:  # type: ignore[name-defined]
        run.update(status="running", record_count=e.record_count)

    @fold.register
    def _(self, e: ExportRun.Completed, run: Run) -> None:  # type: ignore[name-defined]
        run.update(status="completed", record_count=e.record_count, file=e.file,
                   completed_at=e.timestamp)

    @fold.register
    def _(self, e: ExportRun.Failed, run: Run) -> None:  # type: ignore[name-defined]
        run.update(status="failed", error={"code": e.code, "message": e.message},
                   completed_at=e.timestamp)

    @fold.register
    def _(self, e: ExportRun.DeliveryQueued, run: Run) -> None:  # type: ignore[name-defined]
        run["delivery"] = {"status": "pending", "attempts": 0, "lines_total": None,
                           "lines_posted": 0, "last_error": None, "delivered_at": None}

    # The delivery events below change a delivery that was queued (none: nothing to change).

    @fold.register
    def _(self, e: ExportRun.DeliveryStarted, run: Run) -> None:  # type: ignore[name-defined]
        """A first start or a resume: one more attempt; lines already in the ledger count."""
        if (d := run["delivery"]) is not None:
            d.update(status="delivering", attempts=_plus(d.get("attempts"), 1),
                     lines_total=_int(e.lines_total), lines_posted=_int(e.already_present))

    @fold.register
    def _(self, e: ExportRun.LinesPosted, run: Run) -> None:  # type: ignore[name-defined]
        if (d := run["delivery"]) is not None:
            d["lines_posted"] = _plus(d.get("lines_posted"), int(e.count))

    @fold.register
    def _(self, e: ExportRun.DeliveryCompleted, run: Run) -> None:  # type: ignore[name-defined]
        if (d := run["delivery"]) is not None:
            d.update(status="delivered", delivered_at=e.at, last_error=None,
                     lines_posted=d.get("lines_total"))

    @fold.register
    def _(self, e: ExportRun.DeliveryFailed, run: Run) -> None:  # type: ignore[name-defined]
        """`lines_total` stays as it was unless the failure names it."""
        if (d := run["delivery"]) is not None:
            lines_total = getattr(e, "lines_total", None)
            d.update(status="failed", last_error={"code": e.code, "message": e.message},
                     lines_total=d.get("lines_total") if lines_total is None else int(lines_total))

    @fold.register
    def _(self, e: ExportRun.DeliveryRetryRequested, run: Run) -> None:  # type: ignore[name-defined]
        if (d := run["delivery"]) is not None:
            d["status"] = "pending"


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
