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
from infrastructure.sql import queries

SQL = queries("upkeep")


class PostgresUpkeepTables:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def running_export_runs(self) -> list[UUID]:
        with self.pool.connection() as conn:
            return [r[0] for r in conn.execute(SQL["running_export_runs"])]

    def orphaned_pending_export_runs(self, older_than_seconds: int) -> list[UUID]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                SQL["orphaned_pending_export_runs"], {"older": older_than_seconds, "task": EXECUTE_EXPORT_RUN}
            )
            return [r[0] for r in rows]

    def open_bufdir_exports(self, timeout_seconds: int, idle_seconds: int) -> list[OpenRun]:
        params = {"timeout": timeout_seconds, "idle": idle_seconds, "task": EXECUTE_BUFDIR_EXPORT}
        with self.pool.connection() as conn:
            rows = conn.execute(SQL["open_bufdir_exports"], params).fetchall()
        return [OpenRun(r[0], r[3], timed_out=r[1], has_job=r[2]) for r in rows]

    def running_syncs(self) -> list[OpenRun]:
        with self.pool.connection() as conn:
            rows = conn.execute(SQL["running_syncs"]).fetchall()
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
            return [ScheduleRow(*row) for row in conn.execute(SQL["due_candidates"])]
