"""Versioned, idempotent migrations: our SQL files, the event store tables, the queue's schema."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import psycopg

from infrastructure.sql import queries

log = logging.getLogger(__name__)

LOCK_ID = 7_460_139_021  # advisory lock taken while migrating, so parallel starts wait

SQL = queries("migrations")


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


#: The queue's schema comes from the procrastinate package, which changes it between its own
#: releases (and migrates it itself); only our files must stay as they were applied.
UNCHECKED = frozenset({1000})


class ChangedMigration(RuntimeError):
    """An applied migration's file differs from what was applied: the schema may not match."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(
            "applied migration(s) changed since they were applied: "
            + ", ".join(names)
            + ". Restore the original file(s) and add a new migration for the change."
        )
        self.names = names


@dataclass(frozen=True)
class MigrationState:
    version: int
    name: str
    state: str  # applied | pending | changed | unknown (applied, but no such file here)
    applied_at: datetime | None


def checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


def _applied(conn: psycopg.Connection) -> dict[int, tuple[str, str, datetime]]:
    exists = conn.execute(SQL["ledger_exists"]).fetchone()
    if not (exists and exists[0]):
        return {}
    rows = conn.execute(SQL["applied"])
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def states(conn: psycopg.Connection) -> list[MigrationState]:
    """Every migration known here or recorded in the database, in order, with its state."""
    applied = _applied(conn)
    out = []
    for version, name, sql in all_migrations():
        if version not in applied:
            out.append(MigrationState(version, name, "pending", None))
            continue
        _, stored, at = applied.pop(version)
        changed = version not in UNCHECKED and stored != checksum(sql)
        out.append(MigrationState(version, name, "changed" if changed else "applied", at))
    out += [MigrationState(v, n, "unknown", at) for v, (n, _, at) in applied.items()]
    return sorted(out, key=lambda m: m.version)


def verify(conn: psycopg.Connection) -> None:
    """Refuse to go on when an applied migration's file was edited afterwards."""
    changed = [m.name for m in states(conn) if m.state == "changed"]
    if changed:
        raise ChangedMigration(changed)


def pending(conn: psycopg.Connection) -> list[tuple[int, str, str]]:
    applied = _applied(conn)
    return [m for m in all_migrations() if m[0] not in applied]


def migrate(url: str) -> list[str]:
    """Apply what is missing; returns the names applied (empty when up to date).
    Raises ChangedMigration, applying nothing, when an applied file was edited."""
    from infrastructure.database import eventsourcing_env
    from infrastructure.event_store import create_event_tables
    from infrastructure.projections.runner import create_tracking_tables

    done: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SQL["lock"], {"lock_id": LOCK_ID})
        try:
            conn.execute(SQL["create_ledger"])
            verify(conn)
            # The library's events table first (CREATE ... IF NOT EXISTS), so that our files
            # may change it (0170) on a fresh database too.
            create_event_tables(url)
            for version, name, sql in pending(conn):
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute(SQL["record"], {"version": version, "name": name,
                                                 "checksum": checksum(sql)})
                log.info("applied migration %s", name)
                done.append(name)
            create_tracking_tables(eventsourcing_env(url, 1))
        finally:
            conn.execute(SQL["unlock"], {"lock_id": LOCK_ID})
    return done


def is_up_to_date(url: str) -> bool:
    with psycopg.connect(url, connect_timeout=3) as conn:
        return not pending(conn)
