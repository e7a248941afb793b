"""Is the database there: the readiness probe, and the errors that mean "not reachable now"
(which the API answers with 503 and a Retry-After, never 500)."""

from __future__ import annotations

from collections.abc import Callable

import eventsourcing.persistence
import procrastinate.exceptions
import psycopg

from application.ports import DatabaseUnavailable
from infrastructure.database import SessionOptionsOptional
from infrastructure.migrations import is_up_to_date
from infrastructure.sql import queries

SQL = queries("database")

#: Seconds a readiness probe may wait for the database before answering "not ready".
READINESS_TIMEOUT_SECONDS = 2

#: What a request meets while the database is unreachable (connection refused or lost, pool
#: wait or connect timed out, statement cancelled).
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    DatabaseUnavailable,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    eventsourcing.persistence.OperationalError,
    eventsourcing.persistence.InterfaceError,
    procrastinate.exceptions.ConnectorException,
)


def readiness_of(
    url: str, worker_alive: Callable[[], bool] | None = None
) -> Callable[[], tuple[bool, str]]:
    """Ready when the database answers now (checked on every call, with a short timeout),
    every migration is applied (remembered once true) and, if asked, the worker runs."""
    migrated = {"ok": False}

    def check() -> tuple[bool, str]:
        try:
            with SessionOptionsOptional.connect(
                url, connect_timeout=READINESS_TIMEOUT_SECONDS,
                options=f"-c statement_timeout={READINESS_TIMEOUT_SECONDS * 1000}",
            ) as conn:
                conn.execute(SQL["ping"])
            if not migrated["ok"]:
                if not is_up_to_date(url):
                    return False, "migrations not applied"
                migrated["ok"] = True
        except psycopg.Error:
            return False, "database unreachable"
        if worker_alive is not None and not worker_alive():
            return False, "worker not running"
        return True, "ok"

    return check
