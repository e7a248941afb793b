"""The UpkeepTables and ScheduleTable ports on PostgreSQL: the guard rows of open runs
(`open_runs`, `running_syncs`, written with the events), the job queue and the schedules;
never the read models, which may lag."""

from __future__ import annotations

from uuid import UUID

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from application.ports import Job, OpenRun, ScheduleRow
from application.task_names import EXECUTE_BUFDIR_EXPORT, EXECUTE_EXPORT_RUN
from infrastructure.event_store import DEFER_JOB_SQL, QUEUE

RUNNING_EXPORT_RUNS = (
    "SELECT run_id FROM open_runs WHERE kind = 'export_run' AND status = 'running' "
    "ORDER BY created_at"
)

ORPHANED_PENDING = """
SELECT r.run_id FROM open_runs r
WHERE r.kind = 'export_run' AND r.status = 'pending'
  AND r.created_at < now() - make_interval(secs => %(older)s)
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.task_name = %(task)s
                    AND j.args ->> 'run_id' = r.run_id::text
                    AND j.status IN ('todo', 'doing'))
"""

OPEN_BUFDIR_EXPORTS = """
SELECT a.run_id,
       a.created_at < now() - make_interval(secs => %(timeout)s) AS timed_out,
       EXISTS (SELECT 1 FROM procrastinate_jobs j
               WHERE j.task_name = %(task)s AND j.args ->> 'export_id' = a.run_id::text
                 AND j.status IN ('todo', 'doing')) AS has_job,
       a.status
FROM open_runs a
WHERE a.kind = 'bufdir_export'
  AND (a.updated_at < now() - make_interval(secs => %(idle)s)
       OR a.created_at < now() - make_interval(secs => %(timeout)s))
ORDER BY a.created_at
"""

RUNNING_SYNCS = (
    "SELECT run_id, export_run_id FROM running_syncs WHERE running ORDER BY started_at"
)

DUE_CANDIDATES = """
SELECT s.org_id, s.integration_type, s.cron, s.timezone, s.period, s.configured_at,
       (SELECT k.scheduled_for FROM scheduled_sync_starts k
        WHERE k.org_id = s.org_id AND k.integration_type = s.integration_type
        ORDER BY k.scheduled_for DESC LIMIT 1) AS last_scheduled_for
FROM sync_schedules s ORDER BY s.org_id, s.integration_type
"""


class PostgresUpkeepTables:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def running_export_runs(self) -> list[UUID]:
        with self.pool.connection() as conn:
            return [r[0] for r in conn.execute(RUNNING_EXPORT_RUNS)]

    def orphaned_pending_export_runs(self, older_than_seconds: int) -> list[UUID]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                ORPHANED_PENDING, {"older": older_than_seconds, "task": EXECUTE_EXPORT_RUN}
            )
            return [r[0] for r in rows]

    def open_bufdir_exports(self, timeout_seconds: int, idle_seconds: int) -> list[OpenRun]:
        params = {"timeout": timeout_seconds, "idle": idle_seconds, "task": EXECUTE_BUFDIR_EXPORT}
        with self.pool.connection() as conn:
            rows = conn.execute(OPEN_BUFDIR_EXPORTS, params).fetchall()
        return [OpenRun(r[0], r[3], timed_out=r[1], has_job=r[2]) for r in rows]

    def running_syncs(self) -> list[OpenRun]:
        with self.pool.connection() as conn:
            rows = conn.execute(RUNNING_SYNCS).fetchall()
        return [OpenRun(r[0], "running", export_run_id=r[1]) for r in rows]

    def defer(self, job: Job) -> None:
        with self.pool.connection() as conn:
            conn.execute(DEFER_JOB_SQL, {"queue": QUEUE, "task": job.task, "args": Jsonb(job.args)})


class PostgresScheduleTable:
    """The `sync_schedules` table with each schedule's last scheduled start (both transactional)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def due_candidates(self) -> list[ScheduleRow]:
        with self.pool.connection() as conn:
            return [ScheduleRow(*row) for row in conn.execute(DUE_CANDIDATES)]
