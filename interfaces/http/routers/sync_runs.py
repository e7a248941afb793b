"""Sync runs: start one, end it, the latest per integration, history, one run (its events are
served by routers/history.py)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from application.ports import SyncAlreadyRunning
from interfaces.http.deps import READERS, SYNC_STARTERS, ServicesDep, actor_of, require
from interfaces.http.input_safety import BoundedDatetime
from interfaces.http.sync_schemas import (
    SyncRunning,
    SyncRunOut,
    SyncRunStart,
    SyncRunStarted,
    SyncRunStatusUpdate,
)

router = APIRouter(prefix="/v1/orgs/{org_id}/sync-runs", tags=["sync runs"])



@router.post(
    "", status_code=201, response_model=SyncRunStarted, responses={409: {"model": SyncRunning}}
)
def start(
    org_id: UUID,
    body: SyncRunStart,
    request: Request,
    services: ServicesDep,
    principal: Annotated[Any, require(SYNC_STARTERS)],
) -> Any:
    """Start a run; 409 naming the running run when one of this integration type is running."""
    try:
        run = services.sync_runs.start(
            org_id, body.integration_type, body.triggered_by, actor_of(request, principal)
        )
    except SyncAlreadyRunning as running:
        existing = str(running.existing_run_id) if running.existing_run_id else None
        return JSONResponse(
            {
                "detail": f"a '{body.integration_type}' sync is already running",
                "code": "sync_already_running",
                "existing_run_id": existing,
            },
            status_code=409,
        )
    return JSONResponse({"run_id": str(run.id), "status": "running"}, status_code=201)


@router.post("/{run_id}/status", response_model=SyncRunOut)
def update_status(
    org_id: UUID,
    run_id: UUID,
    body: SyncRunStatusUpdate,
    request: Request,
    services: ServicesDep,
    principal: Annotated[Any, require(SYNC_STARTERS)],
) -> SyncRunOut:
    """End a running run (409 when it is not running); the message is sanitised first."""
    view = services.sync_runs.finish(
        org_id,
        run_id,
        body.status,
        body.records_processed,
        body.records_failed,
        body.error_message,
        actor_of(request, principal),
    )
    return SyncRunOut.of(view)


@router.get("/latest", response_model=list[SyncRunOut])
def latest(
    org_id: UUID, services: ServicesDep, _: Annotated[Any, require(READERS)]
) -> list[SyncRunOut]:
    """The most recent run of each integration type, from the sync_run_log read model."""
    return [SyncRunOut.of(row) for row in services.sync_runs.latest(org_id)]


@router.get("", response_model=list[SyncRunOut])
def history(
    org_id: UUID,
    services: ServicesDep,
    _: Annotated[Any, require(READERS)],
    integration_type: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    include_archived: bool = False,
) -> list[SyncRunOut]:
    """Runs newest first (`started_at` descending); archived ones too on request."""
    rows = services.sync_runs.history(org_id, integration_type, limit, include_archived)
    return [SyncRunOut.of(row) for row in rows]


@router.get("/{run_id}", response_model=SyncRunOut)
def get_run(
    org_id: UUID,
    run_id: UUID,
    services: ServicesDep,
    _: Annotated[Any, require(READERS)],
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    as_of: BoundedDatetime | None = None,
) -> SyncRunOut:
    """The run as its events say, now, after event `version`, or as it was at `as_of`."""
    return SyncRunOut.of(services.sync_runs.view(org_id, run_id, version=version, as_of=as_of))
