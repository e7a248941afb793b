"""An organisation's chart-of-accounts mapping for Xledger and Dynamics files."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from interfaces.http.auth import Role
from interfaces.http.deps import ServicesDep, actor_of, require
from interfaces.http.schemas import StrictBody

router = APIRouter(prefix="/v1/orgs/{org_id}/accounting-settings", tags=["accounting settings"])

EDITORS = frozenset({Role.ADMIN})
VIEWERS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.AUDITOR})


DimensionKind = Literal["cost_centre", "project", "department"]


class CategoryIn(StrictBody):
    account: str = Field(description="Ledger account, digits only", examples=["7140"])
    tax_code: str = Field(description="VAT code (Xledger TaxRule, BC VAT Prod. Posting Group)",
                          examples=["0"])
    dimension: str | None = Field(default=None, description="Cost centre or project code")
    dimension_kind: DimensionKind = Field(
        default="cost_centre", description="What the dimension is; decides its posting field"
    )


class SettingsIn(StrictBody):
    company_code: str = Field(description="Xledger entity or Dynamics company")
    voucher_type: str = Field(
        description="Xledger voucher type or Dynamics journal batch, at most 8 characters"
    )
    counter_account: str = Field(description="Account the claimant is paid from, digits only")
    categories: dict[str, CategoryIn] = Field(min_length=1)
    voucher_grouping: Literal["per_claim", "per_claimant"] = "per_claim"
    file_format: Literal["csv"] = "csv"
    dimension_fields: dict[DimensionKind, int] | None = Field(
        default=None,
        description="Posting field (1 or 2: Xledger Posting1/2, BC Shortcut Dimension 1/2) per "
        "dimension kind; default cost_centre 1, project 2",
    )
    claimant_accounts: dict[str, str] | None = Field(
        default=None,
        description="Claimant id -> ledger number (Xledger subledger, BC employee or vendor no.): "
        "the counter line then names the claimant who is owed the money",
    )
    claimant_account_type: Literal["employee", "vendor"] = "employee"
    document_prefix: str | None = Field(
        default=None,
        description="Business Central document numbers: blank uses the journal batch's number "
        "series; else 1-7 capitals/digits, then run and voucher number (Code[20])",
    )


class SettingsOut(BaseModel):
    org_id: UUID
    version: int
    company_code: str
    voucher_type: str
    counter_account: str
    categories: dict[str, dict[str, Any]]
    voucher_grouping: str
    file_format: str
    dimension_fields: dict[str, int] = Field(default_factory=dict)
    claimant_accounts: dict[str, str] = Field(default_factory=dict)
    claimant_account_type: str = "employee"
    document_prefix: str | None = None


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


@router.get(
    "/dynamics-import-definition",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}},
)
def dynamics_import_definition(
    org_id: UUID, services: ServicesDep, _: Annotated[Any, require(VIEWERS)]
) -> Response:
    """The data exchange definition Business Central imports to read our journal files
    (Data Exchange Definitions -> Import; then General Ledger Setup -> Payroll Trans. Import
    Format). The same for every organisation; see docs/accounting-formats.md."""
    definition = services.export_runs.exporters.import_definition("dynamics")
    return Response(
        definition.content,
        media_type=definition.content_type,
        headers={"Content-Disposition": f'attachment; filename="{definition.filename}"'},
    )
