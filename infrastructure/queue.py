"""The procrastinate queue on the same PostgreSQL: tasks, the periodic sweep, the worker."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import procrastinate
import psycopg_pool

from application.task_names import CRON, EXECUTE_EXPORT_RUN, SWEEP
from infrastructure import logs
from infrastructure.database import RECONNECT_SECONDS
from infrastructure.event_store import QUEUE, TRACE_KEYS
from infrastructure.metrics import WORKER_RESTARTS

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
SHUTDOWN_GRACE_SECONDS = 20.0


class RunningJobs:
    """How many jobs this process is running and has finished: a worker restarts afresh for its
    memory only between jobs (interfaces/worker.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.finished = 0

    def __enter__(self) -> None:
        with self._lock:
            self.running += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.running -= 1
            self.finished += 1


#: This process's jobs (those of `traced` tasks: the periodic ticks are not counted).
JOBS = RunningJobs()


def traced(func: Callable[..., Any], name: str | None = None) -> Callable[..., Any]:
    """Run a job with the correlation id and organisation of the request that queued it
    bound to every log line (the event store adds them to each job's arguments)."""

    task = name or getattr(func, "__name__", "task")

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        trace = {key: kwargs.pop(key, None) for key in TRACE_KEYS}
        run_id = kwargs.get("run_id") or kwargs.get("export_id") or kwargs.get("sync_run_id")
        with logs.bound(**trace, run_id=run_id):
            started = time.perf_counter()
            log.info("job started", extra={"task": task})
            try:
                with JOBS:
                    result = func(*args, **kwargs)
            except Exception as exc:
                log.warning("job failed", extra={"task": task, "error": type(exc).__name__})
                raise
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            log.info("job finished", extra={"task": task, "duration_ms": elapsed})
            return result

    return run


#: Seconds the queue waits for a connection (and to connect): a worker whose database is gone
#: fails fast and its supervisor retries, instead of sitting in psycopg_pool's 30 s default.
QUEUE_WAIT_SECONDS = 3.0


class BoundedAsyncPool(psycopg_pool.AsyncConnectionPool):
    """procrastinate opens its pool with `open(wait=True)`, whose wait is psycopg_pool's 30 s
    default; this pool bounds that first wait too."""

    async def open(self, wait: bool = False, timeout: float = QUEUE_WAIT_SECONDS) -> None:
        await super().open(wait=wait, timeout=min(timeout, QUEUE_WAIT_SECONDS))


def build_queue(conninfo: str, handlers: TaskHandlers, pool_size: int = 4) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=conninfo, min_size=1, max_size=pool_size, pool_factory=BoundedAsyncPool,
            timeout=QUEUE_WAIT_SECONDS, kwargs={"connect_timeout": int(QUEUE_WAIT_SECONDS)},
            reconnect_timeout=RECONNECT_SECONDS,
        ),
        # On stop, running jobs get this long to finish; then they are aborted and retried.
        worker_defaults={"queues": [QUEUE], "install_signal_handlers": False,
                         "shutdown_graceful_timeout": SHUTDOWN_GRACE_SECONDS},
    )

    for name, func in handlers.tasks.items():
        app.task(name=name, queue=QUEUE, retry=RETRIES.get(name, DEFAULT_RETRY))(
            traced(func, name)
        )

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


@dataclass
class WorkerHealth:
    """The worker of this process as /readyz and /metrics see it."""

    running: bool = False
    restarts: int = 0

    def alive(self) -> bool:
        return self.running


#: Backoff between worker restarts: doubles from the first to the last, then stays.
RESTART_FIRST_SECONDS = 0.5
RESTART_MAX_SECONDS = 10.0
#: A worker that ran this long before it failed starts the backoff from the beginning again.
RESTART_RESET_SECONDS = 60.0


async def supervise_worker(
    build: Callable[[], procrastinate.App],
    handlers: TaskHandlers,
    health: WorkerHealth,
    name: str = "worker",
    **options: Any,
) -> None:
    """Run the worker for as long as this task lives: a lost database, a failed listener or
    any exception restarts it (a fresh queue app and pool) with backoff. Only cancelling the
    task stops it; running jobs then get their grace period (procrastinate)."""
    delay = RESTART_FIRST_SECONDS
    me = asyncio.current_task()
    while True:
        started = time.monotonic()
        try:
            await run_worker(build(), handlers, name=name, health=health, **options)
            if me is not None and me.cancelling():
                raise asyncio.CancelledError  # asked to stop: the worker's return was the stop
            log.warning("worker %s stopped by itself; restarting in %.1f s", name, delay)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # anything at all: the worker must come back
            if me is not None and me.cancelling():
                raise asyncio.CancelledError from error  # it failed while stopping: stop
            # The type only: the message of a database error may hold connection details.
            log.error("worker %s failed (%s); restarting in %.1f s",
                      name, type(error).__name__, delay)
        finally:
            health.running = False
        health.restarts += 1
        WORKER_RESTARTS.inc()
        if time.monotonic() - started > RESTART_RESET_SECONDS:
            delay = RESTART_FIRST_SECONDS  # it ran well for a while: this is a new failure
        await asyncio.sleep(delay)
        delay = min(delay * 2, RESTART_MAX_SECONDS)


async def run_worker(
    app: procrastinate.App,
    handlers: TaskHandlers,
    name: str = "worker",
    concurrency: int = 2,
    health: WorkerHealth | None = None,
    **options: Any,
) -> None:
    """Recover what a crash left behind, then run up to `concurrency` jobs at once until stopped."""
    async with app.open_async():
        try:
            await recover(app, handlers)
        except Exception:
            log.error("recovery at worker start failed; the periodic sweep will retry", exc_info=True)
        if health is not None:
            health.running = True
        await app.run_worker_async(name=name, concurrency=concurrency, **options)
