"""Recomputes the audit hash chain from the stored event rows, so auditors can trust the log.

The chain (written by the audit_chain projection) is compared with what the events table holds
now. Problems, earliest notification id first:
- altered:  a chained event's stored bytes (or ids) no longer give its link;
- removed:  a chain entry whose event row is gone;
- inserted: an event row of the organisation that is not chained although the chain already
  covers later notification ids (an unchained row above that point is only not projected yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg.rows import dict_row, tuple_row

from infrastructure.event_store import EVENTS_TABLE
from infrastructure.projections.audit_chain import chain_link, genesis, org_of
from infrastructure.sql.composed import composed

Problem = Literal["altered", "removed", "inserted"]

SQL = composed("audit", events=EVENTS_TABLE)


@dataclass(frozen=True)
class BadEvent:
    notification_id: int
    originator_id: UUID
    originator_version: int
    problem: Problem

    def as_dict(self) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
            "originator_id": str(self.originator_id),
            "originator_version": self.originator_version,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class VerifyResult:
    org_id: UUID
    ok: bool
    events_verified: int
    head: str
    first_bad_event: BadEvent | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.ok:
            return {"ok": True, "events_verified": self.events_verified, "head": self.head}
        assert self.first_bad_event is not None
        return {"ok": False, "first_bad_event": self.first_bad_event.as_dict()}


def _inserted(conn: psycopg.Connection[Any]) -> dict[UUID, BadEvent]:
    """The first unchained row at or below the chain's end, per organisation it names."""
    found: dict[UUID, BadEvent] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(SQL["unchained"]):
            org_id = org_of(row["state"])
            if org_id is not None and org_id not in found:
                found[org_id] = BadEvent(
                    row["notification_id"], row["originator_id"], row["originator_version"],
                    "inserted",
                )
    return found


def _walk(conn: psycopg.Connection[Any], org_id: UUID) -> tuple[int, str, BadEvent | None]:
    """Recompute the org's links in order; stops at the first entry that does not match."""
    count, prev = 0, genesis(org_id)
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(SQL["chain_with_rows"], {"org_id": org_id}):
            if row["e_notification_id"] is None:
                problem: Problem = "removed"
            else:
                link = chain_link(
                    prev, row["e_notification_id"], row["e_originator_id"],
                    row["e_originator_version"], row["topic"], row["state"],
                )
                if link == row["link"] and row["seq"] == count + 1:
                    count, prev = count + 1, link
                    continue
                problem = "altered"
            bad = BadEvent(
                row["notification_id"], row["originator_id"], row["originator_version"], problem
            )
            return count, prev, bad
    return count, prev, None


def _result(org_id: UUID, walked: tuple[int, str, BadEvent | None],
            inserted: BadEvent | None) -> VerifyResult:
    count, head_link, bad = walked
    candidates = [b for b in (bad, inserted) if b is not None]
    if not candidates:
        return VerifyResult(org_id, True, count, head_link)
    first = min(candidates, key=lambda b: b.notification_id)
    return VerifyResult(org_id, False, count, head_link, first)


def verify_chain(conn: psycopg.Connection[Any], org_id: UUID) -> VerifyResult:
    """Recompute one organisation's chain from the rows the events table holds now."""
    return _result(org_id, _walk(conn, org_id), _inserted(conn).get(org_id))


def verify_all(conn: psycopg.Connection[Any]) -> list[VerifyResult]:
    """Every organisation that has a chain or an unchained (inserted) row, in id order."""
    inserted = _inserted(conn)
    with conn.cursor(row_factory=tuple_row) as cur:
        orgs = {r[0] for r in cur.execute(SQL["chained_orgs"])}
    return [
        _result(org_id, _walk(conn, org_id), inserted.get(org_id))
        for org_id in sorted(orgs | set(inserted), key=str)
    ]


def head(conn: psycopg.Connection[Any], org_id: UUID) -> tuple[int, str]:
    """How many events the org's chain covers and its last link (the genesis value when none)."""
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(SQL["head"], {"org_id": org_id}).fetchone()
    return (int(row[0]), str(row[1])) if row else (0, genesis(org_id))
