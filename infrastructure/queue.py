"""The procrastinate queue on the same PostgreSQL: tasks, the periodic sweep, the worker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import procrastinate

from infrastructure.event_store import QUEUE

log = logging.getLogger(__name__)


@dataclass
class TaskHandlers:
    """What the tasks call; bootstrap fills it with application services."""

    execute_export_run: Callable[[UUID], None]
    sweep: Callable[[], None]
    extra: dict[str, Callable[..., None]]
    stalled_after_seconds: float = 60
    #: Periodic tasks: name -> (cron, function called with the tick's timestamp).
    periodic: dict[str, tuple[str, Callable[[int], None]]] = field(default_factory=dict)


def build_queue(conninfo: str, handlers: TaskHandlers) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=4),
        worker_defaults={"queues": [QUEUE], "install_signal_handlers": False},
    )

    @app.task(name="execute_export_run", queue=QUEUE, retry=procrastinate.RetryStrategy(
        max_attempts=5, exponential_wait=2))
    def execute_export_run(run_id: str) -> None:
        handlers.execute_export_run(UUID(run_id))

    @app.periodic(cron="* * * * *", periodic_id="sweep")
    @app.task(name="sweep", queue=QUEUE, queueing_lock="sweep")
    async def sweep(timestamp: int) -> None:
        await recover(app, handlers)

    for name, func in handlers.extra.items():
        app.task(name=name, queue=QUEUE, retry=procrastinate.RetryStrategy(max_attempts=5))(func)

    for name, (cron, tick) in handlers.periodic.items():
        task = app.task(name=name, queue=QUEUE, queueing_lock=name, pass_context=False)(tick)
        app.periodic(cron=cron, periodic_id=name)(task)

    return app


async def recover(app: procrastinate.App, handlers: TaskHandlers) -> None:
    """Hand jobs of dead workers (no heartbeat) to live ones, then sweep stuck runs."""
    stalled = await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=handlers.stalled_after_seconds
    )
    for job in stalled:
        log.warning("retrying stalled job %s (%s)", job.id, job.task_name)
        await app.job_manager.retry_job(job)
    await procrastinate.utils.sync_to_async(handlers.sweep)


async def run_worker(
    app: procrastinate.App, handlers: TaskHandlers, name: str = "worker", **options: Any
) -> None:
    """Recover what a crash left behind, then work until stopped."""
    async with app.open_async():
        try:
            await recover(app, handlers)
        except Exception:
            log.error("recovery at worker start failed; the periodic sweep will retry", exc_info=True)
        await app.run_worker_async(name=name, concurrency=2, **options)
