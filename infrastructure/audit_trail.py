"""What an auditor asks of the service, over the shared pool: the chain check and the bundle."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from infrastructure.audit import verify_chain
from infrastructure.event_store import PostgresEventStore
from infrastructure.evidence import build_evidence_zip
from infrastructure.files import FsspecStorage


class AuditTrail:
    def __init__(self, pool: ConnectionPool, store: PostgresEventStore, files: FsspecStorage) -> None:
        self.pool = pool
        self.store = store
        self.files = files

    def verify(self, org_id: UUID) -> dict[str, Any]:
        """Recompute the organisation's chain from the stored events (contract shape)."""
        with self.pool.connection() as conn:
            return verify_chain(conn, org_id).as_dict()

    def evidence(self, org_id: UUID, run_id: UUID) -> bytes:
        """The run's evidence zip; NotFound for a run of another organisation."""
        with self.pool.connection() as conn:
            return build_evidence_zip(conn, self.store, self.files, org_id, run_id)
