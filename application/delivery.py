"""Delivery by API: connections per organisation and target, posting a completed run's lines
exactly once, and health checks that never exhaust the vendors' rate limits.

Exactly once rests on three things: one worker at a time per run (`hold_delivery`), reading
back what the ledger already holds before posting anything (a crash between a POST and its
`LinesPosted` event leaves lines that the next attempt finds), and never retrying a POST
blindly (a transient error is followed by a read-back of the batch, then only the missing
lines are posted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from application.ports import (
    Clock,
    CredentialsRefused,
    CredentialsUnavailable,
    DeliveryConnection,
    DeliveryConnections,
    DeliveryLineSource,
    DeliveryRefused,
    DeliveryUnavailable,
    EventStore,
    Job,
    LedgerClient,
    LedgerClients,
    NotFound,
    RecordedEvent,
)
from application.runs import owned, system_actor
from application.task_names import DELIVER_EXPORT_RUN as DELIVER_TASK
from domain.delivery import (
    DeliveryLine,
    DeliveryStatus,
    InvalidConnection,
    next_health_check,
    validate_connection,
    validate_credentials,
)
from domain.export_run import ExportRun, claim_rows
from domain.shared import Actor
from domain.vouchers import ExportRefused

log = logging.getLogger(__name__)

SYSTEM_SUB = "system:delivery"
T = TypeVar("T")


class AmbiguousLines(ExportRefused):
    """Two lines of a run cannot be told apart when read back: posting could not be exactly
    once, so nothing is posted."""

    def __init__(self, count: int) -> None:
        super().__init__("ambiguous_lines", "two lines of the run cannot be told apart")
        self.count = count


def delivery_in_history(history: Iterable[RecordedEvent]) -> dict[str, Any] | None:
    """What an auditor reads about a run's delivery: each attempt and the key of every line
    posted (document|reference|account|amount), from the event log; None without delivery."""
    events = [e for e in history if e.type.startswith("Delivery") or e.type == "LinesPosted"]
    if not events:
        return None
    status = None
    for e in events:
        status = {"DeliveryQueued": "pending", "DeliveryStarted": "delivering",
                  "DeliveryCompleted": "delivered", "DeliveryFailed": "failed",
                  "DeliveryRetryRequested": "pending"}.get(e.type, status)
    return {
        "status": status,
        "events": [{"version": e.version, "type": e.type, "timestamp": e.timestamp.isoformat(),
                    "data": {k: v for k, v in e.data.items() if k != "keys"}} for e in events],
        "lines_posted": [k for e in events if e.type == "LinesPosted" for k in e.data["keys"]],
    }


@dataclass(frozen=True)
class RetryPolicy:
    """Transient failures: exponential backoff with jitter, never shorter than Retry-After."""

    attempts: int = 8
    initial_seconds: float = 0.5
    max_seconds: float = 60.0
    retry_after_cap_seconds: float = 300.0

    def retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception_type(DeliveryUnavailable),
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            reraise=True,
        )

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_exponential_jitter(initial=self.initial_seconds, max=self.max_seconds)(state)
        error = state.outcome.exception() if state.outcome else None
        after = getattr(error, "retry_after", None)
        if after is None:
            return float(backoff)
        return max(float(backoff), min(float(after), self.retry_after_cap_seconds))


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Deliveries:
    def __init__(
        self,
        store: EventStore,
        connections: DeliveryConnections,
        clients: LedgerClients,
        line_source: DeliveryLineSource,
        clock: Clock,
        settings_of: Callable[[UUID, datetime | None], Any],
        allowed_hosts: Iterable[str],
        retry: RetryPolicy | None = None,
        batch_size: int = 100,
        observe: Callable[[str, str, int], None] | None = None,
    ) -> None:
        self.store = store
        self.connections = connections
        self.clients = clients
        self.line_source = line_source
        self.clock = clock
        self.settings_of = settings_of
        self.allowed_hosts = list(allowed_hosts)
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.observe = observe or (lambda target, outcome, n: None)

    # Connections.

    def configure(
        self, org_id: UUID, target: str, values: dict[str, Any], actor: Actor
    ) -> DeliveryConnection:
        """Validate (allow-list first: nothing is contacted outside it), check the connection
        with the credentials given or stored, then store; refused credentials name the field."""
        settings = validate_connection(target, values, self.allowed_hosts)
        given = values.get("credentials")
        new: dict[str, str] | None = None
        if given is not None:
            new = validate_credentials(target, given)
            credentials = new
        else:
            try:
                credentials = self.connections.credentials(org_id, target)
            except NotFound:
                raise InvalidConnection("credentials", "are required: none are stored") from None
        if settings["enabled"]:
            self._check_when_saving(target, settings, credentials)
        self.connections.save(org_id, target, settings, new, actor.sub)
        if settings["enabled"]:
            now = self.clock.now()
            self.connections.record_health(
                org_id, target, True, "checked when saved", now, next_health_check(now, True, 0), 0
            )
        return self.connections.get(org_id, target)

    def _check_when_saving(
        self, target: str, settings: dict[str, Any], credentials: dict[str, str]
    ) -> None:
        client = self.clients.open(target, settings, credentials)
        try:
            client.check()
        except CredentialsRefused as refused:
            raise InvalidConnection("credentials", f"were refused: {refused}") from None
        except DeliveryRefused as refused:
            field = getattr(refused, "field", None) or "endpoint"
            raise InvalidConnection(field, f"was refused: {refused}") from None
        except DeliveryUnavailable as down:
            raise InvalidConnection("endpoint", f"could not be reached: {down}") from None
        finally:
            client.close()

    def connection(self, org_id: UUID, target: str) -> DeliveryConnection:
        return self.connections.get(org_id, target)

    def job_for(self, org_id: UUID, target: str, run_id: UUID) -> Job | None:
        """The delivery job for a run that just completed, when its target is enabled."""
        try:
            enabled = bool(self.connections.get(org_id, target).settings.get("enabled"))
        except NotFound:
            return None
        return Job(DELIVER_TASK, {"run_id": str(run_id)}) if enabled else None

    # Health: lightweight, at most every 15 minutes per connection, backing off after failures.

    def check_due(self) -> int:
        due = self.connections.due_for_health(self.clock.now())
        for org_id, target in due:
            self.check_health(org_id, target)
        return len(due)

    def check_health(self, org_id: UUID, target: str) -> bool:
        conn = self.connections.get(org_id, target)
        ok, message = True, "ok"
        try:
            client = self.clients.open(target, conn.settings, self.connections.credentials(org_id, target))
            try:
                client.check()
            finally:
                client.close()
        except (DeliveryRefused, DeliveryUnavailable) as error:
            ok, message = False, f"{type(error).__name__}: {error}"
        self._record_health(conn, ok, message)
        return ok

    def _record_health(self, conn: DeliveryConnection, ok: bool, message: str) -> None:
        now = self.clock.now()
        failures = 0 if ok else int((conn.health or {}).get("failures") or 0) + 1
        self.connections.record_health(
            conn.org_id, conn.target, ok, message, now, next_health_check(now, ok, failures),
            failures,
        )

    # Posting a run.

    def retry_failed(self, org_id: UUID, run_id: UUID, actor: Actor) -> ExportRun:
        """Queue a failed delivery again; it resumes by reading what the ledger holds."""
        run = owned(self.store, ExportRun, org_id, run_id)
        run.retry_delivery(actor)
        self.store.save(run, jobs=[Job(DELIVER_TASK, {"run_id": str(run.id)})])
        return run

    def requeue_orphaned(self, older_than_seconds: int) -> list[UUID]:
        """The sweep: a delivery left pending or delivering with no live job (its job failed
        for good, or was lost) is queued again, once; it resumes by reading the ledger."""
        requeued = [run_id for run_id in self.connections.orphaned_deliveries(older_than_seconds)
                    if self.connections.requeue_delivery(run_id)]
        if requeued:
            log.warning("queued %d orphaned deliveries again", len(requeued))
        return requeued

    def deliver(self, run_id: UUID) -> None:
        """Post the run's missing lines; safe to run again and from several workers at once."""
        with self.connections.hold_delivery(run_id) as held:
            if not held:
                log.info("delivery of run %s is being posted by another worker", run_id)
                return
            run = self.store.get(run_id)
            if not isinstance(run, ExportRun) or run.delivery_status not in (
                DeliveryStatus.PENDING, DeliveryStatus.DELIVERING,
            ):
                return
            self._deliver(run)

    def _deliver(self, run: ExportRun) -> None:
        """Lines first (they need no connection), so every failure knows how many lines the
        run holds: a scheduled sync counts lines, never claims."""
        actor = system_actor(SYSTEM_SUB, run.org_id, f"delivery:{run.id}")
        target = run.target.value
        try:
            lines = self._lines(run)
        except ExportRefused as refused:
            count = refused.count if isinstance(refused, AmbiguousLines) else None
            self._fail(run, refused.code, str(refused), actor, None, count)
            return
        try:
            conn = self.connections.get(run.org_id, target)
            if not conn.settings.get("enabled"):
                raise DeliveryRefused(f"delivery to {target} is disabled for this organisation")
            credentials = self.connections.credentials(run.org_id, target)
        except NotFound:
            self._fail(run, "not_configured", f"no {target} connection is stored", actor, None,
                       len(lines))
            return
        except CredentialsUnavailable as problem:
            self._fail(run, "credentials_unavailable", str(problem), actor, None, len(lines))
            return
        except DeliveryRefused as refused:
            self._fail(run, refused.code, str(refused), actor, None, len(lines))
            return
        client = self.clients.open(target, conn.settings, credentials)
        try:
            self._post_all(run, client, lines, actor)
        except (DeliveryRefused, DeliveryUnavailable) as error:
            code = getattr(error, "code", "unavailable")
            self._fail(run, code, str(error), actor, conn, len(lines))
            return
        finally:
            client.close()
        self._record_health(conn, True, "delivery succeeded")

    def _lines(self, run: ExportRun) -> list[DeliveryLine]:
        """The lines of the run's file: its claims booked with the settings as they stood when
        the file was written, so a retry after a settings change posts no different line."""
        claims: list[dict[str, Any]] = []
        written_at = None
        for e in self.store.stream(run.id):
            if isinstance(e, ExportRun.ClaimsTaken):  # type: ignore[attr-defined]
                claims.extend(claim_rows(e.claims))
            elif isinstance(e, ExportRun.Completed):  # type: ignore[attr-defined]
                written_at = e.timestamp
        settings = self.settings_of(run.org_id, written_at)
        lines: list[DeliveryLine] = self.line_source.lines(run.target.value, run, claims, settings)
        if len({line.key for line in lines}) != len(lines):
            raise AmbiguousLines(len(lines))
        return lines

    def _post_all(
        self, run: ExportRun, client: LedgerClient, lines: list[DeliveryLine], actor: Actor
    ) -> None:
        present = self._with_retry(lambda: client.present(lines))
        run.start_delivery(len(lines), len(present), actor)
        self.store.save(run)
        todo = [line for line in lines if line.key not in present]
        for number, batch in enumerate(batches(todo, self.batch_size), start=1):
            self._post_batch(client, batch)
            run.record_lines_posted(number, [line.key for line in batch], actor)
            self.store.save(run)
            self.observe(run.target.value, "posted", len(batch))
        run.complete_delivery(self.clock.now().isoformat(), actor)
        self.store.save(run)
        self.observe(run.target.value, "delivered", 1)

    def _post_batch(self, client: LedgerClient, batch: Sequence[DeliveryLine]) -> None:
        """First attempt posts the batch; every retry first reads which of its lines arrived
        (a dropped connection may follow a stored line) and posts only the others."""
        for attempt in self.retry.retrying():
            with attempt:
                todo = batch
                if attempt.retry_state.attempt_number > 1:
                    arrived = client.present(batch)
                    todo = [line for line in batch if line.key not in arrived]
                if todo:
                    client.post(todo)

    def _with_retry(self, call: Callable[[], T]) -> T:
        for attempt in self.retry.retrying():
            with attempt:
                return call()
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _fail(
        self, run: ExportRun, code: str, message: str, actor: Actor,
        conn: DeliveryConnection | None, lines_total: int | None = None,
    ) -> None:
        """A refusal or exhausted retries: the run says so, and (passive detection) the
        connection is marked unhealthy until its next check succeeds."""
        log.warning("delivery of run %s failed: %s", run.id, code)
        run.fail_delivery(code, message, actor, lines_total)
        self.store.save(run)
        self.observe(run.target.value, "failed", 1)
        if conn is not None:
            self._record_health(conn, False, f"delivery of a run failed: {message}")
