"""The overview, an accounting export run's page, and the form that requests one."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from application.export_runs import accepted
from application.idempotency import Answer
from application.ports import ConcurrentChange, NotFound
from domain.export_run import RunAlreadyExists
from domain.shared import Actor, DomainError, Period
from interfaces.http.deps import AUDITORS, EXPORTERS
from interfaces.http.idempotency import fingerprint
from interfaces.http.schemas import ExportRunRequest
from interfaces.pages import views
from interfaces.pages.chart import bars
from interfaces.pages.forms import form_data, new_request_key, parse
from interfaces.pages.i18n import N_
from interfaces.pages.messages import from_text
from interfaces.pages.web import (
    Member,
    PageError,
    check_csrf,
    render,
    require,
    services_of,
)

router = APIRouter(prefix="/orgs/{org_id}", include_in_schema=False)


@router.get("")
def overview(request: Request, org_id: UUID, principal: Member) -> Response:
    services = services_of(request)
    days = views.outcomes_by_day(views.sync_runs(services, org_id))
    return render(
        request, "overview.html", principal=principal, org_id=org_id, title=N_("Overview"),
        runs=views.export_run_list(services, org_id),
        health=views.sync_health(services, org_id), chart=bars(days), days=days,
        bufdir_exports=views.bufdir_list(services, org_id, 10),
    )


def _form(request: Request, org_id: UUID, principal: Member, values: dict[str, str],
          errors: dict[str, str], status: int = 200, existing: str | None = None) -> Response:
    return render(request, "export_run_new.html", status=status, principal=principal,
                  org_id=org_id, values=values, errors=errors, existing=existing,
                  request_key=new_request_key(), title=N_("New accounting export"))


@router.get("/export-runs/new")
def new_export(request: Request, org_id: UUID, principal: Member) -> Response:
    require(principal, EXPORTERS)
    return _form(request, org_id, principal, {"target": "xledger"}, {})


@router.post("/export-runs")
async def request_export(request: Request, org_id: UUID, principal: Member) -> Response:
    data = await form_data(request)
    check_csrf(request, data.get("csrf_token"))
    require(principal, EXPORTERS)
    values = {k: data.get(k, "").strip() for k in ("period_start", "period_end", "target")}
    body, errors = parse(ExportRunRequest, values)
    if body is None:
        return _form(request, org_id, principal, values, errors, status=422)
    assert isinstance(body, ExportRunRequest)
    services = services_of(request)
    actor = Actor(principal.sub, org_id, request.state.correlation_id)
    key = data.get("request_key") or None

    def act(key: str | None) -> Answer:
        try:
            run_id = services.export_runs.request_export(
                org_id, Period(body.period_start, body.period_end), body.target, actor,
                idempotency_key=key)
        except RunAlreadyExists as exc:
            return Answer(409, {"status": "duplicate", "existing_run_id": str(exc.existing_run_id)})
        return Answer(*accepted(run_id), remembered=True)

    try:
        answer = services.idempotency.once(
            org_id, key, fingerprint(request.url.path, body.model_dump(mode="json")), act).body
    except DomainError as refused:
        field = getattr(refused, "field", None) or "period_start"
        return _form(request, org_id, principal, values,
                     {field: from_text(str(refused), field)}, status=422)
    if answer.get("status") == "duplicate":
        return _form(request, org_id, principal, values,
                     {"period_start": N_("An export run already covers this period")},
                     status=409, existing=answer.get("existing_run_id"))
    return RedirectResponse(f"/orgs/{org_id}/export-runs/{answer['run_id']}", status_code=303)


def _run(request: Request, org_id: UUID, run_id: UUID, version: int | None = None) -> dict:  # type: ignore[type-arg]
    try:
        return views.export_run(services_of(request), org_id, run_id, version)
    except NotFound:
        raise PageError(404) from None


@router.get("/export-runs/{run_id}")
def run_page(request: Request, org_id: UUID, run_id: UUID, principal: Member,
             version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None) -> Response:
    run = _run(request, org_id, run_id)
    past = _run(request, org_id, run_id, version) if version else None
    return render(
        request, "export_run.html", principal=principal, org_id=org_id, run=run, past=past,
        events=views.export_run_events(services_of(request), org_id, run_id),
        title=N_("Accounting export"),
    )


@router.get("/export-runs/{run_id}/status")
def run_status(request: Request, org_id: UUID, run_id: UUID, principal: Member,
               seen: Annotated[int | None, Query(ge=0)] = None) -> Response:
    """The part of the run page that htmx refreshes until the run has ended; 204 (nothing to
    swap, nothing announced) while the version the page shows is still the latest."""
    run = _run(request, org_id, run_id)
    if seen is not None and run["version"] == seen:
        return Response(status_code=204)
    return render(request, "partials/export_run_status.html", principal=principal,
                  org_id=org_id, run=run, announce=True, seen=seen,
                  events=views.export_run_events(services_of(request), org_id, run_id))


@router.get("/export-runs/{run_id}/row")
def run_row(request: Request, org_id: UUID, run_id: UUID, principal: Member,
            seen: Annotated[int | None, Query(ge=0)] = None) -> Response:
    """The run's row of the overview, refreshed by htmx until nothing more happens to it."""
    run = _run(request, org_id, run_id)
    if seen is not None and run["version"] == seen:
        return Response(status_code=204)
    return render(request, "partials/export_run_row.html", principal=principal, org_id=org_id,
                  run=run, announce=seen is not None)


@router.post("/export-runs/{run_id}/delivery")
async def retry_delivery(request: Request, org_id: UUID, run_id: UUID, principal: Member
                         ) -> Response:
    """The same as POST /v1/.../delivery: queue a failed delivery again (coordinator, admin)."""
    data = await form_data(request)
    check_csrf(request, data.get("csrf_token"))
    require(principal, EXPORTERS)
    actor = Actor(principal.sub, org_id, request.state.correlation_id)
    try:
        services_of(request).delivery.retry_failed(org_id, run_id, actor)
    except NotFound:
        raise PageError(404) from None
    except (DomainError, ConcurrentChange):  # not failed (any more): nothing to retry
        raise PageError(409) from None
    return RedirectResponse(f"/orgs/{org_id}/export-runs/{run_id}", status_code=303)


@router.get("/export-runs/{run_id}/evidence")
def evidence(request: Request, org_id: UUID, run_id: UUID, principal: Member) -> Response:
    """The same bundle as GET /v1/.../evidence, for a signed-in auditor."""
    require(principal, AUDITORS)
    try:
        body = services_of(request).audit.evidence(org_id, run_id)
    except NotFound:
        raise PageError(404) from None
    return Response(body, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="evidence-{run_id}.zip"',
        "Cache-Control": "no-store"})
