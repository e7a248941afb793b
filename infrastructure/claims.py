"""Approved expense claims (source data, not an aggregate) and which of them a run may take."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from application.ports import ClaimImport, ClaimRecord, LockedClaim

UPSERT = """
INSERT INTO claims (org_id, id, claimant_id, expense_date, approved_at, category, amount,
                    currency, description, amount_nok)
SELECT %(org_id)s, * FROM unnest(%(ids)s::uuid[], %(claimants)s::text[], %(expense)s::date[],
                               %(approved)s::timestamptz[], %(categories)s::text[],
                               %(amounts)s::numeric[], %(currencies)s::text[], %(descr)s::text[],
                               %(amounts_nok)s::numeric[])
ON CONFLICT (org_id, id) DO UPDATE SET
    claimant_id = EXCLUDED.claimant_id, expense_date = EXCLUDED.expense_date,
    approved_at = EXCLUDED.approved_at, category = EXCLUDED.category, amount = EXCLUDED.amount,
    currency = EXCLUDED.currency, description = EXCLUDED.description,
    amount_nok = EXCLUDED.amount_nok, imported_at = now()
"""

# The stored claims of a batch, locked for this transaction, with the run that holds each.
STORED = """
SELECT c.id, c.claimant_id, c.expense_date, c.approved_at, c.category, c.amount, c.currency,
       c.description, c.amount_nok, r.run_id
FROM claims c LEFT JOIN claim_reservations r ON r.org_id = c.org_id AND r.claim_id = c.id
WHERE c.org_id = %(org_id)s AND c.id = ANY(%(ids)s::uuid[])
FOR UPDATE OF c
"""
RECORD_LATE = """
INSERT INTO late_corrections (org_id, claim_id, run_id, changed)
VALUES (%(org_id)s, %(claim_id)s, %(run_id)s, %(changed)s)
"""
LATE_COUNT = "SELECT count(*) FROM late_corrections WHERE %(org_id)s::uuid IS NULL OR org_id = %(org_id)s"
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


# Claims approved (Oslo date) in the period, plus late ones: approved before the period on a day
# that a completed run already covered. None that any active or completed run holds.
CANDIDATES = """
SELECT c.id, c.claimant_id, c.expense_date, c.approved_at, c.category, c.amount::text AS amount,
       c.currency, c.description, c.amount_nok::text AS amount_nok,
       (c.approved_at AT TIME ZONE 'Europe/Oslo')::date < %(start)s AS late
FROM claims c
WHERE c.org_id = %(org_id)s
  AND NOT EXISTS (SELECT 1 FROM claim_reservations r
                  WHERE r.org_id = c.org_id AND r.claim_id = c.id)
  AND (
    (c.approved_at AT TIME ZONE 'Europe/Oslo')::date BETWEEN %(start)s AND %(end)s
    OR (
      (c.approved_at AT TIME ZONE 'Europe/Oslo')::date < %(start)s
      AND EXISTS (SELECT 1 FROM covered_periods p
                  WHERE p.org_id = c.org_id
                    AND p.period @> (c.approved_at AT TIME ZONE 'Europe/Oslo')::date)
    )
  )
ORDER BY c.approved_at, c.id
"""


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
                cur.execute(STORED, {"org_id": org_id, "ids": [c.id for c in claims]})
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
                conn.execute(UPSERT, _columns(org_id, write))
            for lock in locked:
                conn.execute(RECORD_LATE, {"org_id": org_id, "claim_id": lock.id,
                                           "run_id": lock.run_id, "changed": lock.changed})
        return ClaimImport(len(write), unchanged, locked)

    def late_corrections(self, org_id: UUID | None = None) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(LATE_COUNT, {"org_id": org_id}).fetchone()
        return int(row[0]) if row else 0

    def candidates(self, org_id: UUID, start: date, end: date) -> Iterator[ClaimRecord]:
        """Streamed with a server-side (named) cursor, ITERSIZE rows per round trip."""
        with (
            self.pool.connection() as conn,
            conn.transaction(),
            conn.cursor(name="claim_candidates", row_factory=dict_row) as cur,
        ):
            cur.itersize = ITERSIZE
            cur.execute(CANDIDATES, {"org_id": org_id, "start": start, "end": end})
            for row in cur:
                yield ClaimRecord(**row)


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
