"""Approved expense claims imported from the volunteer system (source data)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from uuid import UUID

import pycountry
from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from application.ports import ClaimRecord
from interfaces.http.auth import Role
from interfaces.http.deps import ServicesDep, require
from interfaces.http.input_safety import BoundedDatetime
from interfaces.http.schemas import IsoDate, StrictBody

router = APIRouter(prefix="/v1/orgs/{org_id}/claims", tags=["source data"])

IMPORTERS = frozenset({Role.COORDINATOR, Role.ADMIN, Role.SCHEDULER})
AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,2})?$")


class Claim(StrictBody):
    id: UUID
    claimant_id: str = Field(min_length=1, max_length=100)
    expense_date: IsoDate
    approved_at: BoundedDatetime
    category: str = Field(min_length=1, max_length=64, pattern=r"^[\w\-. ]+$")
    amount: str = Field(description="Decimal string with at most two decimals, e.g. \"123.45\"")
    currency: str = Field(description="ISO 4217 code, e.g. NOK")
    description: str = Field(max_length=1000)
    amount_nok: str | None = Field(
        default=None,
        validate_default=True,
        description="NOK amount reimbursed (what the ledger posts); required unless currency is NOK",
    )

    @field_validator("amount", "amount_nok")
    @classmethod
    def decimal_amount(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            if not AMOUNT.match(value) or Decimal(value) <= 0:
                raise ValueError
        except (InvalidOperation, ValueError):
            raise ValueError("must be a positive decimal string such as \"123.45\"") from None
        return str(Decimal(value).quantize(Decimal("0.01")))

    @field_validator("currency")
    @classmethod
    def iso_currency(cls, value: str) -> str:
        if len(value) != 3 or pycountry.currencies.get(alpha_3=value.upper()) is None:
            raise ValueError("must be an ISO 4217 currency code such as NOK")
        return value.upper()

    @field_validator("claimant_id", "description")
    @classmethod
    def no_control_characters(cls, value: str) -> str:
        if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("amount_nok", mode="after")
    @classmethod
    def nok_amount_for_other_currencies(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The ledger posts NOK: a claim in another currency must say what was reimbursed."""
        currency = info.data.get("currency")
        if value is None and currency is not None and currency != "NOK":
            raise ValueError("is required when currency is not NOK: the NOK amount reimbursed")
        return value


class ClaimBatch(StrictBody):
    claims: list[Claim] = Field(min_length=1, max_length=10_000)


class LockedOut(BaseModel):
    index: int
    id: UUID
    run_id: UUID
    changed: list[str]


class Upserted(BaseModel):
    """`upserted` stored or changed, `unchanged` sent exactly as stored, `locked` exported
    claims sent with other values: not applied (a correction of an exported claim is a new
    claim)."""

    upserted: int
    unchanged: int
    locked: list[LockedOut]


@router.put("", response_model=Upserted)
def upsert_claims(
    org_id: UUID,
    body: ClaimBatch,
    services: ServicesDep,
    _: Annotated[Any, require(IMPORTERS)],
) -> Upserted:
    """Validated whole first; one bad item refuses the batch and nothing is stored."""
    seen: set[UUID] = set()
    duplicates = []
    for i, c in enumerate(body.claims):
        if c.id in seen:
            duplicates.append({"loc": ("body", "claims", i, "id"),
                               "msg": "duplicate id in the batch", "type": "value_error"})
        seen.add(c.id)
    if duplicates:
        raise RequestValidationError(duplicates)
    records = [
        ClaimRecord(
            id=c.id,
            claimant_id=c.claimant_id,
            expense_date=c.expense_date,
            approved_at=c.approved_at,
            category=c.category,
            amount=c.amount,
            currency=c.currency,
            description=c.description,
            amount_nok=c.amount_nok if c.currency != "NOK" else None,
        )
        for c in body.claims
    ]
    result = services.source_data.import_claims(org_id, records)
    return Upserted(
        upserted=result.upserted,
        unchanged=result.unchanged,
        locked=[LockedOut(index=c.index, id=c.id, run_id=c.run_id, changed=c.changed)
                for c in result.locked],
    )
