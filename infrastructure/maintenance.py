"""Periodic clean-up: stuck runs fail, orphaned pending runs are queued again, old keys go."""

from __future__ import annotations

import logging
from uuid import UUID

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from infrastructure.event_store import DEFER_JOB_SQL, QUEUE

log = logging.getLogger(__name__)

ORPHANED_PENDING = """
SELECT r.run_id FROM export_runs r
WHERE r.status = 'pending' AND r.created_at < now() - make_interval(secs => %s)
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.task_name = 'execute_export_run'
                    AND j.args ->> 'run_id' = r.run_id::text
                    AND j.status IN ('todo', 'doing'))
"""


class Maintenance:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def running_runs(self) -> list[UUID]:
        with self.pool.connection() as conn:
            return [r[0] for r in conn.execute("SELECT run_id FROM export_runs WHERE status = 'running'")]

    def requeue_orphaned_pending(self, older_than_seconds: int = 60) -> list[UUID]:
        """Pending runs with no live job (e.g. the job failed for good) are queued again."""
        with self.pool.connection() as conn:
            ids = [r[0] for r in conn.execute(ORPHANED_PENDING, (older_than_seconds,))]
            for run_id in ids:
                conn.execute(
                    DEFER_JOB_SQL,
                    {"queue": QUEUE, "task": "execute_export_run", "args": Jsonb({"run_id": str(run_id)})},
                )
        if ids:
            log.warning("queued %d orphaned pending runs again", len(ids))
        return ids
