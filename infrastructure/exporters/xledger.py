"""Xledger GL02 voucher import file: `;`-separated, yyyymmdd dates, `.` decimals, EOL column `x`.

The column list and order follow GL02 as documented for Xledger's file import (see
docs/accounting-formats.md for sources and for every column's origin). The file is written
one voucher at a time, so memory stays flat however many claims a run holds.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any

from domain.spreadsheet import safe_cell
from infrastructure.exporters._common import Line, check, money, reiterable, to_date, vouchers

IMP_SYSTEM = "EXPENSES"  # names the sending system in Xledger's import log

#: GL02 columns in the documented order; the import is positional, the names are for people.
COLUMNS: tuple[str, ...] = (
    "ImpSystem", "ImpSystemRef", "VoucherType", "VoucherNo", "FiscalYear", "PeriodNo",
    "VoucherDate", "Account", "AccountLedger", "Posting1", "Posting2", "XGL", "SubledgerNo",
    "SubledgerName", "InvoiceDate", "InvoiceNo", "XIdentifier", "DueDate", "BankAccount",
    "PaymentTerms", "Text", "TaxRule", "Currency", "CurrencyAmount", "Amount",
    "UpdateSubledger", "SubledgerGroup", "CompanyNo", "StreetAddressL1", "StreetAddressL2",
    "ZipCode", "Place", "State", "Country", "BillingStreetAddressL1", "BillingStreetAddressL2",
    "BillingZipCode", "BillingPlace", "BillingState", "BillingCountry", "Phone", "Email",
    "YourRef", "Dummy1", "Dummy2", "Dummy3", "Dummy4", "Dummy5", "EOL",
)
TEXT_MAX = 250


def yyyymmdd(day: date) -> str:
    return day.strftime("%Y%m%d")


class XledgerExporter:
    """Balanced GL02 vouchers, one per claim or per claimant, UTF-8 without BOM."""

    target = "xledger"
    content_type = "text/csv"
    extension = "csv"

    def content_type_for(self, settings: Any) -> str:
        return self.content_type

    def extension_for(self, settings: Any) -> str:
        return self.extension

    def render(
        self, run: Any, claims: Iterable[dict[str, Any]], settings: Any
    ) -> Iterator[bytes]:
        """Validate everything first (ExportRefused), then yield the header and each voucher."""
        claims = reiterable(claims)
        valid = check(claims, settings)
        return self._write(run, claims, valid)

    def _write(self, run: Any, claims: Iterable[Mapping[str, Any]], settings: Any) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(COLUMNS)
        yield _drain(buffer)
        voucher_date = to_date(run.period_end)
        for voucher in vouchers(claims, settings):
            for line in voucher.lines:
                writer.writerow(_row(line, settings.voucher_type, voucher.number, voucher_date))
            yield _drain(buffer)


def _row(line: Line, voucher_type: str, number: int, voucher_date: date) -> list[str]:
    values = dict.fromkeys(COLUMNS, "")
    values.update(
        ImpSystem=IMP_SYSTEM,
        ImpSystemRef=line.claim_id,
        VoucherType=voucher_type,
        VoucherNo=str(number),
        FiscalYear=str(voucher_date.year),
        PeriodNo=str(voucher_date.month),
        VoucherDate=yyyymmdd(voucher_date),
        Account=line.account,
        Posting1=line.dimension or "",
        Text=line.text[:TEXT_MAX],
        TaxRule=line.tax_code,
        # A claim in another currency carries its currency amount; Xledger converts it to
        # NOK with the voucher date's rate, so Amount (base currency) is left for Xledger.
        Currency=line.currency if line.foreign else "",
        CurrencyAmount=money(line.amount) if line.foreign else "",
        Amount="" if line.foreign else money(line.amount),
        EOL="x",
    )
    numeric = {"CurrencyAmount", "Amount"}  # formatted numbers, never text
    return [values[c] if c in numeric else safe_cell(values[c]) for c in COLUMNS]


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data
