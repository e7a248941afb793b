"""A worker process: the supervised queue worker and, when asked, its health port.

Kept apart from the API (interfaces/server.py) so a worker never loads the web application,
its pages and templates: FastAPI and uvicorn are imported only for a health port. A worker's
baseline memory is what a big export adds to."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bootstrap import Services

log = logging.getLogger(__name__)

#: How often a worker with a memory limit looks at its resident size.
MEMORY_CHECK_SECONDS = 0.5
#: How long a worker over its limit waits for a moment with no job running before it stops
#: anyway (its running jobs then get their grace period, as on SIGTERM, and are retried if
#: they outlast it).
RECYCLE_WAIT_SECONDS = 60.0


class JobCounts(Protocol):
    """How many jobs this process is running, and has finished (infrastructure/queue.py)."""

    running: int
    finished: int


def memory_mb(field: str) -> float | None:
    """This process's resident size now (`VmRSS`) or at its peak (`VmHWM`), in MB; None where
    the system does not say (no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


async def over_memory(limit_mb: float, jobs: JobCounts) -> None:
    """Returns once this process has run a job, holds more than `limit_mb` resident, and runs
    no job (or has waited RECYCLE_WAIT_SECONDS over the limit for such a moment).

    What a big export frees is not all given back to the system (the allocators keep it
    fragmented), so a long-lived worker's memory creeps up run after run; a fresh process
    starts from its baseline again."""
    over_since: float | None = None
    while True:
        await asyncio.sleep(MEMORY_CHECK_SECONDS)
        resident = memory_mb("VmRSS")
        if resident is None:
            log.warning("this system does not report resident memory: the worker's memory "
                        "limit is not applied")
            await asyncio.Event().wait()  # never set: only the worker's own stop ends it
        if jobs.finished == 0 or resident is None or resident <= limit_mb:
            over_since = None
            continue
        over_since = over_since or time.monotonic()
        if jobs.running == 0 or time.monotonic() - over_since > RECYCLE_WAIT_SECONDS:
            log.warning("worker restarting afresh: its resident memory is over its limit",
                        extra={"resident_mb": round(resident), "limit_mb": limit_mb,
                               "peak_mb": round(memory_mb("VmHWM") or 0),
                               "jobs_running": jobs.running})
            return


def restart_afresh() -> None:
    """Replace this process with a fresh one running the same command (same process id, so a
    supervisor sees no exit). Its standard streams carry over (the log goes on where it went);
    every other descriptor Python opened is closed by the exec (none is inheritable)."""
    logging.shutdown()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606 - this very command


def health_app(services: Services) -> FastAPI:
    """/healthz, /readyz (database and this process's worker) and /metrics of a worker process."""
    from fastapi import FastAPI

    from interfaces.http.routers import ops

    app = FastAPI(title="export-service worker", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.readiness = services.readiness(worker=True)
    app.state.refresh_metrics = services.refresh_metrics
    app.include_router(ops.router)
    return app


def _quiet_server(app: FastAPI, host: str, port: int) -> Any:
    """uvicorn without its own signal handling: the worker process decides when to stop."""
    import uvicorn

    class QuietServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return QuietServer(uvicorn.Config(app, host=host, port=port, log_config=None,
                                      lifespan="off"))


async def run_worker_process(
    services: Services, host: str, port: int | None, name: str, concurrency: int = 2,
    memory_limit_mb: float = 0,
) -> bool:
    """The supervised worker and, on `port`, its health endpoints, until SIGTERM or SIGINT, or
    until its resident memory is over `memory_limit_mb` (0: no limit) between jobs; then the
    worker stops gracefully (running jobs get their grace period). True when it stopped for
    its memory: the caller starts it afresh (`restart_afresh`)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = asyncio.create_task(services.run_worker(name=name, concurrency=concurrency))
    server: Any = None
    serving: asyncio.Task[None] | None = None
    if port is not None:
        server = _quiet_server(health_app(services), host, port)
        serving = asyncio.create_task(server.serve())
    stopped = asyncio.create_task(stop.wait())
    watched = ({asyncio.create_task(over_memory(memory_limit_mb, services.running_jobs))}
               if memory_limit_mb else set())
    done, _ = await asyncio.wait({worker, stopped, *watched}, return_when=asyncio.FIRST_COMPLETED)
    log.info("stopping worker %s", name)
    for task in (worker, stopped, *watched):
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await worker
    if server is not None and serving is not None:
        server.should_exit = True
        await serving
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    return bool(watched & done) and not stop.is_set()
