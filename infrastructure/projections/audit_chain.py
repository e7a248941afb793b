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
from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from uuid import UUID

import msgspec
import psycopg

from infrastructure.projections.base import Decode, ReadModel, Row
from infrastructure.sql import queries

log = logging.getLogger(__name__)

GENESIS_PREFIX = "export-service:"

SQL = queries("projections")


def genesis(org_id: UUID | str) -> str:
    """The link before an organisation's first event."""
    return hashlib.sha256(f"{GENESIS_PREFIX}{UUID(str(org_id))}".encode()).hexdigest()


def canonical(
    notification_id: int, originator_id: UUID | str, originator_version: int, topic: str,
    state: bytes,
) -> bytes:
    """The bytes a link commits to: compact JSON (`json.dumps(..., separators=(",", ":"))` of
    [id, uuid, version, topic, sha256 hex of the state]), so they are easy to rebuild offline.
    Written out by hand: only the topic can need escaping, and it is one of a few."""
    uuid = originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
    return (
        f'[{int(notification_id)},"{uuid}",{int(originator_version)},{_json_text(topic)},'
        f'"{hashlib.sha256(state).hexdigest()}"]'
    ).encode("ascii")


@lru_cache(maxsize=256)
def _json_text(text: str) -> str:
    return json.dumps(text)


def chain_link(
    prev: str, notification_id: int, originator_id: UUID | str, originator_version: int,
    topic: str, state: bytes,
) -> str:
    """sha256(prev link as ASCII hex || canonical bytes of the event), as hex."""
    digest = hashlib.sha256(prev.encode("ascii"))
    digest.update(canonical(notification_id, originator_id, originator_version, topic, state))
    return digest.hexdigest()


def payload(row: Row) -> bytes:
    """The chain hashes every event's payload: it takes no topic bare."""
    if row.state is None:
        raise ValueError(f"event {row.notification_id} came without its payload")
    return row.state


class _Names(msgspec.Struct):
    """The only two top-level fields that can name an event's organisation."""

    actor: Any = None
    org_id: Any = None


_NAMES = msgspec.json.Decoder(_Names)


def org_of(state: bytes) -> UUID | None:
    """The organisation an event belongs to: `actor.org_id`, else `org_id`; None if unreadable.

    msgspec reads only those two fields (it checks the rest of the document is well-formed
    JSON but builds nothing for it); what it refuses but the standard library reads (NaN, a
    lone surrogate escape) goes to `_org_of_document`, so the answer is the same either way."""
    try:
        text = bytes(state).decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        names = _NAMES.decode(text)
    except msgspec.MsgspecError:
        return _org_of_document(text)
    return _org_named(names.actor, names.org_id)


def _org_of_document(text: str) -> UUID | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return _org_named(data.get("actor"), data.get("org_id"))


def _org_named(actor: Any, org_id: Any) -> UUID | None:
    for value in (actor.get("org_id") if isinstance(actor, dict) else None, org_id):
        # The transcoder may wrap UUIDs as {"_type_": "uuid_hex", "_data_": "..."}.
        if isinstance(value, dict):
            value = value.get("_data_")
        if isinstance(value, str) and (found := _uuid(value)) is not None:
            return found
    return None


@lru_cache(maxsize=4096)
def _uuid(text: str) -> UUID | None:
    """Organisations recur on every page: each text is parsed once."""
    try:
        return UUID(text)
    except ValueError:
        return None


class AuditChainProjection(ReadModel):
    """Chains every event of the log, whatever its aggregate, from the rows it is handed: each
    organisation's newest link is remembered between pages, and a page's links go in by COPY."""

    name = "audit_chain"
    every_event = True
    append_only = True  # a rebuild never empties it: re-hashing would launder earlier tampering

    def __init__(self) -> None:
        self.last: dict[UUID, tuple[int, str]] = {}

    def forget(self) -> None:
        self.last.clear()

    def write(self, conn: psycopg.Connection[Any], rows: Sequence[Row], decode: Decode) -> None:
        states = [payload(row) for row in rows]
        orgs = [org_of(state) for state in states]
        self._remember(conn, {o for o in orgs if o is not None and o not in self.last})
        links = []
        for row, state, org_id in zip(rows, states, orgs, strict=True):
            if org_id is None:
                log.error("event %s: not chained (names no organisation)", row.notification_id)
                continue
            seq, prev_link = self.last.get(org_id) or (0, genesis(org_id))
            link = chain_link(
                prev_link, row.notification_id, row.originator_id, row.originator_version,
                row.topic, state,
            )
            self.last[org_id] = (seq + 1, link)
            links.append(
                (org_id, seq + 1, row.notification_id, row.originator_id,
                 row.originator_version, link)
            )
        if links:
            with conn.cursor().copy(SQL["copy_links"]) as copy:
                copy.set_types(["uuid", "int8", "int8", "uuid", "int8", "text"])
                for values in links:
                    copy.write_row(values)

    def _remember(self, conn: psycopg.Connection[Any], orgs: set[UUID]) -> None:
        """Fetch the newest link of organisations met for the first time (one query a page)."""
        if not orgs:
            return
        for org_id, seq, link in conn.execute(SQL["last_links"], {"orgs": list(orgs)}):
            self.last[org_id] = (seq, link)


#: The entry for `runner.PROJECTIONS` (registered there by name, without a module-level import).
REGISTRATION = AuditChainProjection
