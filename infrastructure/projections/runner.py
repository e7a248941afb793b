"""Runs every projection in the background, restarts one that fails, and rebuilds on request."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.projection import Projection, ProjectionRunner

from infrastructure.event_store import APP_NAME, EVENTS_TABLE, EventLog
from infrastructure.projections import audit_chain, bufdir_audit_log, sync_run_log
from infrastructure.projections.base import TrackedView
from infrastructure.projections.export_runs import ExportRunsProjection, ExportRunsView

log = logging.getLogger(__name__)

#: Every read model: name -> (projection, view). Adding one is one line here.
PROJECTIONS: dict[str, tuple[type[Projection[Any]], type[TrackedView]]] = {
    "export_runs": (ExportRunsProjection, ExportRunsView),
    "audit_chain": audit_chain.REGISTRATION,
    "bufdir_audit_log": bufdir_audit_log.REGISTRATION,
    "sync_run_log": sync_run_log.REGISTRATION,
}


def projection_env(env: dict[str, str]) -> dict[str, str]:
    """Small pools; tables are created by `migrate`, never concurrently by runners."""
    return {**env, "POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "2", "CREATE_TABLE": "no"}


def create_tracking_tables(env: dict[str, str]) -> None:
    """Run once by `migrate` (under its lock): each view's tracking table, idempotently."""
    for name in PROJECTIONS:
        view = open_view(name, {**env, "CREATE_TABLE": "yes"}, create=True)
        view.datastore.close()


def open_view(name: str, env: dict[str, str], create: bool = False) -> TrackedView:
    from eventsourcing.persistence import InfrastructureFactory

    projection_class, view_class = PROJECTIONS[name]
    view_env = projection_env(env)
    if create:
        view_env["CREATE_TABLE"] = "yes"
    factory_env = ProjectionRunner._construct_env(name=projection_class.name, env=view_env)
    return InfrastructureFactory.construct(env=factory_env).tracking_recorder(view_class)  # type: ignore[return-value]


@dataclass
class Lag:
    name: str
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


class ProjectionSupervisor:
    """One ProjectionRunner thread per read model; a failed runner is restarted after a pause."""

    def __init__(self, env: dict[str, str], names: list[str] | None = None) -> None:
        self.env = projection_env(env)
        self.names = names or list(PROJECTIONS)
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.runners: dict[str, ProjectionRunner[Any, Any]] = {}

    def start(self) -> None:
        for name in self.names:
            t = threading.Thread(target=self._run, args=(name,), name=f"projection-{name}", daemon=True)
            t.start()
            self.threads.append(t)

    def _run(self, name: str) -> None:
        projection_class, view_class = PROJECTIONS[name]
        while not self.stopping.is_set():
            try:
                with ProjectionRunner(
                    application_class=EventLog,
                    projection_class=projection_class,
                    view_class=view_class,
                    env=self.env,
                ) as runner:
                    self.runners[name] = runner
                    while not self.stopping.is_set():
                        runner.run_forever(timeout=0.5)
            except Exception:
                log.error("projection %s stopped; restarting in 2 s", name, exc_info=True)
                self.stopping.wait(2)
            finally:
                self.runners.pop(name, None)

    def wait_for(self, notification_id: int | None, timeout: float = 3.0) -> None:
        """Block until every running projection has processed `notification_id`."""
        if not notification_id:
            return
        for runner in list(self.runners.values()):
            try:
                runner.wait(notification_id, timeout=timeout)
            except TimeoutError:
                log.warning("projection did not catch up with %s in %s s", notification_id, timeout)

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=10)


class ProjectionCatchUp:
    """The Freshness port: with projections running in this process (`supervisor` set by the
    server), wait until the read models include every event appended so far (bounded; a
    lagging one is logged). Without them it returns at once."""

    def __init__(self, head: Callable[[], int]) -> None:
        self.head = head
        self.supervisor: ProjectionSupervisor | None = None

    def catch_up(self, timeout: float = 2.0) -> None:
        supervisor = self.supervisor
        if supervisor is not None:
            supervisor.wait_for(self.head(), timeout=timeout)


def lags(conn: psycopg.Connection[Any]) -> list[Lag]:
    """Each read model's position and how far the log's head is ahead of it."""
    head_row = conn.execute(f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}").fetchone()  # noqa: S608
    head = int(head_row[0]) if head_row else 0
    out = []
    for name, (projection_class, _) in PROJECTIONS.items():
        table = f"{projection_class.name}_tracking"
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        position = 0
        if exists and exists[0]:
            row = conn.execute(
                f"SELECT max(notification_id) FROM {table} WHERE application_name = %s",  # noqa: S608
                (APP_NAME,),
            ).fetchone()
            position = int(row[0]) if row and row[0] is not None else 0
        out.append(Lag(name, position, head))
    return out


def rebuild(env: dict[str, str], name: str, timeout: float = 600) -> int:
    """Empty the read model and replay the whole log into it; returns the final position."""
    view = open_view(name, env)
    try:
        view.reset()
    finally:
        view.datastore.close()
    projection_class, view_class = PROJECTIONS[name]
    with ProjectionRunner(
        application_class=EventLog,
        projection_class=projection_class,
        view_class=view_class,
        env=projection_env(env),
    ) as runner:
        head = runner.app.recorder.max_notification_id() or 0
        if head:
            runner.wait(head, timeout=timeout)
        return head
