"""Delivery connections in PostgreSQL: settings, encrypted credentials, health; and the
advisory lock that lets one worker at a time post a run's lines."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from application.ports import DeliveryConnection, NotFound
from application.task_names import DELIVER_EXPORT_RUN
from domain.delivery import HEALTH_INTERVAL
from infrastructure.event_store import QUEUE
from infrastructure.sql import queries

#: First half of the two-key advisory lock; the second half comes from the run id.
LOCK_CLASS = 1_480_014

SQL = queries("delivery_connections")
DELIVERIES = queries("deliveries")


class Cipher(Protocol):
    def encrypt(self, credentials: dict[str, str]) -> bytes: ...

    def decrypt(self, token: bytes) -> dict[str, str]: ...

    def rotate(self, token: bytes) -> bytes: ...


def lock_key(run_id: UUID) -> int:
    return int.from_bytes(run_id.bytes[:4], "big", signed=True)


class PostgresDeliveryConnections:
    def __init__(self, pool: ConnectionPool, cipher: Cipher) -> None:
        self.pool = pool
        self.cipher = cipher

    def save(
        self,
        org_id: UUID,
        target: str,
        settings: dict[str, Any],
        credentials: dict[str, str] | None,
        configured_by: str,
    ) -> DeliveryConnection:
        token = self.cipher.encrypt(credentials) if credentials is not None else None
        with self.pool.connection() as conn, conn.transaction():
            params = {
                "org_id": org_id, "target": target, "settings": Jsonb(settings),
                "credentials": token or b"", "new_credentials": token, "by": configured_by,
                "changed": token is not None,
            }
            conn.execute(SQL["save"], params)
            conn.execute(SQL["record_change"], params)
        return self.get(org_id, target)

    def get(self, org_id: UUID, target: str) -> DeliveryConnection:
        with self.pool.connection() as conn:
            row = conn.execute(SQL["get"], {"org_id": org_id, "target": target}).fetchone()
        if row is None:
            raise NotFound(org_id)
        health = None
        if row[5] is not None:
            health = {
                "ok": row[5], "at": row[6], "message": row[7], "failures": row[8],
                "next_check_at": row[9],
            }
        return DeliveryConnection(
            org_id=row[0], target=row[1], settings=dict(row[2]), credentials_set=True,
            configured_at=row[3], configured_by=row[4], health=health,
        )

    def credentials(self, org_id: UUID, target: str) -> dict[str, str]:
        with self.pool.connection() as conn:
            row = conn.execute(SQL["credentials"], {"org_id": org_id, "target": target}).fetchone()
        if row is None:
            raise NotFound(org_id)
        return self.cipher.decrypt(bytes(row[0]))

    def record_health(
        self, org_id: UUID, target: str, ok: bool, message: str, at: datetime,
        next_check_at: datetime, failures: int,
    ) -> None:
        with self.pool.connection() as conn:
            conn.execute(SQL["record_health"], {
                "ok": ok, "at": at, "message": message[:500], "failures": failures,
                "next": next_check_at, "org_id": org_id, "target": target,
            })

    def due_for_health(self, now: datetime) -> list[tuple[UUID, str]]:
        """The connections due for a check, claimed: nobody else gets them for 15 minutes."""
        params = {"now": now, "claim_until": now + HEALTH_INTERVAL}
        with self.pool.connection() as conn:
            return [(r[0], r[1]) for r in conn.execute(SQL["due_for_health"], params)]

    def health_counts(self) -> list[tuple[str, str, int]]:
        with self.pool.connection() as conn:
            return [(r[0], r[1], r[2]) for r in conn.execute(SQL["health_counts"])]

    @contextlib.contextmanager
    def hold_delivery(self, run_id: UUID) -> Iterator[bool]:
        """A session advisory lock on a connection kept for the whole delivery: a killed
        worker's session ends and PostgreSQL releases the lock with it."""
        lock = {"class": LOCK_CLASS, "key": lock_key(run_id)}
        with self.pool.connection() as conn:
            conn.autocommit = True
            got = conn.execute(SQL["try_lock"], lock).fetchone()
            held = bool(got and got[0])
            try:
                yield held
            finally:
                if held:
                    conn.execute(SQL["unlock"], lock)
                conn.autocommit = False

    def orphaned_deliveries(self, older_than_seconds: int) -> list[UUID]:
        params = {"older": older_than_seconds, "task": DELIVER_EXPORT_RUN}
        with self.pool.connection() as conn:
            return [r[0] for r in conn.execute(DELIVERIES["orphaned_deliveries"], params)]

    def requeue_delivery(self, run_id: UUID) -> bool:
        params = {"queue": QUEUE, "task": DELIVER_EXPORT_RUN, "lock": f"deliver:{run_id}",
                  "args": Jsonb({"run_id": str(run_id)})}
        try:
            with self.pool.connection() as conn:
                conn.execute(DELIVERIES["requeue_delivery"], params)
        except psycopg.errors.UniqueViolation:
            return False  # another sweep queued it a moment ago
        return True

    def verify_all(self) -> int:
        """Decrypt every stored credential (start-up check); raises the cipher's problem."""
        count = 0
        with self.pool.connection() as conn:
            for (token,) in conn.execute(SQL["all_credentials"]):
                self.cipher.decrypt(bytes(token))
                count += 1
        return count

    def rotate_all(self) -> int:
        """Re-encrypt every credential with the first key, in one transaction."""
        with self.pool.connection() as conn, conn.transaction():
            rows = conn.execute(SQL["all_credentials_for_update"]).fetchall()
            for org_id, target, token in rows:
                conn.execute(SQL["replace_credentials"], {
                    "credentials": self.cipher.rotate(bytes(token)), "org_id": org_id,
                    "target": target,
                })
        return len(rows)
