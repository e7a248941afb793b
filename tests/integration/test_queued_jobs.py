"""The job an append queues is the row procrastinate's own defer function writes: the append
inserts it directly (infrastructure/sql/event_store.sql, defer_job), so an upgrade of the queue
that changed what a deferred job looks like must fail here, not in a worker."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from application.ports import Job
from application.task_names import EXECUTE_EXPORT_RUN
from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from infrastructure.event_store import DEFER_JOB_SQL, PostgresEventStore, open_event_log

#: What differs between two jobs by nature: their ids and when they were written.
OWN = {"id", "job_id", "at"}


def rows(conn: psycopg.Connection[Any], job_id: int) -> tuple[dict[str, Any], list[Any]]:
    """The job's row and its queue events (without ids and times)."""
    job = conn.execute("SELECT * FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone()
    assert job is not None
    events = conn.execute(
        "SELECT * FROM procrastinate_events WHERE job_id = %s ORDER BY id", (job_id,)).fetchall()
    return ({k: v for k, v in job.items() if k not in OWN},
            [{k: v for k, v in e.items() if k not in OWN} for e in events])


def test_the_appended_job_is_the_row_procrastinates_defer_writes(db_url: str) -> None:
    args = {"run_id": str(uuid4()), "correlation_id": "c-1"}
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute('LISTEN "procrastinate_queue_v1#exports"')
        conn.execute("LISTEN procrastinate_any_queue_v1")
        with conn.transaction():
            conn.execute(DEFER_JOB_SQL, {"queue": "exports", "task": "t", "args": Jsonb(args)})
        ours = conn.execute("SELECT max(id) AS id FROM procrastinate_jobs").fetchone()
        their_id = conn.execute(
            "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW('exports', 't', 0, NULL, NULL, "
            "%s, NULL)]::procrastinate_job_to_defer_v1[])) AS id", (Jsonb(args),)).fetchone()
        assert ours is not None and their_id is not None
        notified = [n.payload for n in conn.notifies(timeout=1, stop_after=4)]

        assert rows(conn, ours["id"]) == rows(conn, their_id["id"])
        assert rows(conn, ours["id"])[1], "the queue's event row was written"
        # Each job woke the workers listening on its queue the same way.
        assert len(notified) == 4
        assert {p.replace(str(ours["id"]), "ID") for p in notified[:2]} == {
            p.replace(str(their_id["id"]), "ID") for p in notified[2:]}


def test_an_append_queues_its_job_for_the_worker(db_url: str) -> None:
    log = open_event_log(db_url, pool_size=1)
    try:
        org_id = uuid4()
        run = ExportRun.request(org_id, Period(date(2025, 1, 1), date(2025, 1, 31)),
                                ExportTarget.XLEDGER, Actor("u", org_id, "c"))
        PostgresEventStore(log).save(run, jobs=[Job(EXECUTE_EXPORT_RUN, {"run_id": str(run.id)})])
    finally:
        log.close()
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        job = conn.execute("SELECT * FROM procrastinate_jobs").fetchone()
    assert job is not None
    assert (job["queue_name"], job["task_name"], job["status"], job["attempts"]) == (
        "exports", EXECUTE_EXPORT_RUN, "todo", 0)
    assert job["args"]["run_id"] == str(run.id)
    assert job["args"]["org_id"] == str(org_id)
