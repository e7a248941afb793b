"""Versioned, idempotent migrations: our SQL files, the event store tables, the queue's schema."""

from __future__ import annotations

import hashlib
import logging
from importlib import resources

import psycopg

log = logging.getLogger(__name__)

LOCK_ID = 7_460_139_021  # advisory lock taken while migrating, so parallel starts wait

LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


def migration_files() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files(__package__).iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def _queue_schema() -> str:
    from procrastinate import schema

    return schema.SchemaManager.get_schema()


def all_migrations() -> list[tuple[int, str, str]]:
    """Our files, with the queue's schema as version 1000 (it is applied once, like ours)."""
    return [*migration_files(), (1000, "procrastinate_schema", _queue_schema())]


def pending(conn: psycopg.Connection) -> list[tuple[int, str, str]]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    applied: set[int] = set()
    if exists and exists[0]:
        applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
    return [m for m in all_migrations() if m[0] not in applied]


def migrate(url: str) -> list[str]:
    """Apply what is missing; returns the names applied (empty when up to date)."""
    from infrastructure.database import eventsourcing_env
    from infrastructure.event_store import create_event_tables
    from infrastructure.projections.runner import create_tracking_tables

    done: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
        try:
            conn.execute(LEDGER)
            for version, name, sql in pending(conn):
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (version, name, hashlib.sha256(sql.encode()).hexdigest()),
                    )
                log.info("applied migration %s", name)
                done.append(name)
            create_event_tables(url)
            create_tracking_tables(eventsourcing_env(url, 1))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_ID,))
    return done


def is_up_to_date(url: str) -> bool:
    with psycopg.connect(url, connect_timeout=3) as conn:
        return not pending(conn)
