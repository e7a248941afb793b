"""The run backbone: what every kind of run (export run, sync run, Bufdir export) shares.

- ownership: a run of another organisation is NotFound, indistinguishable from no run;
- reads: the run now, after event `version`, or as it stood at `as_of`; its recorded events;
- system actors: who acted when no person did (worker, scheduler, sweep);
- retries: one policy (tenacity) for appends that lost a race to another writer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random

from application.ports import ClaimsTaken, ConcurrentChange, EventStore, NotFound, RecordedEvent
from domain.shared import Actor

#: The subjects recorded when the service itself acts.
WORKER = "system:worker"
SCHEDULER = "system:scheduler"
SYNC = "system:sync"


def system_actor(sub: str, org_id: UUID, why: str) -> Actor:
    """The service acting on its own (`why` is its correlation, e.g. `sweep:<run id>`)."""
    return Actor(sub, org_id, why)


F = TypeVar("F", bound=Callable[..., Any])


def retry_on_conflict(attempts: int = 3) -> Callable[[F], F]:
    """The one retry policy: run the whole read-decide-append again when another writer
    appended first (ConcurrentChange, or ClaimsTaken when claims were reserved meanwhile);
    after `attempts` the last refusal is raised. Each attempt must read afresh."""
    policy = retry(
        retry=retry_if_exception_type((ConcurrentChange, ClaimsTaken)),
        stop=stop_after_attempt(attempts),
        wait=wait_random(0, 0.05),
        reraise=True,
    )
    return policy  # type: ignore[return-value]


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


A = TypeVar("A", bound=Versioned)
K = TypeVar("K")


def owned(
    store: EventStore, kind: type[K], org_id: UUID, aggregate_id: UUID, version: int | None = None
) -> K:
    """The aggregate if it is a `kind` of this organisation; otherwise NotFound, which tells
    another organisation nothing (its ids look exactly like ids that do not exist)."""
    found = store.get(aggregate_id, version=version)
    if not isinstance(found, kind) or getattr(found, "org_id", None) != org_id:
        raise NotFound(aggregate_id)
    return found


def as_it_was(
    store: EventStore,
    aggregate_id: UUID,
    load: Callable[[int | None], A],
    version: int | None = None,
    as_of: datetime | None = None,
) -> A:
    """The aggregate now, after event `version`, or as it stood at `as_of`.

    `load(None)` gives the latest state (and checks the organisation); a version past the last
    event or a moment before the first is NotFound, never an error of the server.
    """
    latest = load(None)
    if as_of is not None:
        seen = [e.version for e in store.history(aggregate_id) if e.timestamp <= as_of]
        if not seen:
            raise NotFound(aggregate_id)  # it did not exist yet
        version = max(seen) if version is None else min(version, max(seen))
    if version is None or version == latest.version:
        return latest
    if version > latest.version:
        raise NotFound(aggregate_id)
    return load(version)


R = TypeVar("R", bound=Versioned)


class RunReads(Generic[R]):
    """Reads every run service shares; a subclass names its aggregate class in `kind`."""

    kind: type[R]
    store: EventStore

    def get(self, org_id: UUID, run_id: UUID, version: int | None = None) -> R:
        return owned(self.store, self.kind, org_id, run_id, version)

    def as_it_was(
        self,
        org_id: UUID,
        run_id: UUID,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> R:
        """The run now, after event `version`, or as it stood at `as_of`."""
        return as_it_was(
            self.store, run_id, lambda v: self.get(org_id, run_id, v), version, as_of
        )

    def events(self, org_id: UUID, run_id: UUID) -> list[RecordedEvent]:
        """The run's recorded events in order; NotFound unless it is this organisation's."""
        self.get(org_id, run_id)
        return self.store.history(run_id)
