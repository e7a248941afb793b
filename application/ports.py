"""Every port: what the use cases need from the outside world, as Protocols that
infrastructure/ implements and tests/unit/fakes.py fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar, runtime_checkable
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.activities import ActivityRecord
from domain.accounting_settings import ExportSettings
from domain.bufdir_config import BufdirConfigDocument
from domain.bufdir_rules import Summary
from domain.export_run import ExportRun
from domain.vouchers import ledger_ref

A = TypeVar("A", bound=Aggregate)


class GuardViolation(Exception):
    """A database guard refused the append; nothing was stored."""


class PeriodTaken(GuardViolation):
    def __init__(self, existing_run_id: UUID | None) -> None:
        super().__init__("overlapping period")
        self.existing_run_id = existing_run_id


class ClaimsTaken(GuardViolation):
    """Another run reserved one of the claims first."""


class ConcurrentChange(GuardViolation):
    """Someone else appended to the same aggregate first; read it again and retry."""


class SyncAlreadyRunning(GuardViolation):
    def __init__(self, existing_run_id: UUID | None) -> None:
        super().__init__("sync already running")
        self.existing_run_id = existing_run_id


class ScheduledSyncTaken(GuardViolation):
    """This scheduled time of the organisation's integration was already started (its
    idempotency key is taken); `existing_run_id` is the run it started."""

    def __init__(self, existing_run_id: UUID | None) -> None:
        super().__init__("scheduled sync already started")
        self.existing_run_id = existing_run_id


class DatabaseUnavailable(Exception):
    """No connection to the database within the bounded wait: the caller answers 503 and the
    client retries later (never retried here, so no request hangs on a database that is gone)."""


class NotFound(Exception):
    """No such thing in this organisation (or at all: the two are not told apart)."""


@dataclass(frozen=True)
class Job:
    """Background work to defer in the same transaction as the events that call for it."""

    task: str
    args: dict[str, Any]


@dataclass(frozen=True)
class IdempotentResponse:
    """The answer to remember for an Idempotency-Key, written with the events."""

    org_id: UUID
    key: str
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class RecordedEvent:
    version: int
    type: str
    timestamp: datetime
    actor: dict[str, str] | None
    data: dict[str, Any] = field(default_factory=dict)


class EventStore(Protocol):
    def get(self, aggregate_id: UUID, version: int | None = None) -> Any: ...

    def save(
        self,
        *aggregates: Aggregate,
        jobs: Sequence[Job] = (),
        response: IdempotentResponse | None = None,
    ) -> int | None:
        """Append pending events atomically with guard rows, jobs and the response.

        Returns the notification id of the last event appended.
        """
        ...

    def history(self, aggregate_id: UUID) -> list[RecordedEvent]: ...

    def stream(self, aggregate_id: UUID) -> Iterator[Any]:
        """The aggregate's domain events in order, read one at a time (a server-side cursor)."""
        ...


@dataclass(frozen=True)
class ClaimRecord:
    id: UUID
    claimant_id: str
    expense_date: date
    approved_at: datetime
    category: str
    amount: str
    currency: str
    description: str
    late: bool = False
    amount_nok: str | None = None  # the NOK amount reimbursed; set when currency is not NOK

    def as_event_data(self) -> dict[str, Any]:
        return {
            "claim_id": str(self.id),
            "claimant_id": self.claimant_id,
            "expense_date": self.expense_date.isoformat(),
            "approved_at": self.approved_at.isoformat(),
            "category": self.category,
            "amount": self.amount,
            "currency": self.currency,
            "description": self.description,
            "late": self.late,
            "amount_nok": self.amount_nok,
            # The claim's reference in the accounting file (Xledger ImpSystemRef, BC External
            # Document No.), recorded with the claim so the run's events map file to claim.
            "ledger_ref": ledger_ref(str(self.id)),
        }


@dataclass(frozen=True)
class LockedClaim:
    """A claim sent with other values than an export run took: not applied."""

    index: int
    id: UUID
    run_id: UUID
    changed: list[str]


@dataclass(frozen=True)
class ClaimImport:
    upserted: int
    unchanged: int
    locked: list[LockedClaim]


class ClaimSource(Protocol):
    def upsert(self, org_id: UUID, claims: Sequence[ClaimRecord]) -> ClaimImport:
        """Store new and changed claims; a claim held by a running or completed run keeps its
        values (listed in `locked` when sent with others). One transaction."""
        ...

    def late_corrections(self, org_id: UUID | None = None) -> int:
        """How many corrections arrived after their claim was exported (all orgs: None)."""
        ...

    def candidates(self, org_id: UUID, start: date, end: date) -> Iterable[ClaimRecord]:
        """Claims approved in the period, plus late ones; none reserved by another run.
        May be a stream: iterate it once."""
        ...

    def candidate_columns(
        self, org_id: UUID, start: date, end: date, size: int
    ) -> Iterable[dict[str, list[Any]]]:
        """The same claims in the same order, at most `size` at a time, each batch as parallel
        lists named by the keys of `ClaimRecord.as_event_data` (without `ledger_ref`), values
        as it gives them. May be a stream: iterate it once."""
        ...


@dataclass(frozen=True)
class StoredFile:
    path: str
    size_bytes: int
    sha256: str
    content_type: str

    def as_event_data(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "content_type": self.content_type,
        }


class FileStorage(Protocol):
    def write(self, path: str, chunks: Iterable[bytes], content_type: str) -> StoredFile: ...

    def open(self, path: str) -> BinaryIO: ...

    def exists(self, path: str) -> bool: ...

    def move(self, source: str, target: str) -> None:
        """The file at `source` is now at `target` (replacing any file there)."""
        ...

    def remove(self, path: str) -> None:
        """The file is gone (nothing happens when there is none)."""
        ...

    def remove_unfinished(self, suffix: str, older_than: datetime) -> list[str]:
        """Removes what writers left unfinished when their process died, last changed before
        `older_than`: files their writer named `*<suffix>` and the storage's own unfinished
        writes. Returns their paths."""
        ...


class UrlSigner(Protocol):
    def sign(self, path: str) -> str: ...

    def verify(self, path: str, token: str) -> bool: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class AccountingExporter(Protocol):
    """Writes the file one accounting system imports; one module per target."""

    target: str
    content_type: str
    extension: str

    def render(
        self, run: ExportRun, claims: Iterable[dict[str, Any]], settings: ExportSettings | None
    ) -> Iterator[bytes]:
        """Raises ExportRefused before yielding anything when the run cannot be exported
        (no settings: refused as unmapped)."""
        ...

    def content_type_for(self, settings: ExportSettings | None) -> str: ...

    def extension_for(self, settings: ExportSettings | None) -> str: ...


@runtime_checkable
class PublishesImportDefinition(Protocol):
    """An exporter whose target needs a definition to read our file (Business Central)."""

    def import_definition(self) -> tuple[str, str, bytes]:
        """(content type, file name, content)."""
        ...


@dataclass(frozen=True)
class ImportDefinition:
    content_type: str
    filename: str
    content: bytes


@dataclass(frozen=True)
class IdempotencyOutcome:
    kind: str  # "new" | "replay" | "in_flight" | "mismatch"
    status_code: int | None = None
    body: dict[str, Any] | None = None


class IdempotencyKeys(Protocol):
    """Remembered answers per organisation and Idempotency-Key (IETF draft semantics)."""

    def begin(self, org_id: UUID, key: str, fingerprint: str) -> IdempotencyOutcome: ...

    def finish(self, org_id: UUID, key: str, status_code: int, body: dict[str, Any]) -> None: ...

    def abandon(self, org_id: UUID, key: str) -> None: ...

    def purge(self, older_than_hours: int) -> int: ...


# --- Source data -----------------------------------------------------------------------------

Attachment = tuple[str, str, str]  # (activity_id, file name, local path)


class ActivitySource(Protocol):
    """Activities of an organisation, read in date order without loading them all."""

    def stream(self, org_id: UUID, start: date, end: date) -> Iterator[dict[str, Any]]: ...

    def count(self, org_id: UUID, start: date, end: date) -> int: ...

    def attachments(self, org_id: UUID, activity_ids: Iterable[str]) -> Iterator[Attachment]: ...


class ActivityRecords(ActivitySource, Protocol):
    """The activity table as the import writes it."""

    def upsert(self, org_id: UUID, activities: Sequence[ActivityRecord]) -> int: ...

    def exists(self, org_id: UUID, activity_id: str) -> bool: ...

    def add_attachment(self, org_id: UUID, activity_id: str, name: str, stored: StoredFile) -> None:
        ...


# --- Bufdir reports --------------------------------------------------------------------------


class ReportWriter(Protocol):
    def write(
        self,
        fmt: str,
        rows: Iterable[list[Any]],
        headers: list[str],
        summary: Summary,
        out_path: Path,
    ) -> int: ...

    def bundle(self, report_path: Path, attachments: Iterable[Attachment], out_path: Path) -> int:
        ...


class ReportReader(Protocol):
    """Reads back a stored report: its header row first, then one row per activity, as text."""

    def rows(self, stream: BinaryIO, fmt: str) -> Iterator[list[str]]: ...


#: (org_id, version or None for the current one) -> (version, document); version 0 = default.
ConfigLoader = Callable[[UUID, int | None], tuple[int, BufdirConfigDocument]]


# --- Read models -----------------------------------------------------------------------------


class SyncRunLog(Protocol):
    """The sync_run_log read model."""

    def latest(self, org_id: UUID) -> list[dict[str, Any]]: ...

    def history(
        self, org_id: UUID, integration_type: str | None, limit: int, include_archived: bool
    ) -> list[dict[str, Any]]: ...

    def orgs_with_runs_before(self, cutoff: datetime) -> list[UUID]: ...


@dataclass(frozen=True)
class CurrentRow:
    """One run's read-model row beside the log's last event of that run: the row answers for
    the run only when it has caught up with that event (`current`)."""

    row: dict[str, Any] | None  # None: not in the read model yet, or not this organisation's
    version: int  # the run's last version in the log (0: no such aggregate)
    position: int  # that event's notification id

    @property
    def current(self) -> bool:
        return self.row is not None and self.row["version"] == self.version


class RunListing(Protocol):
    """Newest-first lists of one organisation's runs, and one run, from the read models."""

    def export_runs(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]: ...

    def export_run(self, org_id: UUID, run_id: UUID) -> CurrentRow: ...

    def bufdir_exports(self, org_id: UUID, status: str | None, limit: int) -> list[dict[str, Any]]:
        ...


class Freshness(Protocol):
    """Read your writes: wait (bounded) until the read models hold the events a reader needs."""

    def catch_up(self, timeout: float = 2.0) -> None:
        """Until every read model holds every event appended so far (the whole log)."""
        ...

    def reached(self, read_model: str, position: int, timeout: float = 1.0) -> bool:
        """Until `read_model` holds event `position`; False when it is not kept up in this
        process or did not get there in time (the caller then reads the events)."""
        ...

    def own_writes(self, read_model: str, org_id: UUID, timeout: float = 2.0) -> None:
        """Until `read_model` holds the last event this process appended for the organisation
        (the caller's own writes), not the newest event of the whole log."""
        ...


# --- Schedules, upkeep, audit ----------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleRow:
    org_id: UUID
    integration_type: str
    cron: str
    timezone: str
    period: str
    configured_at: datetime
    last_scheduled_for: datetime | None


class ScheduleTable(Protocol):
    def due_candidates(self) -> list[ScheduleRow]: ...


@dataclass(frozen=True)
class OpenRun:
    """A run that has not ended, as the guard and job tables tell it (never the read models)."""

    run_id: UUID
    status: str
    timed_out: bool = False
    has_job: bool = False
    export_run_id: UUID | None = None


class UpkeepTables(Protocol):
    """What the sweep reads and queues: guard rows of open runs and the job queue."""

    def running_export_runs(self) -> list[UUID]: ...

    def orphaned_pending_export_runs(self, older_than_seconds: int) -> list[UUID]: ...

    def open_bufdir_exports(self, timeout_seconds: int, idle_seconds: int) -> list[OpenRun]: ...

    def running_syncs(self) -> list[OpenRun]: ...

    def defer(self, job: Job) -> None: ...


class AuditLedger(Protocol):
    """The audit hash chain over the stored events."""

    def verify(self, org_id: UUID) -> dict[str, Any]: ...

    def evidence(self, org_id: UUID, run_id: UUID) -> bytes:
        """The evidence zip of a run the caller has already checked belongs to `org_id`."""
        ...

    def log_heads(self) -> int:
        """Log each organisation's chain head (the daily job); how many were logged."""
        ...


class ServiceFlags(Protocol):
    """One-off facts about this installation, e.g. that the demo data was loaded."""

    def is_set(self, name: str) -> bool: ...

    def set(self, name: str) -> None:
        """Record the fact (setting it again changes nothing)."""
        ...


class RunCounters(Protocol):
    """Counters an operator watches (per process)."""

    def export_run_finished(self, status: str) -> None: ...

    def scheduled_sync_started(self, drift_flagged: bool) -> None: ...

    def sync_timed_out(self) -> None: ...


# Delivery by API (application/delivery.py).


class DeliveryRefused(Exception):
    """The accounting system refused the request (4xx, a GraphQL error): sending the same
    again would not help. The message is the vendor's, already sanitised."""

    code = "refused"


class CredentialsRefused(DeliveryRefused):
    """The token request or the bearer token was refused (401, invalid_client)."""

    code = "credentials_refused"


class DeliveryUnavailable(Exception):
    """A transient failure (network, 5xx, 429): worth retrying, after `retry_after` seconds
    when the server said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CredentialsUnavailable(Exception):
    """The credentials key is missing or wrong: stored credentials cannot be used. The message
    is one line naming the variable, never a key."""


class LedgerClient(Protocol):
    """One organisation's accounting system, as its public API documents it."""

    def check(self) -> None:
        """A token request and one harmless read; raises CredentialsRefused/DeliveryRefused/
        DeliveryUnavailable."""
        ...

    def present(self, lines: Sequence[Any]) -> set[str]:
        """The keys (`DeliveryLine.key`) of those lines the ledger already holds."""
        ...

    def post(self, lines: Sequence[Any]) -> None:
        """Post the lines (one batch); after a transient error some may have been stored."""
        ...

    def close(self) -> None: ...


class LedgerClients(Protocol):
    def open(
        self, target: str, settings: dict[str, Any], credentials: dict[str, str]
    ) -> LedgerClient: ...


@dataclass(frozen=True)
class DeliveryConnection:
    """A stored connection: settings without secrets, whether credentials are set, health."""

    org_id: UUID
    target: str
    settings: dict[str, Any]
    credentials_set: bool
    configured_at: datetime
    configured_by: str
    health: dict[str, Any] | None = None


class DeliveryConnections(Protocol):
    """Connections per organisation and target; credentials are encrypted by the adapter and
    only ever leave it decrypted through `credentials`."""

    def save(
        self,
        org_id: UUID,
        target: str,
        settings: dict[str, Any],
        credentials: dict[str, str] | None,
        configured_by: str,
    ) -> DeliveryConnection: ...

    def get(self, org_id: UUID, target: str) -> DeliveryConnection:
        """Raises NotFound."""
        ...

    def credentials(self, org_id: UUID, target: str) -> dict[str, str]: ...

    def record_health(
        self, org_id: UUID, target: str, ok: bool, message: str, at: datetime,
        next_check_at: datetime, failures: int,
    ) -> None: ...

    def due_for_health(self, now: datetime) -> list[tuple[UUID, str]]:
        """Connections due for a health check, claimed for this caller (two overlapping health
        jobs never check one connection twice)."""
        ...

    def hold_delivery(self, run_id: UUID) -> AbstractContextManager[bool]:
        """A lock held while one worker posts a run's lines: True when this caller got it.
        Released when the holder ends, however it ends (a killed worker's session closes)."""
        ...

    def orphaned_deliveries(self, older_than_seconds: int) -> list[UUID]:
        """Runs whose delivery is pending or delivering, untouched that long, with no queued
        or running job (from guard rows written with the events, not a read model)."""
        ...

    def requeue_delivery(self, run_id: UUID) -> bool:
        """Queue the run's delivery job again; False when a job is already waiting for it."""
        ...


class DeliveryLineSource(Protocol):
    def lines(
        self, target: str, run: Any, claims: Iterable[dict[str, Any]], settings: Any
    ) -> list[Any]:
        """The run's vouchers as DeliveryLines, exactly as its file books them (from the
        settings the file was built from, not today's)."""
        ...
