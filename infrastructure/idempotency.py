"""Idempotency-Key records (IETF draft-ietf-httpapi-idempotency-key-header), per organisation."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from application.ports import IdempotencyOutcome
from infrastructure.sql import queries

# A first request that died without an answer frees its key after this long.
ABANDONED_AFTER_SECONDS = 60

SQL = queries("idempotency")

Outcome = IdempotencyOutcome


class PostgresIdempotencyKeys:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def begin(self, org_id: UUID, key: str, fingerprint: str) -> Outcome:
        params = {"org_id": org_id, "key": key, "fingerprint": fingerprint,
                  "abandoned_after": ABANDONED_AFTER_SECONDS}
        with self.pool.connection() as conn:
            if conn.execute(SQL["reserve"], params).fetchone():
                return Outcome("new")
            row = conn.execute(SQL["stored"], params).fetchone()
        if row is None:  # expired and purged between the two statements
            return self.begin(org_id, key, fingerprint)
        stored_fingerprint, status_code, body = row
        if stored_fingerprint != fingerprint:
            return Outcome("mismatch")
        if status_code is None:
            return Outcome("in_flight")
        return Outcome("replay", status_code, body)

    def finish(self, org_id: UUID, key: str, status_code: int, body: dict[str, Any]) -> None:
        with self.pool.connection() as conn:
            conn.execute(SQL["finish"], {"org_id": org_id, "key": key,
                                         "status_code": status_code, "body": Jsonb(body)})

    def abandon(self, org_id: UUID, key: str) -> None:
        """Forget a key whose request failed unexpectedly, so the client may retry with it."""
        with self.pool.connection() as conn:
            conn.execute(SQL["abandon"], {"org_id": org_id, "key": key})

    def purge(self, older_than_hours: int) -> int:
        with self.pool.connection() as conn:
            return conn.execute(SQL["purge"], {"hours": older_than_hours}).rowcount
