"""The per-organisation hash chain over the stored event rows (tamper evidence for auditors).

Each link commits to the bytes PostgreSQL holds for one event and to the organisation's previous
link, so an altered, removed or slipped-in row no longer matches when the chain is recomputed
(`infrastructure.audit.verify_chain`). The link is computed from the stored row, not from the
decoded domain event, so the check needs nothing but the table and `chain_link`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from infrastructure.event_store import EVENTS_TABLE
from infrastructure.projections.base import TrackedView

log = logging.getLogger(__name__)

GENESIS_PREFIX = "export-service:"

SELECT_EVENT = (
    "SELECT originator_id, originator_version, topic, state "  # noqa: S608 - constant name
    f"FROM {EVENTS_TABLE} WHERE notification_id = %s"
)
SELECT_PREVIOUS = "SELECT seq, link FROM audit_chain WHERE org_id = %s ORDER BY seq DESC LIMIT 1"
INSERT_LINK = (
    "INSERT INTO audit_chain (org_id, seq, notification_id, originator_id, originator_version, "
    "link) VALUES (%s, %s, %s, %s, %s, %s)"
)


def genesis(org_id: UUID | str) -> str:
    """The link before an organisation's first event."""
    return hashlib.sha256(f"{GENESIS_PREFIX}{UUID(str(org_id))}".encode()).hexdigest()


def canonical(
    notification_id: int, originator_id: UUID | str, originator_version: int, topic: str,
    state: bytes,
) -> bytes:
    """The bytes a link commits to: compact JSON, so they are easy to rebuild offline."""
    return json.dumps(
        [
            int(notification_id),
            str(UUID(str(originator_id))),
            int(originator_version),
            topic,
            hashlib.sha256(bytes(state)).hexdigest(),
        ],
        separators=(",", ":"),
    ).encode("utf-8")


def chain_link(
    prev: str, notification_id: int, originator_id: UUID | str, originator_version: int,
    topic: str, state: bytes,
) -> str:
    """sha256(prev link as ASCII hex || canonical bytes of the event), as hex."""
    digest = hashlib.sha256(prev.encode("ascii"))
    digest.update(canonical(notification_id, originator_id, originator_version, topic, state))
    return digest.hexdigest()


def org_of(state: bytes) -> UUID | None:
    """The organisation an event belongs to: `actor.org_id`, else `org_id`; None if unreadable."""
    try:
        data = json.loads(bytes(state).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    actor = data.get("actor")
    candidates = [actor.get("org_id") if isinstance(actor, dict) else None, data.get("org_id")]
    for value in candidates:
        # The transcoder may wrap UUIDs as {"_type_": "uuid_hex", "_data_": "..."}.
        if isinstance(value, dict):
            value = value.get("_data_")
        if isinstance(value, str):
            try:
                return UUID(value)
            except ValueError:
                continue
    return None


class AuditChainView(TrackedView):
    """Append-only: `reset` keeps the chain, so a rebuild only catches up (never re-hashes)."""

    tables = ()

    def append(self, tracking: Tracking) -> None:
        """Chain the stored row of `tracking.notification_id`, in the tracking transaction."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SELECT_EVENT, (tracking.notification_id,))
            row: Any = curs.fetchone()
            org_id = org_of(row["state"]) if row else None
            if row is None or org_id is None:
                log.error(
                    "event %s %s: not chained", tracking.notification_id,
                    "is gone" if row is None else "names no organisation",
                )
            else:
                curs.execute(SELECT_PREVIOUS, (org_id,))
                prev: Any = curs.fetchone()
                seq, prev_link = (prev["seq"] + 1, prev["link"]) if prev else (1, genesis(org_id))
                link = chain_link(
                    prev_link, tracking.notification_id, row["originator_id"],
                    row["originator_version"], row["topic"], row["state"],
                )
                curs.execute(
                    INSERT_LINK,
                    (
                        org_id, seq, tracking.notification_id, row["originator_id"],
                        row["originator_version"], link,
                    ),
                )
            self._insert_tracking(curs, tracking)

    def reset(self) -> None:
        """Never empties the chain: re-hashing today's rows would launder earlier tampering."""
        log.info("audit_chain is append-only: a rebuild only catches up with the log")


class AuditChainProjection(Projection[AuditChainView]):
    """Processes every event of the log, whatever its aggregate."""

    name = "audit_chain"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.append(tracking)


#: The entry for `runner.PROJECTIONS` (registered there by name, without a module-level import).
REGISTRATION = (AuditChainProjection, AuditChainView)
