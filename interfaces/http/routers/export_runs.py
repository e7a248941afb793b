"""Accounting export runs: request one, read one, list them."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request

from application.export_runs import accepted
from application.idempotency import Answer
from domain.export_run import ExportRunStatus, RunAlreadyExists
from domain.shared import Period
from interfaces.http.deps import EXPORTERS, READERS, ServicesDep, actor_of, require
from interfaces.http.idempotency import answer_once
from interfaces.http.input_safety import BoundedDatetime
from interfaces.http.metrics import EXPORT_RUNS_REQUESTED
from interfaces.http.schemas import Accepted, Duplicate, ExportRunOut, ExportRunRequest, FileInfo

router = APIRouter(prefix="/v1/orgs/{org_id}/export-runs", tags=["export runs"])


def to_out(services: Any, view: Any) -> ExportRunOut:
    data = view if isinstance(view, dict) else view.__dict__
    file = data.get("file")
    return ExportRunOut(
        run_id=data["run_id"],
        org_id=data["org_id"],
        period_start=data["period_start"],
        period_end=data["period_end"],
        target=data["target"],
        status=data["status"],
        record_count=data["record_count"],
        file=FileInfo(
            download_url=services.downloads.url(file["path"]),
            size_bytes=file["size_bytes"],
            sha256=file["sha256"],
        )
        if file
        else None,
        error=data.get("error"),
        created_at=data["created_at"],
        completed_at=data.get("completed_at"),
        version=data.get("version"),
        delivery=data.get("delivery"),
    )


@router.post(
    "",
    status_code=202,
    response_model=Accepted,
    responses={409: {"model": Duplicate}},
)
def request_export(
    org_id: UUID,
    body: ExportRunRequest,
    request: Request,
    services: ServicesDep,
    principal: Annotated[Any, require(EXPORTERS)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    """Queue an export of the period's claims; refused when an active run overlaps it."""

    def act(key: str | None) -> Answer:
        try:
            run_id = services.export_runs.request_export(
                org_id,
                Period(body.period_start, body.period_end),
                body.target,
                actor_of(request, principal),
                idempotency_key=key,
            )
        except RunAlreadyExists as exc:
            EXPORT_RUNS_REQUESTED.labels("duplicate").inc()
            return Answer(409, {"status": "duplicate", "existing_run_id": str(exc.existing_run_id)})
        EXPORT_RUNS_REQUESTED.labels("accepted").inc()
        return Answer(*accepted(run_id), remembered=True)

    return answer_once(services.idempotency, org_id, idempotency_key, request, body, act)


@router.get("", response_model=list[ExportRunOut])
def list_runs(
    org_id: UUID,
    services: ServicesDep,
    _: Annotated[Any, require(READERS)],
    status: ExportRunStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[ExportRunOut]:
    """Newest first, from the export_runs read model."""
    rows = services.export_runs.recent(org_id, status.value if status else None, limit)
    return [to_out(services, row) for row in rows]


@router.get("/{run_id}", response_model=ExportRunOut)
def get_run(
    org_id: UUID,
    run_id: UUID,
    services: ServicesDep,
    _: Annotated[Any, require(READERS)],
    version: Annotated[int | None, Query(ge=1)] = None,
    as_of: BoundedDatetime | None = None,
) -> ExportRunOut:
    """The run as its events say, now, after event `version`, or as it was at `as_of`."""
    view = services.export_runs.view(org_id, run_id, version=version, as_of=as_of)
    return to_out(services, view)


@router.post("/{run_id}/delivery", status_code=202, response_model=ExportRunOut)
def retry_delivery(
    org_id: UUID,
    run_id: UUID,
    request: Request,
    services: ServicesDep,
    principal: Annotated[Any, require(EXPORTERS)],
) -> ExportRunOut:
    """Queue a failed delivery again (409 unless it failed); it posts only what is missing."""
    services.delivery.retry_failed(org_id, run_id, actor_of(request, principal))
    return to_out(services, services.export_runs.view(org_id, run_id))
