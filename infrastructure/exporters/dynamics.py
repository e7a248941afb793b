"""Business Central general journal lines, imported by Business Central's own function.

The file is what the data exchange definition in `dynamics_definition.py` reads: General
Ledger Setup's "Payroll Trans. Import Format" names that definition, and the General Journal's
"Import Payroll Transactions" action reads the file into the open batch. `;`-separated, one
header line, never quoted, UTF-8 (with BOM, for Excel; the header line is skipped), CRLF.
Every document balances by its own last line, so no balancing account is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any
from uuid import UUID

from domain.accounting_settings import ExportSettings
from domain.export_run import ClaimBatches
from domain.vouchers import (
    ZERO,
    Line,
    OwnVoucher,
    counter_text,
    expense_posting,
    money,
    own_vouchers,
    prepared,
    to_date,
    vouchers,
)
from infrastructure.exporters._text import chunked, code_field, field_text
from infrastructure.exporters.dynamics_definition import (
    COLUMNS,
    SEPARATOR,
    definition_xml,
)

CSV_TYPE = "text/csv"
DESCRIPTION_MAX = 100  # table 81 field 8 Description: Text[100]
DOCUMENT_NO_MAX = 20  # table 81 field 7 Document No.: Code[20]
#: Option captions of table 81 field 3 "Account Type" (enum "Gen. Journal Account Type").
ACCOUNT_TYPES = {"employee": "Employee", "vendor": "Vendor"}
BOM = "\ufeff"
EOL = "\r\n"
NO_TAX = code_field("")  # a counter line's tax code


def document_number(prefix: str | None, run_id: Any, voucher: int) -> str:
    """Empty without a prefix: the import then gives every line the batch's next number from
    its number series. With a prefix (≤ 7): prefix + 6 hex digits of the run + voucher number,
    unique per run and voucher and within Code[20]."""
    if not prefix:
        return ""
    try:
        run = UUID(str(run_id)).hex[:6].upper()
    except ValueError:
        run = str(run_id)[:6].upper()
    return f"{prefix}{run}-{voucher:06d}"[:DOCUMENT_NO_MAX]


class DynamicsExporter:
    """One journal document per claim or claimant, in the columns of our import definition."""

    target = "dynamics"
    content_type = CSV_TYPE
    extension = "csv"

    def content_type_for(self, settings: Any) -> str:
        return CSV_TYPE

    def extension_for(self, settings: Any) -> str:
        return "csv"

    def import_definition(self) -> tuple[str, str, bytes]:
        """What Business Central's "Data Exchange Definitions" page imports for this file."""
        return ("application/xml", "export-service-expenses.xml", definition_xml())

    def render(
        self, run: Any, claims: Iterable[dict[str, Any]], settings: Any
    ) -> Iterator[bytes]:
        """The file in 64 KiB pieces, from one pass over the claims; ExportRefused before a
        byte is written (claims in memory) or at the end of the stream (`prepared`). A run's
        claims in batches, one voucher per claim, are written from their columns
        (`own_vouchers`): the same lines, without a dict, a Line or a Voucher per claim."""
        if isinstance(claims, ClaimBatches):
            found = own_vouchers(claims.batches, settings)
            if found is not None:
                return chunked(_csv_of_own_vouchers(run, *found))
        claims, valid = prepared(claims, settings)
        return chunked(_csv(run, claims, valid))


def _csv(run: Any, claims: Iterable[Mapping[str, Any]], settings: ExportSettings) -> Iterator[str]:
    """UTF-8 with BOM: the header line, then each document's lines."""
    yield BOM + SEPARATOR.join(COLUMNS) + EOL
    posting_date = to_date(run.period_end)
    prefix = code_field(settings.document_prefix) if settings.document_prefix else None
    for voucher in vouchers(claims, settings):
        number = document_number(prefix, run.id, voucher.number)
        for line in voucher.lines:
            yield SEPARATOR.join(_row(line, settings, number, posting_date)) + EOL


def _csv_of_own_vouchers(
    run: Any, settings: ExportSettings, claims: Iterable[OwnVoucher]
) -> Iterator[str]:
    """What `_csv` writes for vouchers of one claim each: per claim, its expense line and its
    counter line, each from the parts that repeat (per category, per claimant) and its own
    fields."""
    yield BOM + SEPARATOR.join(COLUMNS) + EOL
    day = to_date(run.period_end).isoformat()
    prefix = code_field(settings.document_prefix) if settings.document_prefix else None
    expenses: dict[str, tuple[str, str]] = {}  # category: account, tax code and dimensions
    counters: dict[str, tuple[str, str]] = {}  # claimant: account type and account, text
    for claim in claims:
        document = document_number(prefix, run.id, claim.number)
        expense = expenses.get(claim.category)
        if expense is None:
            account, tax_code, dimensions = expense_posting(settings, claim.category)
            first, second = (code_field(d) if d else "" for d in dimensions)
            expense = expenses[claim.category] = (
                f";{code_field(account)}", f"{code_field(tax_code)};{first};{second}")
        counter = counters.get(claim.claimant_id)
        if counter is None:
            subledger = settings.claimant_accounts.get(claim.claimant_id)
            kind = ACCOUNT_TYPES[settings.claimant_account_type] if subledger is not None else ""
            counter = counters[claim.claimant_id] = (
                f"{kind};{code_field(subledger or settings.counter_account)}",
                field_text(counter_text(claim.claimant_id), DESCRIPTION_MAX))
        head = f"{day};{document};{claim.ledger_ref}"
        text = field_text(claim.text, DESCRIPTION_MAX)
        nok, own = claim.nok, claim.own
        if own is None:
            yield f"{expense[0]};{head};{text};;{money(nok)};;{expense[1]}{EOL}"
            yield f"{counter[0]};{head};{counter[1]};;{money(ZERO - nok)};;{NO_TAX};;{EOL}"
        else:  # a voucher of one claim: its currency total is 0.00 + the claim's amount
            currency = claim.currency
            yield (f"{expense[0]};{head};{text};{currency};{money(own)};{money(nok)};"
                   f"{expense[1]}{EOL}")
            yield (f"{counter[0]};{head};{counter[1]};{currency};{money(ZERO - (ZERO + own))};"
                   f"{money(ZERO - nok)};{NO_TAX};;{EOL}")


def _row(line: Line, settings: ExportSettings, document: str, day: date) -> list[str]:
    """In COLUMNS order, which is the order Business Central validates the fields in."""
    payable = line.subledger is not None
    first, second = (code_field(d) if d else "" for d in line.dimensions)
    return [
        # Blank is the import's default, G/L Account: only a payable claimant needs a type.
        ACCOUNT_TYPES[settings.claimant_account_type] if payable else "",
        code_field(line.subledger if payable and line.subledger else line.account),
        day.isoformat(),
        document,
        line.ledger_ref,
        field_text(line.text, DESCRIPTION_MAX),
        line.currency if line.foreign else "",
        money(line.currency_amount if line.currency_amount is not None else line.amount),
        money(line.amount) if line.foreign else "",
        code_field(line.tax_code),
        first,
        second,
    ]
