"""A run's vouchers as the lines the API posts: the same vouchers, accounts and amounts as
its file, with the references each target reads back (BC document number and external
document number; Xledger ImpSystemRef)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from application.errors import ExportRefused
from domain.delivery import DeliveryLine
from infrastructure.exporters._common import check, reiterable, to_date, vouchers
from infrastructure.exporters.dynamics import document_number, external_reference

IMP_SYSTEM_REF_MAX = 25


def imp_system_ref(claim_id: str, run_id: Any, voucher: int) -> str:
    """The claim's reference (≤ 25 characters); a counter line of several claims gets the
    run's and voucher's."""
    if claim_id:
        try:
            return UUID(claim_id).hex[:IMP_SYSTEM_REF_MAX]
        except ValueError:
            return claim_id[:IMP_SYSTEM_REF_MAX]
    return f"{UUID(str(run_id)).hex[:16]}-{voucher:08d}"


class VoucherLines:
    def lines(
        self, target: str, run: Any, claims: Iterable[dict[str, Any]], settings: Any,
        connection: dict[str, Any],
    ) -> list[DeliveryLine]:
        claims = reiterable(claims)
        valid = check(claims, settings)
        posting_date = to_date(run.period_end)
        out: list[DeliveryLine] = []
        for voucher in vouchers(claims, valid):
            for line in voucher.lines:
                if line.foreign:
                    raise ExportRefused(
                        "not_deliverable",
                        f"claim {line.claim_id or line.claimant_id} is in {line.currency}; the "
                        "API posts NOK amounts only",
                    )
                if target == "dynamics":
                    document = document_number(run.id, voucher.number)
                    reference = external_reference(line.claim_id)
                else:
                    document = ""
                    reference = imp_system_ref(line.claim_id, run.id, voucher.number)
                out.append(DeliveryLine(
                    document=document, reference=reference, account=line.account,
                    amount=line.amount, posting_date=posting_date, description=line.text,
                    tax_code=line.tax_code, dimension=line.dimension, claim_id=line.claim_id,
                    voucher_type=valid.voucher_type,
                ))
        return out
