"""Approved expense claims (source data, not an aggregate) and which of them a run may take."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool

from application.ports import ClaimImport, ClaimRecord, LockedClaim
from infrastructure.sql import queries

SQL = queries("claims")

#: The fields a claim is compared on, in the order they are named in `changed`.
FIELDS = ("claimant_id", "expense_date", "approved_at", "category", "amount", "currency",
          "description", "amount_nok")


def changed_fields(stored: dict[str, Any], sent: ClaimRecord) -> list[str]:
    """The fields whose values differ (amounts as numbers, times as instants)."""
    changed = []
    for name in FIELDS:
        old, new = stored[name], getattr(sent, name)
        if name in ("amount", "amount_nok") and old is not None and new is not None:
            old, new = Decimal(str(old)), Decimal(str(new))
        if old != new:
            changed.append(name)
    return changed


ITERSIZE = 2000


class PostgresClaims:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def upsert(self, org_id: UUID, claims: Sequence[ClaimRecord]) -> ClaimImport:
        """New and changed claims are stored; claims an export run holds keep their values."""
        if not claims:
            return ClaimImport(0, 0, [])
        with self.pool.connection() as conn, conn.transaction():
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(SQL["stored"], {"org_id": org_id, "ids": [c.id for c in claims]})
                stored = {row["id"]: row for row in cur}
            write: list[ClaimRecord] = []
            locked: list[LockedClaim] = []
            unchanged = 0
            for index, claim in enumerate(claims):
                row = stored.get(claim.id)
                changed = changed_fields(row, claim) if row is not None else list(FIELDS)
                if not changed:
                    unchanged += 1
                elif row is not None and row["run_id"] is not None:
                    locked.append(LockedClaim(index, claim.id, row["run_id"], changed))
                else:
                    write.append(claim)
            if write:
                conn.execute(SQL["upsert"], _columns(org_id, write))
            for lock in locked:
                conn.execute(SQL["record_late"], {"org_id": org_id, "claim_id": lock.id,
                                           "run_id": lock.run_id, "changed": lock.changed})
        return ClaimImport(len(write), unchanged, locked)

    def late_corrections(self, org_id: UUID | None = None) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(SQL["late_count"], {"org_id": org_id}).fetchone()
        return int(row[0]) if row else 0

    def candidates(self, org_id: UUID, start: date, end: date) -> Iterator[ClaimRecord]:
        """Streamed with a server-side (named) cursor, ITERSIZE rows per round trip."""
        with (
            self.pool.connection() as conn,
            conn.transaction(),
            conn.cursor(name="claim_candidates", row_factory=dict_row) as cur,
        ):
            cur.itersize = ITERSIZE
            cur.execute(SQL["candidates"], {"org_id": org_id, "start": start, "end": end})
            for row in cur:
                yield ClaimRecord(**row)

    def candidate_columns(
        self, org_id: UUID, start: date, end: date, size: int
    ) -> Iterator[dict[str, list[Any]]]:
        """The claims of `candidates`, `size` at a time, as parallel lists in the form a run's
        events record them: rows read as tuples and turned into columns whole (no dict, no
        ClaimRecord per claim), one server-side cursor in one transaction. Claim ids are read
        as the text PostgreSQL sends (its canonical form, which `str(UUID)` also gives): no
        UUID is built only to be turned back into text."""
        with (
            self.pool.connection() as conn,
            conn.transaction(),
            conn.cursor(name="claim_candidate_columns") as cur,
        ):
            cur.adapters.register_loader("uuid", TextLoader)
            cur.itersize = ITERSIZE
            cur.execute(SQL["candidates"], {"org_id": org_id, "start": start, "end": end})
            while rows := cur.fetchmany(size):
                yield _event_columns(rows)


def _event_columns(rows: Sequence[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """Rows of the `candidates` query as the columns `ClaimRecord.as_event_data` would give
    (ids, read as text, and dates as text), without `ledger_ref`."""
    ids, claimants, expense, approved, categories, amounts, currencies, texts, nok, late = (
        zip(*rows, strict=True))
    return {
        "claim_id": list(ids),
        "claimant_id": list(claimants),
        "expense_date": list(map(date.isoformat, expense)),
        "approved_at": list(map(datetime.isoformat, approved)),
        "category": list(categories),
        "amount": list(amounts),
        "currency": list(currencies),
        "description": list(texts),
        "late": list(late),
        "amount_nok": list(nok),
    }


def _columns(org_id: UUID, claims: Sequence[ClaimRecord]) -> dict[str, Any]:
    return {
        "org_id": org_id,
        "ids": [c.id for c in claims],
        "claimants": [c.claimant_id for c in claims],
        "expense": [c.expense_date for c in claims],
        "approved": [c.approved_at for c in claims],
        "categories": [c.category for c in claims],
        "amounts": [c.amount for c in claims],
        "currencies": [c.currency for c in claims],
        "descr": [c.description for c in claims],
        "amounts_nok": [c.amount_nok for c in claims],
    }
