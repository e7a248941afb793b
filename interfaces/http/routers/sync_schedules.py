"""Sync schedules: when an organisation's integration is synced (cron in a time zone)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from domain.sync_run import validate_integration_type
from interfaces.http.deps import EXPORTERS, READERS, ServicesDep, actor_of, require
from interfaces.http.sync_schemas import ScheduleIn, ScheduleOut

router = APIRouter(
    prefix="/v1/orgs/{org_id}/sync-schedules/{integration_type}", tags=["sync schedules"]
)


@router.put("", response_model=ScheduleOut)
def put_schedule(
    org_id: UUID,
    integration_type: str,
    body: ScheduleIn,
    request: Request,
    services: ServicesDep,
    principal: Annotated[Any, require(EXPORTERS)],
) -> ScheduleOut:
    """Create or change the schedule (coordinator, admin); the same body again changes nothing."""
    saved = services.sync_schedules.put(
        org_id,
        validate_integration_type(integration_type),
        body.cron,
        body.timezone,
        body.period,
        actor_of(request, principal),
    )
    return ScheduleOut(**saved)


@router.get("", response_model=ScheduleOut)
def get_schedule(
    org_id: UUID,
    integration_type: str,
    services: ServicesDep,
    _: Annotated[Any, require(READERS)],
) -> ScheduleOut:
    """The schedule, or 404 when none is configured."""
    found = services.sync_schedules.get(org_id, validate_integration_type(integration_type))
    return ScheduleOut(**found)


@router.delete("", status_code=204)
def delete_schedule(
    org_id: UUID,
    integration_type: str,
    request: Request,
    services: ServicesDep,
    principal: Annotated[Any, require(EXPORTERS)],
) -> Response:
    """Stop scheduling this integration (its history stays); 404 when none is configured."""
    services.sync_schedules.delete(
        org_id, validate_integration_type(integration_type), actor_of(request, principal)
    )
    return Response(status_code=204)
