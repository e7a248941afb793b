"""The append queue of one process: how many groups are on their way at once, who writes what
waited, and that an unreachable database fails the waiting appends at once."""

from __future__ import annotations

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
