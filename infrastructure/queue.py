"""The procrastinate queue on the same PostgreSQL: tasks, the periodic sweep, the worker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import procrastinate

from application.task_names import CRON, EXECUTE_EXPORT_RUN, SWEEP
from infrastructure.event_store import QUEUE

log = logging.getLogger(__name__)


@dataclass
class TaskHandlers:
    """What the tasks call; bootstrap fills it from application/upkeep.py."""

    #: Queued tasks by name (application/task_names.py).
    tasks: dict[str, Callable[..., None]]
    sweep: Callable[[], None]
    stalled_after_seconds: float = 60
    #: Periodic jobs besides the sweep: name -> (cron, function called with the timestamp).
    periodic: dict[str, tuple[str, Callable[[int], object]]] = field(default_factory=dict)


#: One retry strategy per task; an export run backs off (its claims may be contended).
RETRIES = {EXECUTE_EXPORT_RUN: procrastinate.RetryStrategy(max_attempts=5, exponential_wait=2)}
DEFAULT_RETRY = procrastinate.RetryStrategy(max_attempts=5)


def build_queue(conninfo: str, handlers: TaskHandlers) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=4),
        worker_defaults={"queues": [QUEUE], "install_signal_handlers": False},
    )

    for name, func in handlers.tasks.items():
        app.task(name=name, queue=QUEUE, retry=RETRIES.get(name, DEFAULT_RETRY))(func)

    @app.periodic(cron=CRON[SWEEP], periodic_id=SWEEP)
    @app.task(name=SWEEP, queue=QUEUE, queueing_lock=SWEEP)
    async def sweep(timestamp: int) -> None:
        await recover(app, handlers)

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
