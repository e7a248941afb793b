"""The running service: the API with, in the same process, the worker and the projections.

Everything comes wired from bootstrap; this module only decides what runs in the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Iterator

import uvicorn
from fastapi import FastAPI

from bootstrap import UNAVAILABLE_ERRORS, Services, bootstrap
from interfaces.http.app import create_app

log = logging.getLogger(__name__)


def build_app(services: Services, background: bool = True) -> FastAPI:
    """The API; with `background` also the worker and the projection runners in this process."""
    supervisor = services.projection_supervisor()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        worker: asyncio.Task[None] | None = None
        if background:
            supervisor.start()
            services.projections.supervisor = supervisor
            worker = asyncio.create_task(services.run_worker(name="serve-worker"))
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker
            services.projections.supervisor = None
            await asyncio.to_thread(supervisor.stop)

    return create_app(
        services.app,
        services.readiness(worker=background),
        lifespan=lifespan,
        refresh_metrics=services.refresh_metrics,
        jwt_secret=services.jwt_secret,
        max_body_bytes=services.settings.max_body_bytes,
        routers=services.extras.get("routers", []),
        public_url=services.settings.public_url,
        unavailable_errors=UNAVAILABLE_ERRORS,
    )


def services_for(database_url: str | None = None) -> Services:
    return bootstrap(database_url=database_url)


def health_app(services: Services) -> FastAPI:
    """/healthz, /readyz (database and this process's worker) and /metrics of a worker process."""
    from interfaces.http.routers import ops

    app = FastAPI(title="export-service worker", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.readiness = services.readiness(worker=True)
    app.state.refresh_metrics = services.refresh_metrics
    app.include_router(ops.router)
    return app


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the worker process decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


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
    server: uvicorn.Server | None = None
    serving: asyncio.Task[None] | None = None
    if port is not None:
        server = _QuietServer(uvicorn.Config(health_app(services), host=host, port=port,
                                             log_config=None, lifespan="off"))
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
