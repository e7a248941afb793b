"""Bufdir reports: request one, follow it through the pipeline, see what counted and what not."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from application.bufdir_exports import accepted
from application.idempotency import Answer
from application.ports import NotFound
from domain.shared import Actor, DomainError, Period
from interfaces.http.deps import EXPORTERS
from interfaces.http.idempotency import fingerprint
from interfaces.http.routers.bufdir import BufdirExportRequest
from interfaces.pages import views
from interfaces.pages.forms import form_data, new_request_key, parse
from interfaces.pages.i18n import N_
from interfaces.pages.messages import from_text
from interfaces.pages.web import Member, PageError, check_csrf, render, require, services_of

router = APIRouter(prefix="/orgs/{org_id}/bufdir-exports", include_in_schema=False)


def _form(request: Request, org_id: UUID, principal: Member, values: dict[str, str],
          errors: dict[str, str], status: int = 200) -> Response:
    return render(request, "bufdir_new.html", status=status, principal=principal, org_id=org_id,
                  values=values, errors=errors, request_key=new_request_key(),
                  title=N_("New Bufdir report"))


@router.get("/new")
def new(request: Request, org_id: UUID, principal: Member) -> Response:
    require(principal, EXPORTERS)
    return _form(request, org_id, principal, {"format": "xlsx"}, {})


@router.post("")
async def request_report(request: Request, org_id: UUID, principal: Member) -> Response:
    data = await form_data(request)
    check_csrf(request, data.get("csrf_token"))
    require(principal, EXPORTERS)
    values = {k: data.get(k, "").strip() for k in ("period_start", "period_end", "format")}
    attachments = data.get("include_attachments") == "true"
    body, errors = parse(BufdirExportRequest, {**values, "include_attachments": attachments})
    if body is None:
        return _form(request, org_id, principal, values, errors, status=422)
    assert isinstance(body, BufdirExportRequest)
    services = services_of(request)
    actor = Actor(principal.sub, org_id, request.state.correlation_id)
    key = data.get("request_key") or None

    def act(key: str | None) -> Answer:
        export_id = services.bufdir_exports.request(
            org_id, Period(body.period_start, body.period_end), body.format,
            body.include_attachments, actor, idempotency_key=key)
        return Answer(*accepted(export_id), remembered=True)

    try:
        answer = services.idempotency.once(
            org_id, key, fingerprint(request.url.path, body.model_dump(mode="json")), act).body
    except DomainError as refused:
        field = getattr(refused, "field", None) or "period_start"
        return _form(request, org_id, principal, values,
                     {field: from_text(str(refused), field)}, status=422)
    return RedirectResponse(f"/orgs/{org_id}/bufdir-exports/{answer['export_id']}",
                            status_code=303)


def _export(request: Request, org_id: UUID, export_id: UUID) -> dict:  # type: ignore[type-arg]
    try:
        return views.bufdir_export(services_of(request), org_id, export_id)
    except NotFound:
        raise PageError(404) from None


@router.get("/{export_id}")
def export_page(request: Request, org_id: UUID, export_id: UUID, principal: Member) -> Response:
    export = _export(request, org_id, export_id)
    return render(request, "bufdir_export.html", principal=principal, org_id=org_id,
                  export=export, title=N_("Bufdir report"),
                  events=views.events(services_of(request).bufdir_exports, org_id, export_id))


@router.get("/{export_id}/progress")
def progress(request: Request, org_id: UUID, export_id: UUID, principal: Member,
             seen: Annotated[int | None, Query(ge=0)] = None) -> Response:
    """The pipeline steps and the timeline, refreshed by htmx until the export has ended
    (204 while the version the page shows is still the latest)."""
    export = _export(request, org_id, export_id)
    if seen is not None and seen == export["version"]:
        return Response(status_code=204)
    return render(request, "partials/bufdir_progress.html", principal=principal, org_id=org_id,
                  export=export, announce=True, seen=seen,
                  events=views.events(services_of(request).bufdir_exports, org_id, export_id))


@router.get("/{export_id}/row")
def row(request: Request, org_id: UUID, export_id: UUID, principal: Member,
        seen: Annotated[int | None, Query(ge=0)] = None) -> Response:
    """The export's row of the overview, refreshed by htmx until it has ended."""
    export = _export(request, org_id, export_id)
    if seen is not None and seen == export["version"]:
        return Response(status_code=204)
    return render(request, "partials/bufdir_row.html", principal=principal, org_id=org_id,
                  e=export, announce=seen is not None)
