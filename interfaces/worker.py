"""A worker process: the supervised queue worker and, when asked, its health port.

Kept apart from the API (interfaces/server.py) so a worker never loads the web application,
its pages and templates: FastAPI and uvicorn are imported only for a health port. A worker's
baseline memory is what a big export adds to."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bootstrap import Services

log = logging.getLogger(__name__)


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
    services: Services, host: str, port: int | None, name: str, concurrency: int = 2
) -> None:
    """The supervised worker and, on `port`, its health endpoints, until SIGTERM or SIGINT;
    then the worker stops gracefully (running jobs get their grace period)."""
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
    await asyncio.wait({worker, stopped}, return_when=asyncio.FIRST_COMPLETED)
    log.info("stopping worker %s", name)
    worker.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await worker
    if server is not None and serving is not None:
        server.should_exit = True
        await serving
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
