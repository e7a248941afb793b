"""Xledger GL02 voucher import file, as positional readers read it.

`;`-separated, 49 fields on every line, never quoted (text loses `;`, `"`, tabs and line
breaks), `yyyymmdd` dates, `.` decimals, `EOL` = `x`, UTF-8 without BOM, CRLF. The column list
and order follow published GL02 producers (see docs/accounting-formats.md). Written one voucher
at a time, so memory stays flat however many claims a run holds; each line is filled into the
parts that repeat (`_Template`), so a line costs its own fields only. The claims a run has just
taken, one voucher each, are written straight from their columns (`own_vouchers`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any

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

IMP_SYSTEM = "EXPENSES"  # names the sending system in Xledger's import log
SEPARATOR = ";"
EOL = "\r\n"

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
TAIL = SEPARATOR * 24 + "x" + EOL  # UpdateSubledger ... Dummy5 empty, then EOL = x
TEXT_MAX = 250  # unverified: no public GL02 specification states the Text length
IMP_SYSTEM_REF_MAX = 25  # GL02b: ImpSystemRef max length 25
VOUCHER_TYPE_MAX = 8  # GL02b: VoucherType max length 8
#: Counter-line texts a file keeps ready (one per claimant; forgotten all at once past this).
TEXTS_KEPT = 4096


HEADER = SEPARATOR.join(COLUMNS) + EOL


def yyyymmdd(day: date) -> str:
    return day.strftime("%Y%m%d")


def heads(run: Any, settings: ExportSettings) -> tuple[str, str]:
    """VoucherType;VoucherNo;FiscalYear;PeriodNo;VoucherDate: only the number varies, so a
    line's head is the voucher type, its number and the rest (dated)."""
    day = to_date(run.period_end)
    return code_field(settings.voucher_type), f"{day.year};{day.month};{yyyymmdd(day)}"


class XledgerExporter:
    """Balanced GL02 vouchers, one per claim or per claimant; Amount in NOK on every line."""

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
        """The file in 64 KiB pieces, from one pass over the claims; ExportRefused before a
        byte is written (claims in memory) or at the end of the stream (`prepared`).

        Claims in batches (a run's claims as it took them) with one voucher per claim are
        written from their columns (`own_vouchers`): the same lines, without a dict, a
        Line or a Voucher per claim."""
        if isinstance(claims, ClaimBatches):
            found = own_vouchers(claims.batches, settings)
            if found is not None:
                return chunked(_lines_of_own_vouchers(run, *found))
        claims, valid = prepared(claims, settings)
        return chunked(self._lines(run, claims, valid))

    def _lines(
        self, run: Any, claims: Iterable[Mapping[str, Any]], settings: ExportSettings
    ) -> Iterator[str]:
        yield HEADER
        voucher_type, dated = heads(run, settings)
        template = _Template()
        for voucher in vouchers(claims, settings):
            head = f"{voucher_type};{voucher.number};{dated}"
            for line in voucher.lines:
                yield template.line(line, head)


class _Template:
    """GL02 lines from the parts that repeat: the columns from Account to SubledgerNo (one
    string per account, posting fields and subledger), the tax rule, a counter line's text."""

    def __init__(self) -> None:
        self.postings: dict[tuple[str, tuple[str | None, str | None], str | None], str] = {}
        self.taxes: dict[str, str] = {}
        self.texts: dict[str, str] = {}

    def line(self, line: Line, head: str) -> str:
        """One GL02 line, 49 fields; columns 9, 12, 14-20 and 26-48 are empty."""
        key = (line.account, line.dimensions, line.subledger)
        posting = self.postings.get(key)
        if posting is None:
            posting = self.postings[key] = posting_columns(*key)
        tax = self.taxes.get(line.tax_code)
        if tax is None:
            tax = self.taxes[line.tax_code] = code_field(line.tax_code)
        if line.tax_code:  # an expense line: its own text
            text = field_text(line.text, TEXT_MAX)
        else:  # a counter line: the claimant's text, the same on each of their vouchers
            text = self.texts.get(line.text, "")
            if not text:
                if len(self.texts) >= TEXTS_KEPT:
                    self.texts.clear()
                text = self.texts[line.text] = field_text(line.text, TEXT_MAX)
        if line.currency_amount is None:
            currency = ";"
        else:
            # Amount is always NOK, what the ledger posts; a claim in another currency carries
            # its currency and amount beside it (Xledger keeps both, converts nothing).
            currency = f"{line.currency};{money(line.currency_amount)}"
        return (f"{IMP_SYSTEM};{line.ledger_ref};{head};{posting}{text};{tax};{currency};"
                f"{money(line.amount)}{TAIL}")


def posting_columns(
    account: str, dimensions: tuple[str | None, str | None], subledger: str | None
) -> str:
    """Account;AccountLedger;Posting1;Posting2;XGL;SubledgerNo; and the empty columns up to
    Text (SubledgerName ... PaymentTerms)."""
    first, second = (code_field(d) if d else "" for d in dimensions)
    subledger = code_field(subledger) if subledger else ""
    return f"{code_field(account)};;{first};{second};;{subledger};;;;;;;;"


def _lines_of_own_vouchers(
    run: Any, settings: ExportSettings, claims: Iterable[OwnVoucher]
) -> Iterator[str]:
    """What `XledgerExporter._lines` writes for vouchers of one claim each: per claim, its
    expense line and its counter line, as `_Template.line` writes them."""
    yield HEADER
    voucher_type, dated = heads(run, settings)
    expenses: dict[str, tuple[str, str]] = {}  # category: posting columns, tax rule
    counters: dict[str, tuple[str, str]] = {}  # claimant: posting columns, text
    no_tax = code_field("")
    for claim in claims:
        head = f"{voucher_type};{claim.number};{dated}"
        expense = expenses.get(claim.category)
        if expense is None:
            account, tax_code, dimensions = expense_posting(settings, claim.category)
            expense = expenses[claim.category] = (
                posting_columns(account, dimensions, None), code_field(tax_code))
        own, currency, ref = claim.own, claim.currency, claim.ledger_ref
        if own is None:
            paid = owed = ";"
        else:  # a voucher of one claim: its currency total is 0.00 + the claim's amount
            paid, owed = f"{currency};{money(own)}", f"{currency};{money(ZERO - (ZERO + own))}"
        yield (f"{IMP_SYSTEM};{ref};{head};{expense[0]}{field_text(claim.text, TEXT_MAX)};"
               f"{expense[1]};{paid};{money(claim.nok)}{TAIL}")
        counter = counters.get(claim.claimant_id)
        if counter is None:
            counter = counters[claim.claimant_id] = (
                posting_columns(settings.counter_account, (None, None),
                                settings.claimant_accounts.get(claim.claimant_id)),
                field_text(counter_text(claim.claimant_id), TEXT_MAX))
        yield (f"{IMP_SYSTEM};{ref};{head};{counter[0]}{counter[1]};{no_tax};{owed};"
               f"{money(ZERO - claim.nok)}{TAIL}")
