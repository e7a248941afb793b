"""When a worker over its memory limit stops to start afresh: only after it has run a job, and
only between jobs (or, when jobs never stop coming, after waiting a while for a gap)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from infrastructure.queue import RunningJobs
from interfaces import worker

LIMIT = 100.0


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "MEMORY_CHECK_SECONDS", 0.01)
    monkeypatch.setattr(worker, "RECYCLE_WAIT_SECONDS", 0.3)


def resident(monkeypatch: pytest.MonkeyPatch, mb: Callable[[], float | None]) -> None:
    monkeypatch.setattr(worker, "memory_mb", lambda field: mb())


def after_one_job() -> RunningJobs:
    """The counts of a process that has run one job and runs none now."""
    jobs = RunningJobs()
    with jobs:
        pass
    return jobs


def stops_within(jobs: RunningJobs, seconds: float) -> bool:
    async def watch() -> bool:
        try:
            await asyncio.wait_for(worker.over_memory(LIMIT, jobs), seconds)
        except TimeoutError:
            return False
        return True

    return asyncio.run(watch())


def test_a_worker_that_has_run_no_job_keeps_running_whatever_its_size(
        monkeypatch: pytest.MonkeyPatch) -> None:
    resident(monkeypatch, lambda: 10 * LIMIT)
    assert not stops_within(RunningJobs(), 0.2)


def test_under_the_limit_it_keeps_running(monkeypatch: pytest.MonkeyPatch) -> None:
    resident(monkeypatch, lambda: LIMIT)
    jobs = after_one_job()
    assert not stops_within(jobs, 0.2)


def test_over_the_limit_after_a_job_it_stops_once_no_job_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    resident(monkeypatch, lambda: LIMIT + 1)
    jobs = after_one_job()
    assert jobs.running == 0 and jobs.finished == 1
    assert stops_within(jobs, 0.2)


def test_a_running_job_is_waited_for_then_a_gap_is_taken(
        monkeypatch: pytest.MonkeyPatch) -> None:
    resident(monkeypatch, lambda: LIMIT + 1)
    jobs = after_one_job()
    jobs.__enter__()  # a second job is running

    async def watch() -> float:
        loop = asyncio.get_running_loop()
        loop.call_later(0.1, jobs.__exit__, None, None, None)  # it ends after 0.1 s
        started = loop.time()
        await worker.over_memory(LIMIT, jobs)
        return loop.time() - started

    waited = asyncio.run(watch())
    assert 0.1 <= waited < 0.3  # not before the job ended, and not the whole wait either


def test_jobs_that_never_leave_a_gap_are_waited_for_only_so_long(
        monkeypatch: pytest.MonkeyPatch) -> None:
    resident(monkeypatch, lambda: LIMIT + 1)
    jobs = after_one_job()
    jobs.__enter__()  # and it never ends
    assert not stops_within(jobs, 0.15)
    assert stops_within(jobs, 1.0)  # RECYCLE_WAIT_SECONDS (0.3 s here) over the limit


def test_a_system_that_does_not_say_never_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    resident(monkeypatch, lambda: None)
    jobs = after_one_job()
    assert not stops_within(jobs, 0.2)
