"""The event history of one export run, sync run or Bufdir export, for auditors and analysts.

One path per kind (never a free `{kind}` segment) and ids typed as UUIDs, so these routes can
not shadow `/sync-runs/latest` or any other route of the other routers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from application.ports import RecordedEvent
from application.runs import RunReads
from interfaces.http.deps import READERS, ServicesDep, require

router = APIRouter(prefix="/v1/orgs/{org_id}", tags=["audit"])

#: Keys never shown in an event's data: who acted is given apart (`actor`, `correlation_id`),
#: and the library's own bookkeeping says nothing an auditor needs.
HIDDEN = frozenset({"actor", "originator_topic", "class_version"})
#: Keys that may carry credentials if a future event ever held them: never shown.
SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey", "credential", "signature")


class EventOut(BaseModel):
    version: int
    type: str
    timestamp: datetime
    actor: str | None
    correlation_id: str | None
    data: dict[str, Any]


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


def _clean(value: Any) -> Any:
    """The value with any secret-looking key removed, at every depth."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if not _is_secret(str(k))}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def to_out(event: RecordedEvent) -> EventOut:
    actor = event.actor if isinstance(event.actor, dict) else {}
    return EventOut(
        version=event.version,
        type=event.type,
        timestamp=event.timestamp,
        actor=actor.get("sub"),
        correlation_id=actor.get("correlation_id"),
        data=_clean({k: v for k, v in event.data.items() if k not in HIDDEN}),
    )


def history_of(runs: RunReads[Any], org_id: UUID, run_id: UUID) -> list[EventOut]:
    """404 unless the id is a run of this kind belonging to the organisation."""
    return [to_out(e) for e in runs.events(org_id, run_id)]


@router.get("/export-runs/{run_id}/events", response_model=list[EventOut])
def export_run_events(
    org_id: UUID, run_id: UUID, services: ServicesDep, _: Annotated[Any, require(READERS)]
) -> list[EventOut]:
    """The run's events in order: version, type, timestamp, actor, correlation id, data."""
    return history_of(services.export_runs, org_id, run_id)


@router.get("/sync-runs/{sync_run_id}/events", response_model=list[EventOut])
def sync_run_events(
    org_id: UUID, sync_run_id: UUID, services: ServicesDep, _: Annotated[Any, require(READERS)]
) -> list[EventOut]:
    """The sync run's events in order (error messages are sanitised when recorded)."""
    return history_of(services.sync_runs, org_id, sync_run_id)


@router.get("/bufdir-exports/{export_id}/events", response_model=list[EventOut])
def bufdir_export_events(
    org_id: UUID, export_id: UUID, services: ServicesDep, _: Annotated[Any, require(READERS)]
) -> list[EventOut]:
    """The Bufdir export's events in order, one per pipeline step."""
    return history_of(services.bufdir_exports, org_id, export_id)
