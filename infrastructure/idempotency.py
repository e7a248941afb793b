"""Idempotency-Key records (IETF draft-ietf-httpapi-idempotency-key-header), per organisation."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from application.ports import IdempotencyOutcome

# A first request that died without an answer frees its key after this long.
ABANDONED_AFTER_SECONDS = 60


Outcome = IdempotencyOutcome


class PostgresIdempotencyKeys:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def begin(self, org_id: UUID, key: str, fingerprint: str) -> Outcome:
        with self.pool.connection() as conn:
            inserted = conn.execute(
                "INSERT INTO idempotency_keys (org_id, key, fingerprint) VALUES (%s, %s, %s) "
                "ON CONFLICT (org_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
                "created_at = now() "
                "WHERE idempotency_keys.status_code IS NULL "
                "AND idempotency_keys.created_at < now() - make_interval(secs => %s) "
                "RETURNING 1",
                (org_id, key, fingerprint, ABANDONED_AFTER_SECONDS),
            ).fetchone()
            if inserted:
                return Outcome("new")
            row = conn.execute(
                "SELECT fingerprint, status_code, response FROM idempotency_keys "
                "WHERE org_id = %s AND key = %s",
                (org_id, key),
            ).fetchone()
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
            conn.execute(
                "UPDATE idempotency_keys SET status_code = %s, response = %s, completed_at = now() "
                "WHERE org_id = %s AND key = %s AND status_code IS NULL",
                (status_code, Jsonb(body), org_id, key),
            )

    def abandon(self, org_id: UUID, key: str) -> None:
        """Forget a key whose request failed unexpectedly, so the client may retry with it."""
        with self.pool.connection() as conn:
            conn.execute(
                "DELETE FROM idempotency_keys WHERE org_id = %s AND key = %s AND status_code IS NULL",
                (org_id, key),
            )

    def purge(self, older_than_hours: int) -> int:
        with self.pool.connection() as conn:
            cur = conn.execute(
                "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => %s)",
                (older_than_hours,),
            )
            return cur.rowcount
