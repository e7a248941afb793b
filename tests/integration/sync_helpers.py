"""Shared helpers of the sync run and schedule tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from bootstrap import Services
from infrastructure.projections.runner import ProjectionSupervisor


@contextmanager
def sync_log_running(services: Services) -> Iterator[ProjectionSupervisor]:
    """The sync_run_log projection in the background, as `serve` runs it."""
    supervisor = ProjectionSupervisor(services.env, names=["sync_run_log"])
    supervisor.start()
    services.projections.supervisor = supervisor
    try:
        yield supervisor
    finally:
        services.projections.supervisor = None
        supervisor.stop()


def catch_up(services: Services) -> None:
    projections = services.projections.supervisor
    assert projections is not None
    for _ in range(50):
        if projections.runners.get("sync_run_log") is not None:
            break
        time.sleep(0.1)
    projections.wait_for(services.store.max_notification_id(), timeout=10)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql, params).fetchall())


def guard_rows(url: str, org_id: UUID) -> list[tuple[Any, ...]]:
    return rows(
        url, "SELECT run_id, integration_type, running FROM running_syncs WHERE org_id = %s", org_id
    )
