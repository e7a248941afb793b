"""Runs every projection in the background, restarts one that fails, and rebuilds on request."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.conninfo import make_conninfo

from infrastructure.event_store import APP_NAME, EVENTS_TABLE, EventLog
from infrastructure.projections import audit_chain, bufdir_audit_log, sync_run_log
from infrastructure.projections.base import ReadModel, TrackingTable
from infrastructure.projections.batching import BatchRunner
from infrastructure.projections.export_runs import ExportRunsProjection
from infrastructure.sql.composed import query

log = logging.getLogger(__name__)

#: Every read model by name. Adding one is one line here.
PROJECTIONS: dict[str, type[ReadModel]] = {
    "export_runs": ExportRunsProjection,
    "audit_chain": audit_chain.REGISTRATION,
    "bufdir_audit_log": bufdir_audit_log.REGISTRATION,
    "sync_run_log": sync_run_log.REGISTRATION,
}
#: A rebuild reads bigger pages: nobody waits on it between pages.
REBUILD_PAGE_SIZE = 5000


def projection_env(env: dict[str, str]) -> dict[str, str]:
    """Small pools; tables are created by `migrate`, never concurrently by runners."""
    return {**env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "1", "CREATE_TABLE": "no"}


def conninfo_of(env: dict[str, str]) -> str:
    """The libpq connection string of the `eventsourcing` environment keys."""
    return make_conninfo(
        dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"], password=env.get("POSTGRES_PASSWORD", ""),
    )


def create_tracking_tables(env: dict[str, str]) -> None:
    """Run once by `migrate` (under its lock): each view's tracking table, idempotently."""
    from eventsourcing.persistence import InfrastructureFactory
    from eventsourcing.utils import Environment

    for name in PROJECTIONS:
        factory_env = Environment(name, {**projection_env(env), "CREATE_TABLE": "yes"})
        table = InfrastructureFactory.construct(env=factory_env).tracking_recorder(TrackingTable)
        table.datastore.close()  # type: ignore[attr-defined]


def runner_for(name: str, env: dict[str, str], app: EventLog, page_size: int | None = None,
               ) -> BatchRunner:
    model = PROJECTIONS[name]()
    if page_size is None:
        return BatchRunner(model, conninfo_of(env), app.mapper)
    return BatchRunner(model, conninfo_of(env), app.mapper, page_size)


@dataclass
class Lag:
    name: str
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


class ProjectionSupervisor:
    """One thread per read model applying pages of the log as they come; a runner that fails
    is restarted after a pause (its page was rolled back, so it resumes where it was)."""

    def __init__(self, env: dict[str, str], names: list[str] | None = None) -> None:
        self.env = projection_env(env)
        self.names = names or list(PROJECTIONS)
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.runners: dict[str, BatchRunner] = {}
        self.app: EventLog | None = None

    def start(self) -> None:
        self.app = EventLog(env=self.env)  # its mapper decodes; it never opens a connection
        for name in self.names:
            runner = runner_for(name, self.env, self.app)
            self.runners[name] = runner
            t = threading.Thread(target=self._run, args=(runner,), name=f"projection-{name}",
                                 daemon=True)
            t.start()
            self.threads.append(t)

    def _run(self, runner: BatchRunner) -> None:
        while not self.stopping.is_set():
            try:
                while not self.stopping.is_set():
                    if not runner.step():
                        runner.idle(self.stopping)
            except Exception:
                log.error("projection %s stopped; restarting in 2 s", runner.model.name,
                          exc_info=True)
                runner.stall()
                runner.close()
                self.stopping.wait(2)
        runner.close()

    def wait_for(self, notification_id: int | None, timeout: float = 3.0) -> None:
        """Block until every running projection has processed `notification_id`."""
        if not notification_id:
            return
        deadline = time.monotonic() + timeout
        for name, runner in list(self.runners.items()):
            if not runner.wait(notification_id, max(deadline - time.monotonic(), 0)):
                log.warning("projection %s did not catch up with %s in %s s", name,
                            notification_id, timeout)

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=10)
        if self.app is not None:
            self.app.close()


class ProjectionCatchUp:
    """The Freshness port: with projections running in this process (`supervisor` set by the
    server), wait (bounded; a lagging one is logged) until the read models hold what a reader
    needs: the whole log (`catch_up`), one event (`reached`) or the organisation's last event
    appended by this process (`own_writes`). Without them it returns at once."""

    def __init__(self, head: Callable[[], int],
                 written: Callable[[UUID], int] = lambda org_id: 0) -> None:
        self.head = head
        self.written = written
        self.supervisor: ProjectionSupervisor | None = None

    def catch_up(self, timeout: float = 2.0) -> None:
        supervisor = self.supervisor
        if supervisor is not None:
            supervisor.wait_for(self.head(), timeout=timeout)

    def reached(self, read_model: str, position: int, timeout: float = 1.0) -> bool:
        supervisor = self.supervisor
        runner = supervisor.runners.get(read_model) if supervisor is not None else None
        return runner is not None and runner.wait(position, timeout)

    def own_writes(self, read_model: str, org_id: UUID, timeout: float = 2.0) -> None:
        position = self.written(org_id)
        supervisor = self.supervisor
        if not position or supervisor is None or read_model not in supervisor.runners:
            return
        if not self.reached(read_model, position, timeout):
            log.warning("projection %s did not reach %s in %s s", read_model, position, timeout)


def lags(conn: psycopg.Connection[Any]) -> list[Lag]:
    """Each read model's position and how far the log's head is ahead of it."""
    head_row = conn.execute(query("projections", "head", events=EVENTS_TABLE)).fetchone()
    head = int(head_row[0]) if head_row else 0
    out = []
    for name in PROJECTIONS:
        table = f"{name}_tracking"
        exists = conn.execute(query("projections", "tracking_exists"), {"table": table}).fetchone()
        position = 0
        if exists and exists[0]:
            position_query = query("projections", "position", tracking=table)
            row = conn.execute(position_query, {"app": APP_NAME}).fetchone()
            position = int(row[0]) if row and row[0] is not None else 0
        out.append(Lag(name, position, head))
    return out


def rebuild(env: dict[str, str], name: str, timeout: float = 600,
            page_size: int = REBUILD_PAGE_SIZE) -> int:
    """Empty the read model and replay the whole log into it; returns the final position."""
    app = EventLog(env=projection_env(env))
    runner = runner_for(name, env, app, page_size)
    deadline = time.monotonic() + timeout
    try:
        runner.reset()
        row = runner.open().execute(runner.sql["head"]).fetchone()
        head = int(row[0]) if row else 0
        while runner.position < head and runner.step():
            if time.monotonic() > deadline:
                raise TimeoutError(f"rebuilding {name} took more than {timeout} s")
        return head
    finally:
        runner.close()
        app.close()
