"""The supervised worker on real connections: a worker that cannot reach its database is
restarted with backoff until it runs, and readiness follows the database and the worker."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import procrastinate

from bootstrap import Services, readiness_of
from infrastructure.queue import WorkerHealth, build_queue, supervise_worker


def refused_url() -> str:
    """A PostgreSQL URL on a port nobody listens on: every connection is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def test_a_worker_without_its_database_is_restarted_until_it_runs(
    services: Services, db_url: str
) -> None:
    handlers = services.task_handlers()
    health = WorkerHealth()
    builds: list[str] = []
    unreachable = refused_url()

    def build() -> procrastinate.App:
        # The first two attempts find no database; then it is back.
        url = unreachable if len(builds) < 2 else db_url
        builds.append(url)
        return build_queue(url, handlers, pool_size=3)

    observed: dict[str, object] = {}

    async def scenario() -> None:
        worker = asyncio.create_task(supervise_worker(build, handlers, health, name="t",
                                                      concurrency=1))
        started = time.monotonic()
        while not health.running:
            assert not worker.done(), worker
            assert time.monotonic() - started < 60, builds
            await asyncio.sleep(0.1)
        observed["restarts"] = health.restarts
        observed["ready"] = await asyncio.to_thread(readiness_of(db_url, health.alive))
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        observed["stopped"] = await asyncio.to_thread(readiness_of(db_url, health.alive))

    asyncio.run(scenario())
    assert builds == [unreachable, unreachable, db_url]
    assert observed["restarts"] == 2
    assert observed["ready"] == (True, "ok")
    assert observed["stopped"] == (False, "worker not running")
    assert not health.running

