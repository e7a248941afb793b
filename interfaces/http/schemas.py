"""Request and response bodies of the HTTP API (separate from events)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from domain.export_run import ExportRunStatus, ExportTarget
from interfaces.http.input_safety import in_range_date


def _iso_date_only(value: Any) -> Any:
    """Dates travel as ISO strings only; a number or another shape is refused, not coerced."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not ISO_DATE.match(value):
        raise ValueError("must be an ISO date string YYYY-MM-DD")
    return value


ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
IsoDate = Annotated[date, BeforeValidator(_iso_date_only), AfterValidator(in_range_date)]


class StrictBody(BaseModel):
    """Unknown fields are refused so a misspelt field never silently falls back to a default."""

    model_config = ConfigDict(extra="forbid")


class PeriodBody(StrictBody):
    """A request for an inclusive period; the end may not come before the start."""

    period_start: IsoDate = Field(description="First day, ISO YYYY-MM-DD")
    period_end: IsoDate = Field(description="Last day (inclusive), ISO YYYY-MM-DD")

    @field_validator("period_end")
    @classmethod
    def end_not_before_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("period_start")
        if start is not None and value < start:
            raise ValueError("period_end must not be before period_start")
        return value


class ExportRunRequest(PeriodBody):
    target: ExportTarget


class Accepted(BaseModel):
    run_id: UUID
    status: Literal["pending"] = "pending"


class Duplicate(BaseModel):
    status: Literal["duplicate"] = "duplicate"
    existing_run_id: UUID | None


class FileInfo(BaseModel):
    download_url: str
    size_bytes: int
    sha256: str


class RunError(BaseModel):
    code: str
    message: str


class DeliveryOut(BaseModel):
    """Posting by API to the accounting system (only when the organisation enabled it)."""

    status: str
    attempts: int
    lines_posted: int
    lines_total: int | None = None
    last_error: RunError | None
    delivered_at: datetime | None


class ExportRunOut(BaseModel):
    run_id: UUID
    org_id: UUID
    period_start: date
    period_end: date
    target: ExportTarget
    status: ExportRunStatus
    record_count: int
    file: FileInfo | None
    error: RunError | None
    created_at: datetime
    completed_at: datetime | None
    version: int | None = None
    delivery: DeliveryOut | None = None


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    detail: Any
    errors: list[ErrorItem] | None = None
