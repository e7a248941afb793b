"""Request and response bodies of the sync run and sync schedule endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr

from domain.sync_run import validate_integration_type

MAX_COUNT = 2_147_483_647  # the read model's integer columns


def _integration_type(value: str) -> str:
    try:
        return validate_integration_type(value)
    except Exception:
        raise ValueError("must be 1 to 64 letters, digits, '_' or '-'") from None


IntegrationType = Annotated[StrictStr, AfterValidator(_integration_type)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SyncRunStart(_Strict):
    integration_type: IntegrationType
    triggered_by: Literal["scheduler", "manual"]


class SyncRunStatusUpdate(_Strict):
    status: Literal["completed", "failed", "cancelled"]
    records_processed: Count = 0
    records_failed: Count = 0
    error_message: Annotated[StrictStr, Field(max_length=1_000_000)] | None = None


class SyncRunStarted(BaseModel):
    run_id: UUID
    status: Literal["running"]


class SyncRunning(BaseModel):
    detail: str
    code: str
    existing_run_id: UUID | None


class SyncRunOut(BaseModel):
    run_id: UUID
    org_id: UUID
    integration_type: str
    status: str
    triggered_by: str
    started_at: datetime | None
    ended_at: datetime | None
    records_processed: int
    records_failed: int
    error_message: str | None
    duration_seconds: float | None
    scheduled_for: datetime | None
    drift_seconds: float | None
    drift_flagged: bool
    export_run_id: UUID | None
    version: int | None = None
    archived: bool = False

    @classmethod
    def of(cls, data: Any) -> SyncRunOut:
        row = data if isinstance(data, dict) else data.as_dict()
        return cls(**{**row, "run_id": row.get("run_id", row.get("id"))})


class ScheduleIn(_Strict):
    cron: StrictStr
    timezone: StrictStr | None = "Europe/Oslo"
    period: Literal["previous_month"] = "previous_month"


class ScheduleOut(BaseModel):
    org_id: UUID
    integration_type: str
    cron: str
    timezone: str
    period: str
    configured_at: datetime | None
    version: int
