"""The AuditLedger port (chain check, evidence bundle, daily heads) and the daily log line of
every organisation's audit chain head.

An auditor who keeps these lines (or the head of an evidence bundle) can later show that the
events *and* the chain were not rewritten together: a recomputed head must extend a kept one.

The head is logged in groups of eight hex digits, because the log filter redacts any long hex
run as a possible secret (infrastructure/log_safety.py); remove the spaces to compare.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from application.ports import FileStorage
from infrastructure.audit import head, verify_chain
from infrastructure.event_store import PostgresEventStore
from infrastructure.evidence import build_evidence_zip
from infrastructure.sql import queries

log = logging.getLogger(__name__)

ORGS_SQL = queries("audit")["chained_orgs"]


@dataclass(frozen=True)
class ChainHead:
    org_id: UUID
    events: int
    head: str


def grouped(link: str, size: int = 8) -> str:
    """`2d711642b726b044…` as `2d711642 b726b044 …`: survives the log filter, easy to read."""
    return " ".join(link[i : i + size] for i in range(0, len(link), size))


def log_heads(conn: psycopg.Connection[Any]) -> list[ChainHead]:
    """Log each organisation's chain head and how many events it covers; return them."""
    with conn.cursor(row_factory=tuple_row) as cur:
        orgs = [UUID(str(r[0])) for r in cur.execute(ORGS_SQL).fetchall()]
    heads = []
    for org_id in orgs:
        count, link = head(conn, org_id)
        heads.append(ChainHead(org_id, count, link))
        log.info("audit chain head: org %s events %d head %s", org_id, count, grouped(link))
    log.info("audit chain heads logged for %d organisations", len(heads))
    return heads


class PostgresAuditLedger:
    def __init__(self, pool: ConnectionPool, store: PostgresEventStore, files: FileStorage) -> None:
        self.pool = pool
        self.store = store
        self.files = files

    def verify(self, org_id: UUID) -> dict[str, Any]:
        with self.pool.connection() as conn:
            return verify_chain(conn, org_id).as_dict()

    def evidence(self, org_id: UUID, run_id: UUID) -> bytes:
        with self.pool.connection() as conn:
            return build_evidence_zip(conn, self.store, self.files, org_id, run_id)

    def log_heads(self) -> int:
        with self.pool.connection() as conn:
            return len(log_heads(conn))
