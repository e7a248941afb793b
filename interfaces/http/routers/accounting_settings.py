"""An organisation's chart-of-accounts mapping for Xledger and Dynamics files."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from interfaces.http.auth import Role
from interfaces.http.deps import ServicesDep, actor_of, require
from interfaces.http.schemas import StrictBody

router = APIRouter(prefix="/v1/orgs/{org_id}/accounting-settings", tags=["accounting settings"])

EDITORS = frozenset({Role.ADMIN})
VIEWERS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.AUDITOR})


class CategoryIn(StrictBody):
    account: str = Field(description="Ledger account, digits only", examples=["7140"])
    tax_code: str = Field(description="VAT code (Xledger TaxRule)", examples=["0"])
    dimension: str | None = Field(default=None, description="Cost centre or project")


class SettingsIn(StrictBody):
    company_code: str = Field(description="Xledger entity or Dynamics company")
    voucher_type: str = Field(description="Xledger voucher type or Dynamics journal batch")
    counter_account: str = Field(description="Account the claimant is paid from, digits only")
    categories: dict[str, CategoryIn] = Field(min_length=1)
    voucher_grouping: Literal["per_claim", "per_claimant"] = "per_claim"
    file_format: Literal["csv", "xlsx"] = "csv"


class SettingsOut(BaseModel):
    org_id: UUID
    version: int
    company_code: str
    voucher_type: str
    counter_account: str
    categories: dict[str, dict[str, Any]]
    voucher_grouping: str
    file_format: str


def out(settings: Any) -> SettingsOut:
    return SettingsOut(org_id=settings.org_id, version=settings.version, **settings.as_dict())


@router.put("", response_model=SettingsOut)
def put_settings(
    org_id: UUID,
    body: SettingsIn,
    request: Request,
    services: ServicesDep,
    principal: Annotated[Any, require(EDITORS)],
) -> SettingsOut:
    """Store the mapping; the domain validates account numbers and codes (422 names the field)."""
    settings = services.accounting_settings.configure(
        org_id, body.model_dump(), actor_of(request, principal)
    )
    return out(settings)


@router.get("", response_model=SettingsOut)
def get_settings(
    org_id: UUID, services: ServicesDep, _: Annotated[Any, require(VIEWERS)]
) -> SettingsOut:
    return out(services.accounting_settings.get(org_id))
