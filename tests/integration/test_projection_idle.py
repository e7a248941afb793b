"""A live read model is woken by the appends' NOTIFY; while nothing is appended it does not
keep reading the log (the poll is only a fallback, seconds apart)."""

from __future__ import annotations

import time
from typing import Any

from bootstrap import Services
from infrastructure.projections.batching import POLL_SECONDS
from infrastructure.projections.runner import ProjectionSupervisor
from tests.integration.projection_helpers import append_runs, positions, wait_caught_up


def test_an_idle_runner_waits_for_the_next_append_instead_of_polling(
        services: Services) -> None:
    append_runs(services, 3)
    supervisor = ProjectionSupervisor(services.env, names=["export_runs"])
    supervisor.start()
    try:
        wait_caught_up(services.database_url, ["export_runs"])
        runner = supervisor.runners["export_runs"]
        steps = 0
        step = runner.step

        def counted() -> Any:
            nonlocal steps
            steps += 1
            return step()

        runner.step = counted  # type: ignore[method-assign]
        time.sleep(1.5)
        assert steps <= 1, steps  # one look at most (it may have been on its way)
        append_runs(services, 1)
        position = positions(services.database_url)["export_runs"][1]  # the log's head
        started = time.monotonic()
        for name, lagging in supervisor.runners.items():
            assert lagging.wait(position, timeout=4), name  # the NOTIFY woke it, not the poll
        assert time.monotonic() - started < 4
        time.sleep(0.5)  # idle again, waiting for the next NOTIFY
        stopping = time.monotonic()
        supervisor.stop()
        assert time.monotonic() - stopping < POLL_SECONDS / 2  # woken by the stop, not the poll
        assert not any(t.is_alive() for t in supervisor.threads)
    finally:
        supervisor.stop()
