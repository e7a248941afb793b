"""Group commit's queue, in one process: the appends that arrive while the writers are busy
wait, and the next free writer writes them all as one group (infrastructure/recorder.py writes
a group in one transaction)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import StoredEvent

from application.ports import DatabaseUnavailable

#: At most this many appends in one group: each is a subtransaction, and PostgreSQL keeps up to
#: 64 of a transaction's subtransactions in shared memory before other sessions' snapshots
#: slow down.
MAX_GROUP = 48
#: Groups of one process on their way to the server at once.
MAX_WRITERS = 2


def _held() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False)
class Append:
    """One caller's append waiting in the queue, and what became of it."""

    events: Sequence[StoredEvent]
    kwargs: dict[str, Any]
    #: Held while the caller waits; released once, by whoever wakes it (a bare lock: a
    #: threading.Event costs a Condition and an RLock per append).
    woken: threading.Lock = field(default_factory=_held)
    done: bool = False
    ids: list[int] | None = None
    error: BaseException | None = None
    #: Set when this append is woken to lead: the group it writes (itself first).
    group: list[Append] | None = None

    def outcome(self) -> list[int]:
        if self.error is not None:
            raise self.error
        assert self.ids is not None, "an append left its group without an outcome"
        return self.ids


class AppendQueue:
    """Leaders and followers: an append that finds a writer free writes at once; those arriving
    while every writer is on its way wait, and when a writer comes back it hands all that waited
    (up to MAX_GROUP) to the first of them, who writes them as one group.

    Up to `writers` groups are on their way at once: while one holds the events table's lock
    and waits for its commit to be flushed, the next runs its guards and jobs."""

    def __init__(self, write: Any, writers: int = MAX_WRITERS) -> None:
        self.write = write  # Callable[[list[Append]], None]: sets each one's ids or error
        self.writers = writers
        self.lock = threading.Lock()
        self.waiting: list[Append] = []
        self.writing = 0

    def submit(self, append: Append) -> list[int]:
        with self.lock:
            if self.writing < self.writers:
                self.writing += 1  # nobody waits while a writer is free
                group: list[Append] | None = [append]
            else:
                self.waiting.append(append)
                group = None
        if group is None:
            append.woken.acquire()  # released when written, or when handed a group to write
            if append.done:
                return append.outcome()
            group = append.group
            assert group is not None
        self._lead(group)
        return append.outcome()

    def _lead(self, group: list[Append]) -> None:
        try:
            self.write(group)
        except BaseException as error:
            for append in group:
                if append.ids is None and append.error is None:
                    append.error = error
        finally:
            with self.lock:
                if any(isinstance(a.error, DatabaseUnavailable) for a in group):
                    for waiting in self.waiting:  # they would each wait for the pool again
                        waiting.error = next(a.error for a in group if a.error is not None)
                        waiting.done = True
                        waiting.woken.release()
                    self.waiting.clear()
                if self.waiting:  # this writer's turn passes to the first who waited
                    following = self.waiting[:MAX_GROUP]
                    del self.waiting[:MAX_GROUP]
                    following[0].group = following
                    following[0].woken.release()
                else:
                    self.writing -= 1
            group[0].done = True  # the leader, who is here, not waiting
            for append in group[1:]:
                append.done = True
                append.woken.release()
