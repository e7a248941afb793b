"""A reader waiting for a read model to hold its own writes does not wait for a runner that is
down: when the runner's connection is lost it is stalled until a step succeeds again, and the
reader goes on at once (while the database is gone, to meet that absence itself: a 503 within
the pool's wait, not after the read-your-writes wait as well)."""

from __future__ import annotations

import threading
import time

import psycopg

from bootstrap import Services
from infrastructure.projections.runner import ProjectionSupervisor
from tests.integration.projection_helpers import append_runs, positions, wait_caught_up


def test_a_reader_does_not_wait_for_a_runner_whose_connection_was_lost(
        services: Services) -> None:
    append_runs(services, 2)
    supervisor = ProjectionSupervisor(services.env, names=["export_runs"])
    supervisor.start()
    try:
        wait_caught_up(services.database_url, ["export_runs"])
        runner = supervisor.runners["export_runs"]
        head = positions(services.database_url)["export_runs"][1]
        assert runner.conn is not None
        backend = runner.conn.info.backend_pid
        answers: list[tuple[bool, float]] = []

        def reader() -> None:  # waits for an event the log does not hold yet
            started = time.monotonic()
            answers.append((runner.wait(head + 1, timeout=20), time.monotonic() - started))

        waiting = threading.Thread(target=reader)
        waiting.start()
        time.sleep(0.5)
        assert not answers  # still waiting: the runner is up, the event not there
        with psycopg.connect(services.database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        waiting.join(timeout=10)
        assert answers and answers[0][0] is False
        assert answers[0][1] < 5, answers  # released by the lost connection, not the timeout
        assert runner.stalled

        deadline = time.monotonic() + 15  # the runner comes back after its pause
        while runner.stalled:
            assert time.monotonic() < deadline, "the runner did not come back"
            time.sleep(0.05)
        append_runs(services, 1)  # and readers wait for it again
        position = positions(services.database_url)["export_runs"][1]
        assert runner.wait(position, timeout=15)
    finally:
        supervisor.stop()
