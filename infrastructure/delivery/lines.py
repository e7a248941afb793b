"""A run's vouchers as the lines the API posts: the same vouchers, accounts and amounts as
its file, with the references each target reads back (BC document number and external
document number; Xledger ImpSystemRef)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from domain.delivery import DeliveryLine
from domain.vouchers import Line, check, reiterable, to_date, vouchers
from infrastructure.exporters.dynamics import document_number as prefixed_document_number

IMP_SYSTEM_REF_MAX = 25


def imp_system_ref(line: Line, run_id: Any, voucher: int) -> str:
    """The claim's 25-character reference, as in the GL02 file; a counter line of several
    claims gets the run's and voucher's."""
    if line.ledger_ref:
        return line.ledger_ref
    return f"{UUID(str(run_id)).hex[:16]}-{voucher:08d}"


def external_reference(claim_id: str) -> str:
    """The claim id as 32 hex digits: External Document No. is Code[35], a UUID string is 36."""
    if not claim_id:
        return ""
    try:
        return UUID(claim_id).hex
    except ValueError:
        return claim_id[:35]


def document_number(prefix: str | None, run_id: Any, voucher: int) -> str:
    """The configured prefix's numbers as in the file; without one, unique per run and voucher
    within Code[20], so a retried delivery can read its lines back by document."""
    if prefix:
        return prefixed_document_number(prefix, run_id, voucher)
    try:
        head = UUID(str(run_id)).hex[:8].upper()
    except ValueError:
        head = str(run_id)[:8]
    return f"{head}-{voucher:04d}"


class VoucherLines:
    def lines(
        self, target: str, run: Any, claims: Iterable[dict[str, Any]], settings: Any
    ) -> list[DeliveryLine]:
        claims = reiterable(claims)
        valid = check(claims, settings)
        posting_date = to_date(run.period_end)
        out: list[DeliveryLine] = []
        for voucher in vouchers(claims, valid):
            for line in voucher.lines:  # amounts are NOK on every line (amount_nok)
                if target == "dynamics":
                    document = document_number(valid.document_prefix, run.id, voucher.number)
                    reference = external_reference(line.claim_id)
                else:
                    document = ""
                    reference = imp_system_ref(line, run.id, voucher.number)
                out.append(DeliveryLine(
                    document=document, reference=reference, account=line.account,
                    amount=line.amount, posting_date=posting_date, description=line.text,
                    tax_code=line.tax_code, claim_id=line.claim_id,
                    dimension=next((d for d in line.dimensions if d), None),
                    voucher_type=valid.voucher_type,
                ))
        return out
