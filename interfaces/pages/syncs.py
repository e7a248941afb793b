"""Integration (sync) runs: history per integration with a chart, one run, starting one."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from application.ports import NotFound, SyncAlreadyRunning
from domain.shared import Actor, DomainError
from interfaces.http.deps import SYNC_STARTERS
from interfaces.http.sync_schemas import SyncRunStart
from interfaces.pages import views
from interfaces.pages.chart import bars
from interfaces.pages.forms import form_data, parse
from interfaces.pages.i18n import N_
from interfaces.pages.web import Member, PageError, check_csrf, render, require, services_of

router = APIRouter(prefix="/orgs/{org_id}/sync-runs", include_in_schema=False)


def _history(request: Request, org_id: UUID, principal: Member, integration_type: str | None,
             values: dict[str, str], errors: dict[str, str], status: int = 200,
             running: str | None = None) -> Response:
    services = services_of(request)
    runs = views.sync_runs(services, org_id, integration_type)
    integrations = sorted({h["integration_type"] for h in views.sync_health(services, org_id)})
    return render(request, "sync_runs.html", status=status, principal=principal, org_id=org_id,
                  runs=runs[:100], integration_type=integration_type, integrations=integrations,
                  chart=bars(views.outcomes_by_day(runs)), days=views.outcomes_by_day(runs),
                  values=values, errors=errors, running=running, title=N_("Integration runs"))


@router.get("")
def history(request: Request, org_id: UUID, principal: Member,
            integration_type: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    try:
        return _history(request, org_id, principal, integration_type or None, {}, {})
    except DomainError:  # not a name an integration can have
        raise PageError(404) from None


@router.post("")
async def start(request: Request, org_id: UUID, principal: Member) -> Response:
    data = await form_data(request)
    check_csrf(request, data.get("csrf_token"))
    require(principal, SYNC_STARTERS)
    values = {"integration_type": data.get("integration_type", "").strip(),
              "triggered_by": "manual"}
    body, errors = parse(SyncRunStart, values)
    if body is None:
        return _history(request, org_id, principal, None, values, errors, status=422)
    assert isinstance(body, SyncRunStart)
    actor = Actor(principal.sub, org_id, request.state.correlation_id)
    try:
        run = services_of(request).sync_runs.start(org_id, body.integration_type,
                                                    body.triggered_by, actor)
    except SyncAlreadyRunning as exc:
        existing = str(exc.existing_run_id) if exc.existing_run_id else None
        return _history(request, org_id, principal, None, values, {
            "integration_type": N_("A run of this integration is already running")},
            status=409, running=existing)
    return RedirectResponse(f"/orgs/{org_id}/sync-runs/{run.id}", status_code=303)


@router.get("/{run_id}")
def run_page(request: Request, org_id: UUID, run_id: UUID, principal: Member) -> Response:
    services = services_of(request)
    try:
        run = views.sync_run(services, org_id, run_id)
        events = views.events(services.sync_runs, org_id, run_id)
    except NotFound:
        raise PageError(404) from None
    return render(request, "sync_run.html", principal=principal, org_id=org_id, run=run,
                  events=events, version=events[-1]["version"] if events else 0,
                  title=N_("Integration run"))


@router.get("/{run_id}/status")
def run_status(request: Request, org_id: UUID, run_id: UUID, principal: Member,
               seen: Annotated[int | None, Query(ge=0)] = None) -> Response:
    """The run's facts and timeline, refreshed by htmx while it runs (204 while unchanged)."""
    services = services_of(request)
    try:
        events = views.events(services.sync_runs, org_id, run_id)
        run = views.sync_run(services, org_id, run_id)
    except NotFound:
        raise PageError(404) from None
    version = events[-1]["version"] if events else 0
    if seen is not None and seen == version:
        return Response(status_code=204)
    return render(request, "partials/sync_run_status.html", principal=principal, org_id=org_id,
                  run=run, events=events, version=version, seen=seen, announce=True)
