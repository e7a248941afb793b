"""ExportRun: one accounting export of an organisation's approved claims for a period."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.delivery import DELIVERY, DeliveryStatus
from domain.shared import Actor, DomainError, Lifecycle, Period, TransitionNotAllowed, new_id
from domain.vouchers import ledger_ref


class ExportTarget(str, Enum):
    XLEDGER = "xledger"
    DYNAMICS = "dynamics"


class ExportRunStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


S = ExportRunStatus

LIFECYCLE = Lifecycle(
    "ExportRun",
    ExportRunStatus,
    [
        ("start", S.PENDING, S.RUNNING),
        ("complete", S.RUNNING, S.COMPLETED),
        ("fail", S.RUNNING, S.FAILED),
    ],
)

#: Statuses that hold a period (and the claims taken) against other runs.
ACTIVE_STATUSES = frozenset({S.PENDING, S.RUNNING, S.COMPLETED})
#: Statuses a run ends in.
ENDED = frozenset({S.COMPLETED, S.FAILED})


#: Claims per `ClaimsTaken` event: a big run is several events appended in the same save.
CLAIMS_PER_EVENT = 5000
#: The columns of a taken claim, as `ClaimRecord.as_event_data()` writes them.
CLAIM_FIELDS = (
    "claim_id", "claimant_id", "expense_date", "approved_at", "category", "amount", "currency",
    "description", "late", "amount_nok", "ledger_ref",
)
_REPEATING = frozenset({"claimant_id", "expense_date", "category", "currency"})


def claim_columns(claims: Iterable[dict[str, Any]]) -> Iterator[dict[str, list[Any]]]:
    """Claims as parallel lists, at most CLAIMS_PER_EVENT per batch: compact in memory and in
    the event (field names once per batch, not once per claim)."""
    batch: dict[str, list[Any]] = {f: [] for f in CLAIM_FIELDS}
    for claim in claims:
        for f in CLAIM_FIELDS:
            value = claim.get(f)
            batch[f].append(sys.intern(value) if f in _REPEATING and isinstance(value, str) else value)
        if len(batch["claim_id"]) == CLAIMS_PER_EVENT:
            yield batch
            batch = {f: [] for f in CLAIM_FIELDS}
    if batch["claim_id"]:
        yield batch


def taken_batch(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """One batch from the source's parallel lists (every field of CLAIM_FIELDS but
    `ledger_ref`, in event form): the same batch `claim_columns` builds from the claims one by
    one, without a dict per claim. Each claim's ledger reference is computed here."""
    if len(columns["claim_id"]) > CLAIMS_PER_EVENT:
        raise ValueError(f"a batch holds at most {CLAIMS_PER_EVENT} claims")
    batch: dict[str, list[Any]] = {f: list(columns[f]) for f in CLAIM_FIELDS[:-1]}
    for f in _REPEATING:
        batch[f] = _interned(batch[f])
    batch["ledger_ref"] = list(map(ledger_ref, batch["claim_id"]))
    return batch


def _interned(values: list[Any]) -> list[Any]:
    """Repeating text (claimant, day, category, currency) held once, however many claims."""
    try:
        return list(map(sys.intern, values))  # every value text (the source's NOT NULL columns)
    except TypeError:
        return [sys.intern(v) if isinstance(v, str) else v for v in values]


def claim_rows(columns: dict[str, list[Any]]) -> Iterator[dict[str, Any]]:
    """The claims of one `ClaimsTaken` event, one dict each, in the order they were taken.
    Events written before a field existed (`amount_nok`) read it as None."""
    count = len(columns["claim_id"])
    for values in zip(*(columns.get(f) or [None] * count for f in CLAIM_FIELDS), strict=True):
        yield dict(zip(CLAIM_FIELDS, values, strict=True))


class ClaimBatches:
    """Claims in batches of parallel lists (as `ClaimsTaken` events hold them): re-iterable one
    dict per claim, in order; a writer with a way of its own may read `batches` column by
    column instead (a file of 100 000 claims then builds no dict per claim)."""

    def __init__(self, batches: Sequence[dict[str, list[Any]]]) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.batches:
            yield from claim_rows(batch)


def taken_claims(events: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Every claim a run took, in order, from its `ClaimsTaken` events."""
    for e in events:
        if isinstance(e, ExportRun.ClaimsTaken):  # type: ignore[attr-defined]
            yield from claim_rows(e.claims)


class RunAlreadyExists(DomainError):
    """Another active run of the organisation covers an overlapping period."""

    code = "duplicate"

    def __init__(self, existing_run_id: UUID | None) -> None:
        super().__init__("an active export run with an overlapping period already exists")
        self.existing_run_id = existing_run_id


class ExportRun(Aggregate):
    """The history of one export run; its status is whatever its events say."""

    create_id = staticmethod(new_id)

    class Requested(Aggregate.Created):
        """v2 added `requested_via` (how the run was asked for); v1 events were all "api"."""

        org_id: UUID
        period_start: date
        period_end: date
        target: str
        actor: dict[str, str]
        requested_via: str

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["requested_via"] = "api"

    @event("Requested")
    def __init__(
        self,
        org_id: UUID,
        period_start: date,
        period_end: date,
        target: str,
        actor: dict[str, str],
        requested_via: str = "api",
    ) -> None:
        self.org_id = org_id
        self.period_start = period_start
        self.period_end = period_end
        self.target = ExportTarget(target)
        self.status = S.PENDING
        self.record_count = 0
        self.file: dict[str, Any] | None = None
        self.error: dict[str, str] | None = None
        self.requested_by = actor
        self.requested_via = requested_via
        #: Posting by API (domain/delivery.py), None unless the organisation has it enabled.
        self.delivery: dict[str, Any] | None = None
        #: When the run completed or failed (delivery events come later and move `modified_on`).
        self.ended_on: datetime | None = None

    @classmethod
    def request(
        cls, org_id: UUID, period: Period, target: ExportTarget, actor: Actor
    ) -> ExportRun:
        """Straight to the Requested event, as SyncRun.start does: calling the class matches
        the arguments to `__init__`'s signature by inspection first (2 of an append's 80 µs
        of Python in a warm loop)."""
        return cls._create(
            cls.Requested,
            org_id=org_id,
            period_start=period.start,
            period_end=period.end,
            target=target.value,
            actor=actor.as_event_data(),
            requested_via="api",
        )

    @property
    def period(self) -> Period:
        return Period(self.period_start, self.period_end)

    # Commands: consult the lifecycle table, then record the event.

    def start(self, claims: Iterable[dict[str, Any]], actor: Actor) -> None:
        """Record which claims this run takes, with their amounts; from here on they belong to
        it. `Started` holds the count, then one `ClaimsTaken` per batch: all in one save."""
        self.take(list(claim_columns(claims)), actor)

    def take(self, batches: Sequence[dict[str, list[Any]]], actor: Actor) -> None:
        """`start` with the claims already in batches (`claim_columns`, `taken_batch`)."""
        LIFECYCLE.target("start", self.status)
        count = sum(len(b["claim_id"]) for b in batches)
        self._started(record_count=count, actor=actor.as_event_data())
        for number, batch in enumerate(batches, start=1):
            self._claims_taken(batch=number, claims=batch, actor=actor.as_event_data())

    def complete(self, file: dict[str, Any], actor: Actor) -> None:
        LIFECYCLE.target("complete", self.status)
        self._completed(record_count=self.record_count, file=file, actor=actor.as_event_data())

    def fail(self, code: str, message: str, actor: Actor) -> None:
        """End the run without export; its period and claims become free again."""
        LIFECYCLE.target("fail", self.status)
        self._failed(code=code, message=message, actor=actor.as_event_data())

    # Events: bodies only apply facts, they are re-run on every replay.

    @event("Started")
    def _started(self, record_count: int, actor: dict[str, str]) -> None:
        self.status = S.RUNNING
        self.record_count = record_count

    @event("ClaimsTaken")
    def _claims_taken(self, batch: int, claims: dict[str, list[Any]], actor: dict[str, str]) -> None:
        """The facts are the event itself (read by `taken_claims`); the state keeps none."""

    @event("Completed")
    def _completed(self, record_count: int, file: dict[str, Any], actor: dict[str, str]) -> None:
        self.status = S.COMPLETED
        self.record_count = record_count
        self.file = file

    @event("Failed")
    def _failed(self, code: str, message: str, actor: dict[str, str]) -> None:
        self.status = S.FAILED
        self.error = {"code": code, "message": message}

    @property
    def modified_on(self) -> datetime:
        return self._modified_on

    @modified_on.setter
    def modified_on(self, modified_on: datetime) -> None:
        """Set to each event's moment after the event applied: the first moment the run is
        completed or failed is when it ended (`ended_on`, what `completed_at` shows)."""
        self._modified_on = modified_on
        if getattr(self, "ended_on", None) is None and getattr(self, "status", None) in ENDED:
            self.ended_on = modified_on

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    # Delivery: a completed run's lines posted to the accounting system, each exactly once.

    @property
    def delivery_status(self) -> DeliveryStatus | None:
        return DeliveryStatus(self.delivery["status"]) if self.delivery else None

    def queue_delivery(self, actor: Actor) -> None:
        if self.status is not S.COMPLETED or self.delivery is not None:
            raise TransitionNotAllowed("ExportRun", "queue_delivery", self.status.value)
        self._delivery_queued(actor=actor.as_event_data())

    def start_delivery(self, lines_total: int, already_present: int, actor: Actor) -> None:
        """A first start or a resume after a crash; `already_present` lines were found in the
        ledger before posting anything (posted by an attempt that ended before recording it)."""
        status = self._delivery_or_refuse("start")
        command = "resume" if status is DeliveryStatus.DELIVERING else "start"
        DELIVERY.target(command, status)
        self._delivery_started(
            lines_total=lines_total, already_present=already_present, actor=actor.as_event_data()
        )

    def record_lines_posted(self, batch: int, keys: list[str], actor: Actor) -> None:
        DELIVERY.target("post", self._delivery_or_refuse("post"))
        self._lines_posted(batch=batch, count=len(keys), keys=keys, actor=actor.as_event_data())

    def complete_delivery(self, at: str, actor: Actor) -> None:
        DELIVERY.target("complete", self._delivery_or_refuse("complete"))
        self._delivery_completed(at=at, actor=actor.as_event_data())

    def fail_delivery(
        self, code: str, message: str, actor: Actor, lines_total: int | None = None
    ) -> None:
        DELIVERY.target("fail", self._delivery_or_refuse("fail"))
        self._delivery_failed(
            code=code, message=message[:2000], actor=actor.as_event_data(), lines_total=lines_total
        )

    def retry_delivery(self, actor: Actor) -> None:
        DELIVERY.target("retry", self._delivery_or_refuse("retry"))
        self._delivery_retry_requested(actor=actor.as_event_data())

    def _delivery_or_refuse(self, command: str) -> DeliveryStatus:
        status = self.delivery_status
        if status is None:
            raise TransitionNotAllowed("ExportRun", f"{command}_delivery", self.status.value)
        return status

    @event("DeliveryQueued")
    def _delivery_queued(self, actor: dict[str, str]) -> None:
        self.delivery = {
            "status": DeliveryStatus.PENDING.value, "attempts": 0, "lines_total": None,
            "lines_posted": 0, "last_error": None, "delivered_at": None,
        }

    @event("DeliveryStarted")
    def _delivery_started(self, lines_total: int, already_present: int, actor: dict[str, str]) -> None:
        assert self.delivery is not None
        self.delivery.update(
            status=DeliveryStatus.DELIVERING.value, attempts=self.delivery["attempts"] + 1,
            lines_total=lines_total, lines_posted=already_present,
        )

    @event("LinesPosted")
    def _lines_posted(self, batch: int, count: int, keys: list[str], actor: dict[str, str]) -> None:
        assert self.delivery is not None
        self.delivery["lines_posted"] += count

    @event("DeliveryCompleted")
    def _delivery_completed(self, at: str, actor: dict[str, str]) -> None:
        assert self.delivery is not None
        self.delivery.update(
            status=DeliveryStatus.DELIVERED.value, delivered_at=at, last_error=None,
            lines_posted=self.delivery["lines_total"],
        )

    @event("DeliveryFailed")
    def _delivery_failed(
        self, code: str, message: str, actor: dict[str, str], lines_total: int | None = None
    ) -> None:
        assert self.delivery is not None
        self.delivery.update(
            status=DeliveryStatus.FAILED.value, last_error={"code": code, "message": message}
        )
        if lines_total is not None:
            self.delivery["lines_total"] = lines_total

    @event("DeliveryRetryRequested")
    def _delivery_retry_requested(self, actor: dict[str, str]) -> None:
        assert self.delivery is not None
        self.delivery["status"] = DeliveryStatus.PENDING.value
