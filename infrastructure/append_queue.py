"""Group commit's queue, in one process: the appends that arrive while the writers are busy
wait, and the next free writer writes them all as one group (infrastructure/recorder.py writes
a group in one transaction)."""

from __future__ import annotations

import threading
import time
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


#: How long, at most, the appends waiting for a free writer wait for the callers of the group
#: just committed to append again, while another group is on its way (PostgreSQL's
#: commit_delay, for the appends of one process). Measured with 8 writers on 2 cores: without
#: it, 8 callers settle into three groups of two or three taking turns on the two writers; with
#: it, into two groups of about four.
LINGER_SECONDS = 0.0005


def _held() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False)
class Append:
    """One caller's append waiting in the queue, and what became of it."""

    events: Sequence[StoredEvent]
    kwargs: dict[str, Any]
    #: Held while the caller waits; released by `AppendQueue._signal`, never twice before the
    #: caller took it back (a bare lock: a threading.Event costs a Condition and an RLock per
    #: append).
    woken: threading.Lock = field(default_factory=_held)
    #: A wake-up sent and not yet taken.
    signalled: bool = False
    done: bool = False
    ids: list[int] | None = None
    error: BaseException | None = None
    #: Set when a writer's turn is handed to this append's caller: the group it writes
    #: (this append first).
    group: list[Append] | None = None
    #: Taken into a group (being written, or written).
    grouped: bool = False
    #: The caller's thread.
    caller: int = 0
    #: When set, the time at which this waiting append stops lingering and has the waiting
    #: appends written (by its own caller) if nobody has by then.
    linger_until: float = 0.0

    def outcome(self) -> list[int]:
        if self.error is not None:
            raise self.error
        assert self.ids is not None, "an append left its group without an outcome"
        return self.ids


def _wake(appends: list[Append]) -> None:
    """Wake the callers of `appends` (signalled under the queue's lock, woken outside it)."""
    for append in appends:
        append.woken.release()


class AppendQueue:
    """Leaders and followers: an append that finds a writer free writes at once; those arriving
    while every writer is on its way wait, and when a writer comes back it hands all that waited
    (up to MAX_GROUP) to the first of them, who writes them as one group.

    Up to `writers` groups are on their way at once: while one holds the events table's lock
    and waits for its commit to be flushed, the next runs its guards and jobs.

    While another group is on its way, a free writer first lingers (up to `linger` seconds) for
    the callers of the group last committed: the callers of a busy service append again, and
    the last of them to come back writes the waiting appends, its own among them, at once. When
    nobody else is on the way (a quiet service, a single caller) nothing waits."""

    def __init__(self, write: Any, writers: int = MAX_WRITERS,
                 linger: float = LINGER_SECONDS) -> None:
        self.write = write  # Callable[[list[Append]], None]: sets each one's ids or error
        self.writers = writers
        self.linger = linger
        self.lock = threading.Lock()
        self.waiting: list[Append] = []
        self.writing = 0
        #: The callers of the group last committed who have not appended again since.
        self.expected: set[int] = set()
        #: The waiting append that has the waiting ones written when the linger ends.
        self.forming: Append | None = None

    def submit(self, append: Append) -> list[int]:
        append.caller = threading.get_ident()
        wake: list[Append] = []
        with self.lock:
            self.expected.discard(append.caller)
            self.waiting.append(append)
            group = self._next_group(wake)
        _wake(wake)
        if group is None:
            group = self._wait(append)
        if group is not None:
            self._lead(group, append)
        return append.outcome()

    def _next_group(self, wake: list[Append]) -> list[Append] | None:
        """(Under the lock.) The waiting appends to write now, or None: every writer is busy,
        or a free one lingers for the callers expected back (the first waiting is then to be
        woken, into `wake`, to wait no longer than the linger)."""
        if not self.waiting or self.writing >= self.writers:
            return None
        if self.linger and self.writing and self.expected:
            if self.forming is None:
                self.forming = self.waiting[0]
                self.forming.linger_until = time.monotonic() + self.linger
                self._signal(self.forming, wake)
            return None
        group = self.waiting[:MAX_GROUP]
        del self.waiting[:MAX_GROUP]
        for append in group:
            append.grouped = True
        self.writing += 1
        self.forming = None
        return group

    def _signal(self, append: Append, wake: list[Append]) -> None:
        """(Under the lock.) Have the caller look at its append again: into `wake`, for
        whoever holds the lock to wake once they have let go of it (`_wake`). A caller woken
        while the lock is still held only wakes to wait for it, and is woken twice: with 8
        callers that cost from nothing measurable to a sixth of the rate (9 pairs by hand)."""
        if not append.signalled:
            append.signalled = True
            wake.append(append)

    def _wait(self, append: Append) -> list[Append] | None:
        """Until the append is written (None), or its caller is to write a group."""
        while True:
            timeout = -1.0
            if append.linger_until:
                timeout = max(0.0, append.linger_until - time.monotonic())
            woken = append.woken.acquire(timeout=timeout)
            wake: list[Append] = []
            with self.lock:
                if woken:  # else a signal may have come since: the next acquire takes it
                    append.signalled = False
                if append.done:
                    return None
                if append.group is not None:  # this writer's turn was handed over
                    return append.group
                if append.grouped:  # in a group another caller writes
                    append.linger_until = 0.0
                elif append.linger_until and time.monotonic() >= append.linger_until:
                    append.linger_until = 0.0
                    self.forming = None
                    self.expected.clear()  # waited long enough for them
                    group = self._next_group(wake)
                    if group is not None:  # (nobody to wake: a group is formed, not awaited)
                        return group
            _wake(wake)

    def _lead(self, group: list[Append], own: Append) -> None:
        """Write `group` (`own`, the caller's append, among them) and wake the others."""
        try:
            self.write(group)
        except BaseException as error:
            for append in group:
                if append.ids is None and append.error is None:
                    append.error = error
        finally:
            wake: list[Append] = []
            with self.lock:
                self.writing -= 1
                if any(isinstance(a.error, DatabaseUnavailable) for a in group):
                    for waiting in self.waiting:  # they would each wait for the pool again
                        waiting.error = next(a.error for a in group if a.error is not None)
                        waiting.done = True
                        self._signal(waiting, wake)
                    self.waiting.clear()
                    self.forming = None
                self.expected = {a.caller for a in group}
                following = self._next_group(wake)
                if following is not None:  # this writer's turn passes to the first who waited
                    following[0].group = following
                    self._signal(following[0], wake)
                for append in group:
                    append.done = True
                    if append is not own:  # the caller who wrote them is here, not waiting
                        self._signal(append, wake)
            _wake(wake)
