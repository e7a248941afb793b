"""The append queue of one process: how many groups are on their way at once, who writes what
waited, and that an unreachable database fails the waiting appends at once."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from application.ports import DatabaseUnavailable
from infrastructure.append_queue import Append, AppendQueue


class Writes:
    """A `write` that holds each call until released, and records the groups it got."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.groups: list[list[Append]] = []
        self.release = threading.Event()
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, group: list[Append]) -> None:
        with self.lock:
            self.groups.append(group)
            index = len(self.groups)
        self.release.wait(10)
        if self.fail is not None:
            raise self.fail
        for number, append in enumerate(group):
            append.ids = [index * 100 + number]


def until(condition: Any) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def submit(pool: ThreadPoolExecutor, queue: AppendQueue) -> Future[list[int]]:
    return pool.submit(queue.submit, Append([], {}))


def test_two_writers_at_once_and_what_waited_goes_as_one_group() -> None:
    writes = Writes()
    queue = AppendQueue(writes, writers=2)
    with ThreadPoolExecutor(6) as pool:
        first, second = submit(pool, queue), submit(pool, queue)
        until(lambda: len(writes.groups) == 2)
        rest = [submit(pool, queue) for _ in range(4)]
        until(lambda: len(queue.waiting) == 4)
        writes.release.set()
        answers = [f.result(10) for f in (first, second, *rest)]
    assert [len(g) for g in writes.groups] == [1, 1, 4]
    assert len({a[0] for a in answers}) == 6  # each its own outcome
    assert queue.writing == 0 and not queue.waiting


@pytest.mark.parametrize(("failure", "groups"), [
    # the ones that waited would each wait for the pool again: they fail without being written
    (DatabaseUnavailable("no database connection within the wait"), [1]),
    # any other failure is the first group's own: the ones that waited are written next
    (RuntimeError("refused"), [1, 3]),
])
def test_after_a_failed_write_the_waiting_appends_fail_at_once_only_when_the_database_is_gone(
        failure: BaseException, groups: list[int]) -> None:
    writes = Writes(fail=failure)
    queue = AppendQueue(writes, writers=1)
    with ThreadPoolExecutor(4) as pool:
        first = submit(pool, queue)
        until(lambda: len(writes.groups) == 1)
        rest = [submit(pool, queue) for _ in range(3)]
        until(lambda: len(queue.waiting) == 3)
        writes.release.set()
        for future in (first, *rest):
            with pytest.raises(type(failure)):
                future.result(10)
    assert [len(g) for g in writes.groups] == groups
    assert queue.writing == 0 and not queue.waiting


class HeldWrites:
    """A `write` whose calls each wait for their own release, and that records who wrote what."""

    def __init__(self) -> None:
        self.groups: list[list[Append]] = []
        self.writers: list[int] = []
        self.releases: list[threading.Event] = []
        self.lock = threading.Lock()

    def __call__(self, group: list[Append]) -> None:
        release = threading.Event()
        with self.lock:
            self.groups.append(group)
            self.writers.append(threading.get_ident())
            self.releases.append(release)
        release.wait(10)
        for append in group:
            append.ids = [id(append)]


def first_written_while_the_second_is_on_its_way(
    queue: AppendQueue, writes: HeldWrites, first_caller: ThreadPoolExecutor,
    others: ThreadPoolExecutor,
) -> Future[list[int]]:
    """The first caller's group is written; the second's (returned) is still on its way."""
    first = first_caller.submit(queue.submit, Append([], {}))
    until(lambda: len(writes.groups) == 1)
    second = others.submit(queue.submit, Append([], {}))
    until(lambda: len(writes.groups) == 2)
    writes.releases[0].set()
    first.result(10)
    return second


def test_a_free_writer_waits_for_the_callers_of_the_group_just_written_while_another_is_on_its_way(
) -> None:
    """The caller who comes back last writes what waited, its own append among them, at once."""
    writes = HeldWrites()
    queue = AppendQueue(writes, writers=2, linger=30.0)  # only the caller's return ends it
    with ThreadPoolExecutor(1) as first_caller, ThreadPoolExecutor(2) as others:
        second = first_written_while_the_second_is_on_its_way(queue, writes, first_caller, others)
        waiting = others.submit(queue.submit, Append([], {}))
        until(lambda: queue.forming is not None)
        time.sleep(0.05)
        assert len(writes.groups) == 2  # a writer is free, and yet it waits
        again = first_caller.submit(queue.submit, Append([], {}))  # the first caller is back
        until(lambda: len(writes.groups) == 3)
        assert len(writes.groups[2]) == 2  # what waited and the returning caller's, together
        assert writes.writers[2] == writes.writers[0]  # written by the caller who came back
        for release in writes.releases:
            release.set()
        for future in (second, waiting, again):
            assert future.result(10)
    assert queue.writing == 0 and not queue.waiting and queue.forming is None


def test_the_wait_for_callers_who_do_not_come_back_ends_after_the_linger() -> None:
    writes = HeldWrites()
    queue = AppendQueue(writes, writers=2, linger=0.2)
    with ThreadPoolExecutor(1) as first_caller, ThreadPoolExecutor(2) as others:
        second = first_written_while_the_second_is_on_its_way(queue, writes, first_caller, others)
        started = time.monotonic()
        waiting = others.submit(queue.submit, Append([], {}))
        until(lambda: len(writes.groups) == 3)  # the first caller never appends again
        assert time.monotonic() - started >= 0.2
        for release in writes.releases:
            release.set()
        assert waiting.result(10) and second.result(10)
    assert queue.writing == 0 and not queue.waiting and queue.forming is None


def test_nothing_waits_for_returning_callers_when_no_other_group_is_on_its_way() -> None:
    writes = HeldWrites()
    queue = AppendQueue(writes, writers=2, linger=30.0)
    with ThreadPoolExecutor(1) as first_caller, ThreadPoolExecutor(1) as other:
        first = first_caller.submit(queue.submit, Append([], {}))
        until(lambda: len(writes.groups) == 1)
        writes.releases[0].set()
        first.result(10)
        later = other.submit(queue.submit, Append([], {}))  # the first caller has not come back
        until(lambda: len(writes.groups) == 2)  # within `until`'s 10 s, not the linger's 30
        writes.releases[1].set()
        assert later.result(10)


class OwnedLock:
    """The queue's lock, knowing which thread holds it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owner: int | None = None

    def __enter__(self) -> None:
        self.lock.acquire()
        self.owner = threading.get_ident()

    def __exit__(self, *exc: object) -> None:
        self.owner = None
        self.lock.release()


class Wakeup:
    """An append's wake-up lock, counting the wake-ups sent by a thread holding the queue's
    lock (the woken caller would only wake to wait for it)."""

    def __init__(self, queue_lock: OwnedLock, under_lock: list[int]) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.queue_lock = queue_lock
        self.under_lock = under_lock

    def acquire(self, timeout: float = -1) -> bool:
        return self.lock.acquire(timeout=timeout)

    def release(self) -> None:
        if self.queue_lock.owner == threading.get_ident():
            self.under_lock.append(1)
        self.lock.release()


@pytest.mark.parametrize("linger", [0.0, 0.0005])
def test_many_callers_appending_again_and_again_each_get_their_own_outcome(linger: float) -> None:
    """Eight callers, 300 appends each, writes of random length: none is lost or woken twice,
    and none is woken by a thread that still holds the queue's lock."""
    rng = random.Random(7)

    def write(group: list[Append]) -> None:
        time.sleep(rng.random() * 0.002)
        for append in group:
            append.ids = [id(append)]

    queue = AppendQueue(write, writers=2, linger=linger)
    queue.lock = OwnedLock()  # type: ignore[assignment]
    under_lock: list[int] = []

    answered: list[int] = []

    def caller() -> None:
        for _ in range(300):
            append = Append([], {}, woken=Wakeup(queue.lock, under_lock))  # type: ignore[arg-type]
            assert queue.submit(append) == [id(append)]
            answered.append(1)
            if rng.random() < 0.1:
                time.sleep(0.001)  # a caller busy with something else for a while

    callers = [threading.Thread(target=caller, daemon=True) for _ in range(8)]
    for thread in callers:
        thread.start()
    deadline = time.monotonic() + 30
    for thread in callers:  # a caller never woken stays behind (daemon: it holds nothing up)
        thread.join(max(0.0, deadline - time.monotonic()))
    assert len(answered) == 2400
    assert queue.writing == 0 and not queue.waiting and queue.forming is None
    assert under_lock == []
