"""What every accounting file shares: refusing before writing, and balanced vouchers of lines.

The exporters only decide columns and encoding; grouping claims into vouchers, mapping
categories to accounts and balancing with Decimal arithmetic happen once, here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

from application.errors import ExportRefused
from domain.accounting_settings import (
    AccountingSettings,
    ExportSettings,
    InvalidAccountingSettings,
)

CENT = Decimal("0.01")
BASE_CURRENCY = "NOK"
LATE_PREFIX = "SEN: "  # Norwegian for "late": read by the organisation's accountant
C = TypeVar("C", bound=Mapping[str, Any])


@dataclass(frozen=True)
class Line:
    """One posting: + debits an expense account, - credits the counter account."""

    account: str
    amount: Decimal
    tax_code: str
    dimension: str | None
    text: str
    claim_id: str  # "" on the counter line of a voucher holding several claims
    claimant_id: str
    expense_date: date | None
    late: bool
    currency: str = BASE_CURRENCY

    @property
    def foreign(self) -> bool:
        return self.currency != BASE_CURRENCY


@dataclass(frozen=True)
class Voucher:
    number: int
    lines: list[Line]


def as_settings(settings: Any) -> ExportSettings | None:
    """Accept the view, the aggregate or a plain dict, so the caller may pass what it has."""
    if settings is None or isinstance(settings, ExportSettings):
        return settings
    if isinstance(settings, AccountingSettings):
        return settings.view()
    if isinstance(settings, Mapping):
        return ExportSettings.from_dict(settings)
    raise TypeError(f"unsupported settings type {type(settings).__name__}")


def amount_of(claim: Mapping[str, Any]) -> Decimal:
    try:
        value = Decimal(str(claim["amount"]))
    except (InvalidOperation, KeyError):
        raise ExportRefused(
            "invalid_claim", f"claim {claim.get('claim_id')} has no valid amount"
        ) from None
    if not value.is_finite():
        raise ExportRefused("invalid_claim", f"claim {claim.get('claim_id')} has no valid amount")
    # Adding 0.00 turns -0.00 into 0.00, so no file ever shows a negative zero.
    return value.quantize(CENT, rounding=ROUND_HALF_UP) + Decimal("0.00")


def reiterable(claims: Iterable[C]) -> Iterable[C]:
    """Claims that can be read twice (validation pass, then writing): a list or a re-iterable
    stream (the run's TakenClaims) as it is; a one-shot iterator is read into a list."""
    return list(claims) if iter(claims) is claims else claims


def check(claims: Iterable[Mapping[str, Any]], settings: Any) -> ExportSettings:
    """Refuse the run before a single byte is written; the whole file or nothing.

    One streaming pass over the claims: only the distinct categories and currencies are kept."""
    try:
        valid = as_settings(settings)
    except InvalidAccountingSettings as invalid:
        raise ExportRefused(
            "unmapped_category", f"accounting settings are invalid: {invalid}"
        ) from None
    categories: set[str] = set()
    bad_amount: ExportRefused | None = None
    for claim in claims:
        categories.add(str(claim.get("category")))
        if bad_amount is None and not _is_currency(claim.get("currency")):
            bad_amount = ExportRefused(
                "invalid_claim", f"claim {claim.get('claim_id')} has no valid currency code"
            )
        if bad_amount is None:
            try:
                amount_of(claim)
            except ExportRefused as refused:
                bad_amount = refused
    if valid is None:
        names = ", ".join(sorted(categories)) or "none"
        raise ExportRefused(
            "unmapped_category",
            f"the organisation has no accounting settings; unmapped categories: {names}",
        )
    unmapped = valid.unmapped(categories)
    if unmapped:
        raise ExportRefused(
            "unmapped_category", f"categories without a mapped account: {', '.join(unmapped)}"
        )
    if bad_amount is not None:
        raise bad_amount
    return valid


def _is_currency(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 3 and value.isalpha() and value.isupper()


def one_line(text: Any) -> str:
    """Line breaks and tabs become spaces: one record is always one physical line."""
    return " ".join(str(text or "").split())


def to_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _groups(
    claims: Iterable[Mapping[str, Any]], grouping: str
) -> Iterator[list[Mapping[str, Any]]]:
    if grouping == "per_claimant":
        # One voucher per claimant and currency: a voucher balances in a single currency.
        by_claimant: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        for claim in claims:
            key = (str(claim["claimant_id"]), str(claim["currency"]))
            by_claimant.setdefault(key, []).append(claim)
        for key in sorted(by_claimant):
            yield by_claimant[key]
    else:
        for claim in claims:
            yield [claim]


def vouchers(claims: Iterable[Mapping[str, Any]], settings: ExportSettings) -> Iterator[Voucher]:
    """Balanced vouchers, one at a time: expense lines, then one counter line of minus their sum."""
    for number, group in enumerate(_groups(claims, settings.voucher_grouping), start=1):
        lines: list[Line] = []
        for claim in group:
            mapping = settings.categories[str(claim["category"])]
            late = claim.get("late") is True
            lines.append(
                Line(
                    account=mapping.account,
                    amount=amount_of(claim),
                    tax_code=mapping.tax_code,
                    dimension=mapping.dimension,
                    text=(LATE_PREFIX if late else "") + one_line(claim.get("description")),
                    claim_id=str(claim["claim_id"]),
                    claimant_id=str(claim["claimant_id"]),
                    expense_date=to_date(claim["expense_date"]),
                    late=late,
                    currency=str(claim["currency"]),
                )
            )
        total = sum((line.amount for line in lines), Decimal("0.00"))
        first = lines[0]
        lines.append(
            Line(
                account=settings.counter_account,
                amount=Decimal("0.00") - total,
                tax_code="",
                dimension=None,
                text=one_line(f"Refusjon utlegg {first.claimant_id}"),
                claim_id=first.claim_id if len(group) == 1 else "",
                claimant_id=first.claimant_id,
                expense_date=None,
                late=False,
                currency=first.currency,
            )
        )
        yield Voucher(number, lines)


def money(value: Decimal) -> str:
    """Decimal point, two decimals, never an exponent or a thousands separator."""
    return f"{value:.2f}"
