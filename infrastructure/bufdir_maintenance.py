"""The Bufdir side of the periodic sweep and the worker task, so no export is left stuck.

An export whose worker died keeps the status of the step it was in. The use case is
re-runnable from the stored status, so an export without a live job is queued again; one still
open after the run timeout (counted from its request) is failed cleanly instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from application.bufdir_exports import EXECUTE_TASK, SYSTEM_SUB, BufdirExports
from application.ports import ConcurrentChange, EventStore, NotFound
from domain.bufdir_export import BufdirExport
from domain.shared import Actor
from infrastructure.event_store import DEFER_JOB_SQL, QUEUE

log = logging.getLogger(__name__)

TIMEOUT_MESSAGE = "Eksporten ble ikke ferdig innen tidsgrensen og ble avbrutt; start den på nytt."

OPEN_EXPORTS = """
SELECT a.export_id,
       a.created_at < now() - make_interval(secs => %(timeout)s) AS timed_out,
       EXISTS (SELECT 1 FROM procrastinate_jobs j
               WHERE j.task_name = %(task)s AND j.args ->> 'export_id' = a.export_id::text
                 AND j.status IN ('todo', 'doing')) AS has_job
FROM bufdir_audit_log a
WHERE a.status NOT IN ('completed', 'completed_empty', 'failed')
  AND (a.updated_at < now() - make_interval(secs => %(idle)s)
       OR a.created_at < now() - make_interval(secs => %(timeout)s))
ORDER BY a.created_at
"""


def fail_if_open(store: EventStore, export_id: UUID, message: str = TIMEOUT_MESSAGE) -> bool:
    """Fail the export unless it already ended; True when this call failed it."""
    for _attempt in range(3):
        try:
            export = store.get(export_id)
        except NotFound:
            return False
        if not isinstance(export, BufdirExport) or export.is_final:
            return False
        export.fail(message, Actor(SYSTEM_SUB, export.org_id, f"sweep:{export_id}"))
        try:
            store.save(export)
        except ConcurrentChange:
            continue
        return True
    return False


def sweep_bufdir_exports(
    pool: ConnectionPool, store: EventStore, timeout_seconds: int, idle_seconds: int = 60
) -> tuple[list[UUID], list[UUID]]:
    """Queue orphaned open exports again and fail timed-out ones; returns (requeued, failed)."""
    requeued: list[UUID] = []
    failed: list[UUID] = []
    with pool.connection() as conn:
        rows = conn.execute(
            OPEN_EXPORTS, {"timeout": timeout_seconds, "idle": idle_seconds, "task": EXECUTE_TASK}
        ).fetchall()
    for export_id, timed_out, has_job in rows:
        if timed_out:
            if fail_if_open(store, export_id):
                failed.append(export_id)
        elif not has_job:
            with pool.connection() as conn:
                conn.execute(
                    DEFER_JOB_SQL,
                    {"queue": QUEUE, "task": EXECUTE_TASK,
                     "args": Jsonb({"export_id": str(export_id)})},
                )
            requeued.append(export_id)
    if requeued or failed:
        log.warning("bufdir sweep: %d queued again, %d timed out", len(requeued), len(failed))
    return requeued, failed


def sweep(services: Any) -> None:
    """The Bufdir part of interfaces.server.sweep."""
    sweep_bufdir_exports(services.pool, services.store, services.settings.run_timeout_seconds)


def bufdir_tasks(exports: BufdirExports) -> dict[str, Callable[..., None]]:
    """Worker tasks for TaskHandlers.extra."""

    def execute_bufdir_export(export_id: str) -> None:
        exports.execute(UUID(export_id))

    return {EXECUTE_TASK: execute_bufdir_export}

