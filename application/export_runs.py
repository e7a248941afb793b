"""Use cases of export runs: request one, read it, execute it on a worker, fail stuck ones."""

from __future__ import annotations

import contextvars
import gc
import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from application.accounting import ExporterRegistry
from application.idempotency import remember
from application.ports import (
    ClaimSource,
    ClaimsTaken,
    Clock,
    EventStore,
    FileStorage,
    Freshness,
    Job,
    PeriodTaken,
    RecordedEvent,
    RunListing,
    StoredFile,
)
from application.runs import WORKER, RunReads, retry_on_conflict, system_actor
from application.task_names import EXECUTE_EXPORT_RUN
from domain.export_run import (
    CLAIMS_PER_EVENT,
    ClaimBatches,
    ExportRun,
    ExportRunStatus,
    ExportTarget,
    RunAlreadyExists,
    claim_rows,
    taken_batch,
    taken_claims,
)
from domain.shared import Actor, Period
from domain.vouchers import ExportRefused

log = logging.getLogger(__name__)

#: The read model that answers GET of a run and the list of runs.
READ_MODEL = "export_runs"


#: The suffix of a run's file while its append is on its way (moved to the run's name once it
#: committed, removed if it failed).
UNFINISHED = ".pending"


@dataclass(frozen=True)
class ExportRunView:
    run_id: UUID
    org_id: UUID
    period_start: date
    period_end: date
    target: str
    status: str
    record_count: int
    file: dict[str, Any] | None
    error: dict[str, str] | None
    created_at: datetime
    completed_at: datetime | None
    version: int
    delivery: dict[str, Any] | None = None

    @classmethod
    def of(cls, run: ExportRun) -> ExportRunView:
        return cls(
            run_id=run.id,
            org_id=run.org_id,
            period_start=run.period_start,
            period_end=run.period_end,
            target=run.target.value,
            status=run.status.value,
            record_count=run.record_count,
            file=run.file,
            error=run.error,
            created_at=run.created_on,
            completed_at=run.ended_on,
            version=run.version,
            delivery=dict(run.delivery) if run.delivery else None,
        )


    @classmethod
    def of_row(cls, row: dict[str, Any]) -> ExportRunView:
        """From the export_runs read model (the row the projection wrote from the events)."""
        completed_at = row["completed_at"]
        return cls(
            run_id=row["run_id"], org_id=row["org_id"], period_start=row["period_start"],
            period_end=row["period_end"], target=row["target"], status=row["status"],
            record_count=row["record_count"], file=row["file"], error=row["error"],
            created_at=row["created_at"].astimezone(UTC),
            completed_at=completed_at.astimezone(UTC) if completed_at else None,
            version=row["version"], delivery=row["delivery"],
        )


def accepted(run_id: UUID) -> tuple[int, dict[str, Any]]:
    """The answer to an accepted request (and the one remembered for its Idempotency-Key)."""
    return 202, {"run_id": str(run_id), "status": "pending"}


class TakenClaims:
    """The claims a run took, exactly as its ClaimsTaken events recorded them, streamed from
    the event log on each iteration: the file is rendered from the events, so its amounts are
    the recorded ones even if a claim was imported again since (a re-import changes nothing
    that a run already took). Re-iterable, so an exporter may validate in a first pass."""

    def __init__(self, store: EventStore, run_id: UUID) -> None:
        self.store = store
        self.run_id = run_id

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return taken_claims(self.store.stream(self.run_id))


class ClaimsAsTaken(ClaimBatches):
    """The claims an execution just took, from the very batches its ClaimsTaken events hold
    (the lists the save encoded): the file says what the events say without reading them
    back. Re-iterable, like TakenClaims."""


def claims_in_history(history: Iterable[RecordedEvent]) -> list[dict[str, Any]]:
    """What an auditor reads: every claim a run took, with its amount, from the event log."""
    return [c for e in history if e.type == "ClaimsTaken" for c in claim_rows(e.data["claims"])]


@contextmanager
def cycles_uncollected() -> Iterator[None]:
    """Python's cycle collector paused while a take reads its claims: a million new objects
    (rows, columns, texts) and no reference cycle among them, yet every few hundred new
    containers started a collection walking the survivors again (a tenth of a second of a
    100 000-claim take). On again afterwards, unless it was off before."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ExportRuns(RunReads[ExportRun]):
    """Export runs as the API and the worker use them."""

    kind = ExportRun

    def __init__(
        self,
        store: EventStore,
        claims: ClaimSource,
        files: FileStorage,
        exporters: ExporterRegistry,
        clock: Clock,
        settings_of: Any = None,
        timeout: timedelta = timedelta(minutes=15),
        listing: RunListing | None = None,
        freshness: Freshness | None = None,
        delivery_job: Callable[[UUID, str, UUID], Job | None] | None = None,
    ) -> None:
        self.store = store
        self.claims = claims
        self.files = files
        self.exporters = exporters
        self.clock = clock
        self.settings_of = settings_of or (lambda org_id: None)
        self.timeout = timeout
        self.listing = listing
        self.freshness = freshness
        #: The job posting a completed run to the ledger, when the organisation enabled it.
        self.delivery_job = delivery_job or (lambda org_id, target, run_id: None)

    def request_export(
        self,
        org_id: UUID,
        period: Period,
        target: ExportTarget,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> UUID:
        """Accept a run and queue it, or refuse it if an active run overlaps its period."""
        run = ExportRun.request(org_id, period, target, actor)
        response = remember(org_id, idempotency_key, *accepted(run.id))
        job = Job(EXECUTE_EXPORT_RUN, {"run_id": str(run.id)})
        try:
            self.store.save(run, jobs=[job], response=response)
        except PeriodTaken as taken:
            raise RunAlreadyExists(taken.existing_run_id) from None
        return run.id

    def view(
        self,
        org_id: UUID,
        run_id: UUID,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> ExportRunView:
        """The run now (from the read model), after event `version`, or as it stood at `as_of`
        (from its events)."""
        if version is None and as_of is None:
            current = self._current(org_id, run_id)
            if current is not None:
                return current
        return ExportRunView.of(self.as_it_was(org_id, run_id, version, as_of))

    def _current(self, org_id: UUID, run_id: UUID) -> ExportRunView | None:
        """The run from the export_runs read model once it holds the run's last event (waiting
        for that event only, bounded); None when it does not, and the events must answer."""
        if self.listing is None:
            return None
        found = self.listing.export_run(org_id, run_id)
        if not found.current and found.version and self.freshness is not None and (
            self.freshness.reached(READ_MODEL, found.position, timeout=1.0)
        ):
            found = self.listing.export_run(org_id, run_id)
        return ExportRunView.of_row(found.row) if found.current and found.row else None

    def recent(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Newest first, from the export_runs read model, once it holds what this process
        appended for the organisation (read your writes; not the whole log)."""
        assert self.listing is not None, "bootstrap wires the read models"
        if self.freshness is not None:
            self.freshness.own_writes(READ_MODEL, org_id)
        return self.listing.export_runs(org_id, status, limit)

    def execute(self, run_id: UUID) -> ExportRunStatus:
        """Take the claims, write the file, complete; or fail with a code. Safe to run again.
        Returns the status the run is left in."""
        run = self.store.get(run_id)
        assert isinstance(run, ExportRun)
        # The worker acts under the correlation id of the request that asked for the run.
        actor = system_actor(WORKER, run.org_id, run.requested_by.get("correlation_id") or f"run:{run_id}")
        written: StoredFile | ExportRefused | None = None
        if run.status is ExportRunStatus.PENDING:
            run, written = self._start(run_id, actor, read=[run])
        if run.status is not ExportRunStatus.RUNNING:
            return run.status  # already ended: a repeated job does nothing
        if written is None:  # started earlier (a repeated job): the claims its events hold
            written = self._write(run, TakenClaims(self.store, run.id))
        if isinstance(written, ExportRefused):
            run.fail(written.code, str(written), actor)
            self.store.save(run)
            return run.status
        run.complete(written.as_event_data(), actor)
        job = self.delivery_job(run.org_id, run.target.value, run.id)
        if job is not None:
            run.queue_delivery(actor)  # same append as Completed: no completed run is missed
        self.store.save(run, jobs=[job] if job is not None else [])
        return run.status

    @retry_on_conflict(attempts=5)
    def _start(
        self, run_id: UUID, actor: Actor, read: list[ExportRun] | None = None
    ) -> tuple[ExportRun, StoredFile | ExportRefused | None]:
        """Reserve the period's free claims; when another run took one of them first, read
        again and select again (unless the run moved on meanwhile). The first attempt uses the
        run `execute` just read (`read`, emptied here), so an execution reads its events once.

        The file is written from the claims as taken while their append runs (the database's
        time overlaps Python's), under a name of its own; it gets the run's name only once the
        append succeeded, and is removed when it failed. Returns the run and its file or the
        refusal (None: the run was not started here)."""
        run = read.pop() if read else self.store.get(run_id)
        if run.status is not ExportRunStatus.PENDING:
            return run, None
        with cycles_uncollected():
            batches = [taken_batch(columns) for columns in self.claims.candidate_columns(
                run.org_id, run.period_start, run.period_end, CLAIMS_PER_EVENT)]
        run.take(batches, actor)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-append") as pool:
            saving = pool.submit(contextvars.copy_context().run, self.store.save, run)
            try:
                written = self._write(run, ClaimsAsTaken(batches), pending=True)
            except BaseException:
                saving.exception()  # the append ends either way; the error is the render's
                raise
            failed = saving.exception()
        if failed is not None:
            if isinstance(written, StoredFile):
                self.files.remove(written.path)
            if isinstance(failed, ClaimsTaken):
                log.info("claims of run %s were taken concurrently; selecting again", run.id)
            raise failed
        if isinstance(written, StoredFile):
            final = written.path.rsplit(".", 2)[0]  # without ".<nonce>" and UNFINISHED
            self.files.move(written.path, final)
            written = replace(written, path=final)
        return run, written

    def _write(
        self, run: ExportRun, claims: Iterable[dict[str, Any]], pending: bool = False
    ) -> StoredFile | ExportRefused:
        """The run's file, or why it cannot be exported (nothing is then stored)."""
        try:
            exporter = self.exporters.for_target(run.target.value)
            settings = self.settings_of(run.org_id)
            path = f"exports/{run.org_id}/{run.id}.{exporter.extension_for(settings)}"
            if pending:
                path = f"{path}.{uuid4().hex}{UNFINISHED}"
            return self.files.write(
                path, exporter.render(run, claims, settings), exporter.content_type_for(settings)
            )
        except ExportRefused as refused:
            return refused

    def remove_unfinished_files(self) -> list[str]:
        """Files of renders whose worker died before its run's append answered, once older than
        the run timeout: by then the run was executed again with a file of its own, or failed
        as stuck (a live render writes its file as it goes). Returns their paths."""
        return self.files.remove_unfinished(UNFINISHED, self.clock.now() - self.timeout)

    def fail_if_stuck(self, run_id: UUID) -> bool:
        """Fail a run that has been running longer than the limit; its claims become free."""
        run = self.store.get(run_id)
        if not isinstance(run, ExportRun) or run.status is not ExportRunStatus.RUNNING:
            return False
        if self.clock.now() - run.modified_on < self.timeout:
            return False
        message = f"run exceeded {int(self.timeout.total_seconds())} s"
        run.fail("timeout", message, system_actor(WORKER, run.org_id, f"sweep:{run_id}"))
        self.store.save(run)
        return True
