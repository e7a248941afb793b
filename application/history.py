"""Point-in-time reads of an aggregate, shared by every kind of run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from application.ports import EventStore, NotFound, RecordedEvent


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


class RunHistory:
    """The recorded events of one run of any kind, for its organisation only."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def events(self, org_id: UUID, kind: type, aggregate_id: UUID) -> list[RecordedEvent]:
        """NotFound unless the id is a `kind` of this organisation."""
        owned(self.store, kind, org_id, aggregate_id)
        return self.store.history(aggregate_id)
