"""Bufdir grant reports: request an export, read it, list them; the organisation's configuration."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, Field, StrictBool

from application.bufdir_exports import accepted
from application.idempotency import Answer
from application.services import ApplicationServices
from domain.bufdir_config import BufdirConfigDocument
from domain.bufdir_config_aggregate import ConfigUnchanged
from domain.bufdir_export import BufdirExport, BufdirExportStatus, ReportFormat
from domain.shared import Period
from interfaces.http.auth import Role
from interfaces.http.deps import EXPORTERS, READERS, ServicesDep, actor_of, require
from interfaces.http.idempotency import answer_once
from interfaces.http.input_safety import BoundedDatetime
from interfaces.http.schemas import PeriodBody

router = APIRouter(prefix="/v1/orgs/{org_id}", tags=["bufdir"])

CONFIG_EDITORS = frozenset({Role.ADMIN})

class BufdirExportRequest(PeriodBody):
    format: ReportFormat = ReportFormat.XLSX
    include_attachments: StrictBool = False


class BufdirAccepted(BaseModel):
    export_id: UUID
    status: Literal["initialised"] = "initialised"


class StatusAt(BaseModel):
    status: BufdirExportStatus
    at: datetime


class Figures(BaseModel):
    activities: int
    activity_days: int
    participants: int


class AreaFigures(Figures):
    name: str


class RuleSetUsed(BaseModel):
    name: str
    applies_from: date


class BufdirSummary(BaseModel):
    """The counted figures of a completed export, by Bufdir's counting rules."""

    counted_activities: int
    activity_days: int = Field(description="Points are given per day an activity is held")
    by_category: dict[str, Figures]
    not_counted: dict[str, int] = Field(description="Reason code → activities not counted")
    participants: int | None = None
    rows: int | None = Field(default=None, description="Every activity in the period")
    by_county: dict[str, AreaFigures] = Field(default_factory=dict)
    by_municipality: dict[str, AreaFigures] = Field(default_factory=dict)
    rule_sets: list[RuleSetUsed] = Field(default_factory=list)
    municipality_data: str | None = Field(default=None,
                                          description="Date of the SSB municipality data")


class BufdirExportOut(BaseModel):
    export_id: UUID
    status: BufdirExportStatus
    row_count: int
    file_size_bytes: int | None
    download_url: str | None
    error_message: str | None
    status_history: list[StatusAt]
    period_start: date
    period_end: date
    format: ReportFormat
    include_attachments: bool
    config_version: int
    created_at: datetime
    summary: BufdirSummary | None = Field(
        default=None, description="Counted figures; set once the export is completed")


class ReportColumn(BaseModel):
    source: str = Field(description="What the column shows, e.g. `id`, `participants`")
    header: str = Field(description="The column's header in the report")


class ReasonRows(BaseModel):
    total: int = Field(description="Rows with this reason in the report")
    rows: list[dict[str, str]] = Field(
        description="At most `limit` of them: column source → the cell's text in the report")


class RowsNotCountedOut(BaseModel):
    """The report's rows that did not count, grouped by reason code, as the stored file has them."""

    export_id: UUID
    columns: list[ReportColumn]
    by_reason: dict[str, ReasonRows] = Field(
        description="Reason code (`too_few_participants`, ...) → its rows")
    has_reason_column: bool = Field(
        description="False when the export's configuration has no reason column")


class BufdirConfigOut(BufdirConfigDocument):
    version: int = Field(description="0 is the default configuration")


def _download_url(services: ApplicationServices, status: str, row_count: int, file: dict[str, Any] | None
                  ) -> str | None:
    if status != "completed" or not row_count or not file:
        return None
    return services.downloads.url(file["path"])


def _out_of_export(services: ApplicationServices, e: BufdirExport) -> BufdirExportOut:
    return BufdirExportOut(
        export_id=e.id, status=e.status, row_count=e.row_count,
        file_size_bytes=e.file["size_bytes"] if e.file else None,
        download_url=_download_url(services, e.status.value, e.row_count, e.file),
        error_message=e.error["message"] if e.error else None,
        status_history=[StatusAt(status=BufdirExportStatus(s), at=at) for s, at in e.status_history],
        period_start=e.period_start, period_end=e.period_end, format=e.format,
        include_attachments=e.include_attachments, config_version=e.config_version,
        created_at=e.created_on,
        summary=BufdirSummary.model_validate(e.summary) if e.summary else None,
    )


def _out_of_row(services: ApplicationServices, row: dict[str, Any]) -> BufdirExportOut:
    return BufdirExportOut(
        **{k: row[k] for k in ("export_id", "status", "row_count", "file_size_bytes",
                               "error_message", "status_history", "period_start", "period_end",
                               "format", "include_attachments", "config_version", "created_at",
                               "summary")},
        download_url=_download_url(services, row["status"], row["row_count"], row["file"]),
    )


@router.post("/bufdir-exports", status_code=202, response_model=BufdirAccepted)
def request_bufdir_export(
    org_id: UUID,
    body: BufdirExportRequest,
    request: Request,
    services: ServicesDep,
    principal: Annotated[Any, require(EXPORTERS)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    """Queue the report of the period's activities; built in the background."""

    def act(key: str | None) -> Answer:
        export_id = services.bufdir_exports.request(
            org_id, Period(body.period_start, body.period_end), body.format,
            body.include_attachments, actor_of(request, principal), idempotency_key=key,
        )
        return Answer(*accepted(export_id), remembered=True)

    return answer_once(services.idempotency, org_id, idempotency_key, request, body, act)


@router.get("/bufdir-exports", response_model=list[BufdirExportOut])
def list_bufdir_exports(
    org_id: UUID,
    services: ServicesDep,
    _: Annotated[Any, require(READERS)],
    status: BufdirExportStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[BufdirExportOut]:
    """Newest first, from the bufdir_audit_log read model."""
    rows = services.bufdir_exports.recent(org_id, status.value if status else None, limit)
    return [_out_of_row(services, row) for row in rows]


@router.get("/bufdir-exports/{export_id}", response_model=BufdirExportOut)
def get_bufdir_export(
    org_id: UUID,
    export_id: UUID,
    services: ServicesDep,
    _: Annotated[Any, require(READERS)],
    version: Annotated[int | None, Query(ge=1)] = None,
    as_of: BoundedDatetime | None = None,
) -> BufdirExportOut:
    """The export as its events say, now, after event `version`, or as it was at `as_of`."""
    export = services.bufdir_exports.as_it_was(org_id, export_id, version, as_of)
    return _out_of_export(services, export)


@router.get("/bufdir-exports/{export_id}/not-counted", response_model=RowsNotCountedOut)
def rows_not_counted(
    org_id: UUID,
    export_id: UUID,
    services: ServicesDep,
    _: Annotated[Any, require(READERS)],
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> RowsNotCountedOut:
    """The activities of a completed export that did not count, grouped by reason, read back
    from its stored report (409 until the export has completed)."""
    found = services.bufdir_exports.rows_not_counted(org_id, export_id, limit)
    return RowsNotCountedOut(export_id=export_id, **found.as_dict())


@router.put("/bufdir-config", response_model=BufdirConfigOut)
def put_bufdir_config(
    org_id: UUID,
    body: BufdirConfigDocument,
    request: Request,
    services: ServicesDep,
    principal: Annotated[Any, require(CONFIG_EDITORS)],
) -> BufdirConfigOut:
    """Record a new version of the organisation's report configuration; exports requested
    from now on use it and name its version. An unchanged document keeps its version."""
    try:
        version, document = services.bufdir_config.configure(
            org_id, body, actor_of(request, principal)
        )
    except ConfigUnchanged:
        version, document = services.bufdir_config.current(org_id)
    return BufdirConfigOut(version=version, **document.model_dump())


@router.get("/bufdir-config", response_model=BufdirConfigOut)
def get_bufdir_config(
    org_id: UUID, services: ServicesDep, _: Annotated[Any, require(READERS)]
) -> BufdirConfigOut:
    """The organisation's configuration, or the default one (version 0)."""
    version, document = services.bufdir_config.current(org_id)
    return BufdirConfigOut(version=version, **document.model_dump())
