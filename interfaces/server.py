"""Builds the running service: database, migrations, app, worker and projections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import UUID

import psycopg
from fastapi import FastAPI

from bootstrap import Services, bootstrap
from infrastructure import audit_heads, bufdir_maintenance
from infrastructure.maintenance import Maintenance
from infrastructure.migrations import is_up_to_date
from infrastructure.projections.runner import ProjectionSupervisor, lags
from infrastructure.queue import TaskHandlers, build_queue, run_worker
from interfaces.http.app import create_app
from interfaces.http.metrics import EXPORT_RUNS_BY_STATUS, EXPORT_RUNS_FINISHED, PROJECTION_LAG

log = logging.getLogger(__name__)


def readiness_of(url: str) -> Any:
    state = {"ready": False}

    def check() -> tuple[bool, str]:
        if state["ready"]:
            return True, "ok"
        try:
            if not is_up_to_date(url):
                return False, "migrations not applied"
        except psycopg.Error:
            return False, "database unreachable"
        state["ready"] = True
        return True, "ok"

    return check


def sweep(services: Services) -> None:
    """Each step on its own: one failing step never keeps the others from running."""
    maintenance = Maintenance(services.pool)

    def stuck_export_runs() -> None:
        for run_id in maintenance.running_runs():
            if services.export_runs.fail_if_stuck(run_id):
                log.warning("export run %s timed out and was failed", run_id)
                EXPORT_RUNS_FINISHED.labels("failed").inc()

    steps: list[tuple[str, Callable[[], object]]] = [
        ("stuck export runs", stuck_export_runs),
        ("orphaned pending runs", maintenance.requeue_orphaned_pending),
        ("bufdir exports", lambda: bufdir_maintenance.sweep(services)),
        ("sync runs", services.sync.sweep),
        ("idempotency keys", lambda: services.idempotency.purge(services.settings.idempotency_ttl_hours)),
    ]
    for name, step in steps:
        try:
            step()
        except Exception:
            log.error("sweep step '%s' failed; the next sweep retries", name, exc_info=True)


def execute_export_run(services: Services, run_id: UUID) -> None:
    services.export_runs.execute(run_id)
    status = services.store.get(run_id).status.value
    if status in ("completed", "failed"):
        EXPORT_RUNS_FINISHED.labels(status).inc()


def task_handlers(services: Services) -> TaskHandlers:
    return TaskHandlers(
        execute_export_run=lambda run_id: execute_export_run(services, run_id),
        sweep=lambda: sweep(services),
        extra={
            **services.extras.get("tasks", {}),
            **bufdir_maintenance.bufdir_tasks(services.bufdir_exports),
            **services.sync.tasks(),
        },
        stalled_after_seconds=services.settings.stalled_job_seconds,
        periodic={**services.sync.periodic(), **audit_heads.periodic(services.pool)},
    )


def build_app(services: Services, background: bool = True) -> FastAPI:
    """The API; with `background` also the worker and the projection runners in this process."""
    supervisor = ProjectionSupervisor(services.env)
    queue = build_queue(services.database_url, task_handlers(services))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        worker: asyncio.Task[None] | None = None
        if background:
            supervisor.start()
            services.extras["projections"] = supervisor
            worker = asyncio.create_task(
                run_worker(queue, task_handlers(services), name="serve-worker")
            )
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker
            services.extras.pop("projections", None)
            await asyncio.to_thread(supervisor.stop)

    def refresh_metrics() -> None:
        with contextlib.suppress(psycopg.Error), services.pool.connection() as conn:
            for lag in lags(conn):
                PROJECTION_LAG.labels(lag.name).set(lag.lag)
            for status, count in conn.execute("SELECT status, count(*) FROM export_runs GROUP BY 1"):
                EXPORT_RUNS_BY_STATUS.labels(status).set(count)

    return create_app(
        services,
        readiness_of(services.database_url),
        lifespan=lifespan,
        refresh_metrics=refresh_metrics,
    )


def services_for(database_url: str | None = None) -> Services:
    return bootstrap(database_url=database_url)
