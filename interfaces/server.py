"""The running service: the API with, in the same process, the worker and the projections.

Everything comes wired from bootstrap; this module only decides what runs in the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from bootstrap import UNAVAILABLE_ERRORS, Services, bootstrap
from interfaces.http.app import create_app
from interfaces.worker import health_app as health_app
from interfaces.worker import run_worker_process as run_worker_process

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
