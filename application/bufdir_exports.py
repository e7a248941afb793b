"""Use cases of Bufdir exports: request one, run its pipeline on a worker, read its state.

The pipeline is stateless: every step is recorded (saved) before its work starts, so the
stored status is always where the work is, and a retried job continues from there. The work of
steps already passed is redone without recording them again (it only reads and streams).
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from application.bufdir_rows import ReportNotReady, RowsNotCounted, group_not_counted
from application.idempotency import remember
from application.ports import (
    ActivitySource,
    ConcurrentChange,
    ConfigLoader,
    EventStore,
    FileStorage,
    Freshness,
    Job,
    NotFound,
    ReportReader,
    ReportWriter,
    RunListing,
)
from application.runs import WORKER, RunReads, retry_on_conflict, system_actor
from application.task_names import EXECUTE_BUFDIR_EXPORT
from domain.bufdir_config import BufdirConfigDocument
from domain.bufdir_export import LIFECYCLE, BufdirExport, ReportFormat
from domain.bufdir_export import BufdirExportStatus as S
from domain.bufdir_rules import Summary, decide, map_row
from domain.shared import Actor, Period

log = logging.getLogger(__name__)

TIMEOUT_MESSAGE = "Eksporten ble ikke ferdig innen tidsgrensen og ble avbrutt; start den på nytt."
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "zip": "application/zip",
}

_PATHS = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.\-~ ]+){2,}[\\/]?")


def short_message(exc: BaseException) -> str:
    """A message fit for an event: no traceback, no paths or secrets, at most 500 characters."""
    text = f"{type(exc).__name__}: {exc}"
    try:
        from domain.error_messages import sanitize_error_message
    except ImportError:  # pragma: no cover - the module is optional
        return _PATHS.sub("[path]", text)[:500]
    return sanitize_error_message(text)[:500]


def accepted(export_id: UUID) -> tuple[int, dict[str, Any]]:
    """The answer to an accepted request (and the one remembered for its Idempotency-Key)."""
    return 202, {"export_id": str(export_id), "status": "initialised"}


@dataclass
class _Run:
    """What the steps of one execution hand to each other (never stored)."""

    export: BufdirExport
    actor: Actor
    workdir: Path
    row_count: int = 0
    config: BufdirConfigDocument | None = None
    report: Path | None = None
    activity_ids: list[str] | None = None
    summary: Summary | None = None


class BufdirExports(RunReads[BufdirExport]):
    """Bufdir exports as the API and the worker use them."""

    kind = BufdirExport

    def __init__(
        self,
        store: EventStore,
        activities: ActivitySource,
        config_of: ConfigLoader,
        writer: ReportWriter,
        files: FileStorage,
        listing: RunListing | None = None,
        freshness: Freshness | None = None,
        reader: ReportReader | None = None,
    ) -> None:
        self.store = store
        self.reader = reader
        self.listing = listing
        self.freshness = freshness
        self.activities = activities
        self.config_of = config_of
        self.writer = writer
        self.files = files

    def request(
        self, org_id: UUID, period: Period, fmt: ReportFormat, include_attachments: bool,
        actor: Actor, idempotency_key: str | None = None,
    ) -> UUID:
        """Record the export as initialised and queue its pipeline in the same transaction,
        with the answer for the Idempotency-Key."""
        version, _config = self.config_of(org_id, None)
        export = BufdirExport.request(org_id, period, fmt, include_attachments, version, actor)
        job = Job(EXECUTE_BUFDIR_EXPORT, {"export_id": str(export.id)})
        response = remember(org_id, idempotency_key, *accepted(export.id))
        self.store.save(export, jobs=[job], response=response)
        return export.id

    def recent(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Newest first, from the bufdir_audit_log read model (after catching up)."""
        assert self.listing is not None, "bootstrap wires the read models"
        if self.freshness is not None:
            self.freshness.catch_up()
        return self.listing.bufdir_exports(org_id, status, limit)

    def rows_not_counted(self, org_id: UUID, export_id: UUID, limit: int = 200
                         ) -> RowsNotCounted:
        """The rows of the export's stored report that did not count, grouped by reason
        (at most `limit` per reason; every one is counted). ReportNotReady until it ended."""
        export = self.get(org_id, export_id)
        if export.status is S.COMPLETED_EMPTY:
            return group_not_counted([], self.config_of(org_id, export.config_version)[1], limit)
        if export.status is not S.COMPLETED or not export.file:
            raise ReportNotReady(export.status.value)
        assert self.reader is not None, "bootstrap wires the report reader"
        _version, config = self.config_of(org_id, export.config_version)
        path = str(export.file["path"])
        fmt = path.rsplit(".", 1)[-1]
        with self.files.open(path) as stream:
            return group_not_counted(self.reader.rows(stream, fmt), config, limit)

    def execute(self, export_id: UUID) -> None:
        """Walk the remaining steps; a failing step ends the export as failed (not re-raised)."""
        export = self.store.get(export_id)
        assert isinstance(export, BufdirExport)
        if export.is_final:
            return  # a repeated job does nothing
        actor = system_actor(WORKER, export.org_id, f"bufdir-export:{export_id}")
        with tempfile.TemporaryDirectory(prefix="bufdir-") as tmp:
            run = _Run(export, actor, Path(tmp))
            steps: list[tuple[str, Callable[[_Run], bool]]] = [
                ("query_activities", self._query),
                ("map_columns", self._map),
                ("generate_file", self._generate),
                ("bundle_attachments", self._bundle),
                ("store_file", self._store),
            ]
            for command, work in steps:
                try:
                    self._enter(run, command)
                    if not work(run):
                        return
                except Exception as exc:
                    log.warning("bufdir export %s failed in %s", export_id, run.export.status.value)
                    self._fail(run, exc)
                    return

    def fail_if_open(self, export_id: UUID, message: str = TIMEOUT_MESSAGE) -> bool:
        """Fail the export unless it already ended (the sweep, after the run timeout); True
        when this call failed it (False too when others kept changing it)."""
        try:
            return self._fail_if_open(export_id, message)
        except ConcurrentChange:
            return False

    @retry_on_conflict()
    def _fail_if_open(self, export_id: UUID, message: str) -> bool:
        try:
            export = self.store.get(export_id)
        except NotFound:
            return False
        if not isinstance(export, BufdirExport) or export.is_final:
            return False
        export.fail(message, system_actor(WORKER, export.org_id, f"sweep:{export_id}"))
        self.store.save(export)
        return True

    def _enter(self, run: _Run, command: str) -> None:
        """Record the step unless a previous attempt already did (or it is skipped)."""
        if command == "bundle_attachments" and not run.export.include_attachments:
            return
        if LIFECYCLE.allows(command, run.export.status):
            run.export.enter_step(command, run.actor)
            self.store.save(run.export)

    def _fail(self, run: _Run, exc: Exception) -> None:
        export = self.store.get(run.export.id)  # the stored state, whatever was pending
        if not export.is_final:
            export.fail(short_message(exc), run.actor)
            self.store.save(export)

    # The work of each step; False ends the pipeline (already recorded).

    def _query(self, run: _Run) -> bool:
        e = run.export
        run.row_count = self.activities.count(e.org_id, e.period_start, e.period_end)
        if run.row_count == 0 and e.status is S.QUERYING_ACTIVITIES:
            e.complete_empty(run.actor)
            self.store.save(e)
            return False
        return True

    def _map(self, run: _Run) -> bool:
        version, config = self.config_of(run.export.org_id, run.export.config_version)
        if version != run.export.config_version:
            raise LookupError(f"configuration version {run.export.config_version} not found")
        run.config = config
        return True

    def _rows(self, run: _Run, summary: Summary) -> Iterator[list[Any]]:
        assert run.config is not None
        e = run.export
        for activity in self.activities.stream(e.org_id, e.period_start, e.period_end):
            decision = decide(activity, run.config)
            summary.add(activity, decision)
            if run.activity_ids is not None:
                run.activity_ids.append(str(activity["id"]))
            yield map_row(activity, run.config, decision)

    def _generate(self, run: _Run) -> bool:
        assert run.config is not None
        run.report = run.workdir / f"bufdir-{run.export.period_start:%Y%m%d}-{run.export.id}"
        run.report = run.report.with_suffix(f".{run.export.format.value}")
        run.activity_ids = [] if run.export.include_attachments else None
        summary = run.summary = Summary()
        run.row_count = self.writer.write(
            run.export.format.value, self._rows(run, summary), run.config.headers, summary,
            run.report,
        )
        return True

    def _bundle(self, run: _Run) -> bool:
        if not run.export.include_attachments:
            return True
        assert run.report is not None and run.activity_ids is not None
        bundle = run.report.with_suffix(".zip")
        attachments = self.activities.attachments(run.export.org_id, run.activity_ids)
        self.writer.bundle(run.report, attachments, bundle)
        run.report = bundle
        return True

    def _store(self, run: _Run) -> bool:
        assert run.report is not None
        e = run.export
        ext = run.report.suffix.lstrip(".")
        path = f"bufdir/{e.org_id}/{e.id}.{ext}"
        stored = self.files.write(path, _chunks(run.report), CONTENT_TYPES[ext])
        summary = run.summary.as_dict() if run.summary else None
        e.complete(run.row_count, stored.as_event_data(), run.actor, summary)
        self.store.save(e)
        return True


def _chunks(path: Path, size: int = 1024 * 1024) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(size):
            yield chunk
