"""Business Central general journal lines, as CSV or xlsx, for HLF's Dynamics 365.

Column names are the journalLine properties of the Business Central API v2.0, plus the global
dimension 1 of table 81 "Gen. Journal Line" (see docs/accounting-formats.md). Every document is
balanced by its own last line on the counter account, so no balancing account is needed.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, BinaryIO
from uuid import UUID

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from domain.accounting_settings import ExportSettings, InvalidAccountingSettings
from domain.spreadsheet import safe_row
from infrastructure.exporters._common import (
    Line,
    as_settings,
    check,
    money,
    reiterable,
    to_date,
    vouchers,
)

CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS: tuple[str, ...] = (
    "journalDisplayName", "lineNumber", "accountType", "accountNumber", "postingDate",
    "documentNumber", "externalDocumentNumber", "amount", "description", "taxCode",
    "shortcutDimension1Code", "currencyCode",
)
ACCOUNT_TYPE = "G/L Account"
DESCRIPTION_MAX = 50  # Business Central's Description field is Text[50]
LINE_STEP = 10000  # Business Central numbers journal lines 10000, 20000, ...
CHUNK = 64 * 1024
BOM = "\ufeff"


def external_reference(claim_id: str) -> str:
    """The claim id as 32 hex digits: External Document No. is Code[35], a UUID string is 36."""
    if not claim_id:
        return ""
    try:
        return UUID(claim_id).hex
    except ValueError:
        return claim_id[:35]


def document_number(run_id: Any, voucher: int) -> str:
    """Unique per run and voucher, within Document No.'s 20 characters."""
    try:
        prefix = UUID(str(run_id)).hex[:8].upper()
    except ValueError:
        prefix = str(run_id)[:8]
    return f"{prefix}-{voucher:04d}"


class DynamicsExporter:
    """One journal document per claim or claimant; CSV unless the settings ask for xlsx."""

    target = "dynamics"
    content_type = CSV_TYPE
    extension = "csv"

    def content_type_for(self, settings: Any) -> str:
        return XLSX_TYPE if _is_xlsx(settings) else CSV_TYPE

    def extension_for(self, settings: Any) -> str:
        return "xlsx" if _is_xlsx(settings) else "csv"

    def render(
        self, run: Any, claims: Iterable[dict[str, Any]], settings: Any
    ) -> Iterator[bytes]:
        """Validate everything first (ExportRefused), then stream the file."""
        claims = reiterable(claims)
        valid = check(claims, settings)
        rows = _rows(run, claims, valid)
        return _xlsx(rows) if valid.file_format == "xlsx" else _csv(rows)


def _is_xlsx(settings: Any) -> bool:
    try:
        valid = as_settings(settings)
    except (InvalidAccountingSettings, TypeError):
        return False  # render will refuse these settings anyway
    return valid is not None and valid.file_format == "xlsx"


Row = tuple[str, int, str, str, date, str, str, Decimal, str, str, str, str]


def _rows(run: Any, claims: Iterable[Mapping[str, Any]], settings: ExportSettings) -> Iterator[list[Row]]:
    """Typed rows, one list per document; the writers only decide how to encode them."""
    posting_date = to_date(run.period_end)
    line_number = 0
    for voucher in vouchers(claims, settings):
        document: list[Row] = []
        for line in voucher.lines:
            line_number += LINE_STEP
            document.append(_row(line, settings, run.id, voucher.number, line_number, posting_date))
        yield document


def _row(
    line: Line, settings: ExportSettings, run_id: Any, voucher: int, number: int, day: date
) -> Row:
    return (
        settings.voucher_type,
        number,
        ACCOUNT_TYPE,
        line.account,
        day,
        document_number(run_id, voucher),
        external_reference(line.claim_id),
        line.amount,
        line.text[:DESCRIPTION_MAX],
        line.tax_code,
        line.dimension or "",
        # Blank is the local currency (NOK); otherwise amount is in this currency and
        # Business Central converts it with its exchange rates.
        line.currency if line.foreign else "",
    )


def _csv(documents: Iterator[list[Row]]) -> Iterator[bytes]:
    """UTF-8 with BOM, RFC 4180 quoting; one chunk per document."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=",", lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(COLUMNS)
    yield _drain(buffer)
    for document in documents:
        for row in document:
            values = safe_row(row)  # text neutralised; the amount is still a Decimal here
            values[4] = row[4].isoformat()
            values[7] = money(row[7])
            writer.writerow(values)
        yield _drain(buffer)


def _xlsx(documents: Iterator[list[Row]]) -> Iterator[bytes]:
    """A write-only workbook spooled to an anonymous temp file, then yielded in chunks."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Journal lines")
    sheet.append(list(COLUMNS))
    for document in documents:
        for row in document:
            sheet.append(_cells(sheet, row))
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        yield from _chunks(spool)


def _cells(sheet: WriteOnlyWorksheet, row: Row) -> list[WriteOnlyCell]:
    cells = []
    for index, value in enumerate(safe_row(row)):
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # never a formula, even if a description starts with "="
        elif isinstance(value, date):
            cell.number_format = "yyyy-mm-dd"
        elif index == 7:
            cell.number_format = "0.00"
        cells.append(cell)
    return cells


def _chunks(spool: BinaryIO) -> Iterator[bytes]:
    while chunk := spool.read(CHUNK):
        yield chunk


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data
