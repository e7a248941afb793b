"""No csv or xlsx the service writes holds a live formula: every writer, over arbitrary text.

Each writer is fed text that often starts with a formula trigger (= + - @ tab CR), then its
output is parsed back the way a spreadsheet would read it: no text cell may start with a trigger,
the text is otherwise kept, and amounts are still numbers (a negative amount is not text).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from domain.accounting_settings import CategoryMapping, ExportSettings
from domain.bufdir_rules import Summary
from domain.spreadsheet import FORMULA_TRIGGERS, is_safe_text, neutralise, safe_cell
from infrastructure.bufdir_files import write_csv, write_xlsx
from infrastructure.exporters.dynamics import COLUMNS as BC_COLUMNS
from infrastructure.exporters.dynamics import DynamicsExporter
from infrastructure.exporters.xledger import COLUMNS as GL02_COLUMNS
from infrastructure.exporters.xledger import XledgerExporter

RUN = SimpleNamespace(
    id=UUID("abcdef01-2345-6789-abcd-ef0123456789"), org_id=uuid4(), target="x",
    period_start=date(2025, 4, 1), period_end=date(2025, 4, 30),
)
# Characters openpyxl can store (no other control characters), plus the triggers themselves.
_CHARS = st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t\r\n")
hostile = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from([*FORMULA_TRIGGERS, "", "'", "a"]),
    st.text(_CHARS, max_size=12),
)
code = hostile.filter(lambda t: t.strip() != "")
# Writing a workbook per example makes shrinking a failure take minutes: report it unshrunk.
FAST = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
amount = st.decimals(min_value=-10_000, max_value=10_000, places=2, allow_nan=False)


def test_neutralise_follows_owasp() -> None:
    for trigger in FORMULA_TRIGGERS:
        assert neutralise(trigger + "cmd|' /C calc'!A0") == "'" + trigger + "cmd|' /C calc'!A0"
    assert neutralise("Tog Oslo") == "Tog Oslo"
    assert safe_cell(Decimal("-12.50")) == Decimal("-12.50")
    assert safe_cell(-3) == -3


@st.composite
def claims_and_settings(draw: st.DrawFn) -> tuple[list[dict[str, Any]], ExportSettings]:
    names = draw(st.lists(code, min_size=1, max_size=3, unique=True))
    mapping = {
        name: CategoryMapping(
            draw(st.from_regex(r"[0-9]{4}", fullmatch=True)), draw(code),
            draw(st.one_of(st.none(), code)),
        )
        for name in names
    }
    claims = [
        {
            "claim_id": draw(st.one_of(st.uuids().map(str), code)),
            "claimant_id": draw(code), "expense_date": "2025-04-02",
            "approved_at": "2025-04-03T09:00:00+00:00", "category": draw(st.sampled_from(names)),
            "amount": str(draw(amount)), "currency": draw(st.sampled_from(["NOK", "EUR"])),
            "description": draw(hostile), "late": draw(st.booleans()),
        }
        for _ in range(draw(st.integers(1, 4)))
    ]
    valid = ExportSettings(
        company_code=draw(code), voucher_type=draw(code), counter_account="2930",
        categories=mapping, voucher_grouping=draw(st.sampled_from(["per_claim", "per_claimant"])),
        file_format=draw(st.sampled_from(["csv", "xlsx"])),
    )
    return claims, valid


def _assert_csv_safe(rows: list[list[str]], numeric: set[int]) -> None:
    assert all(is_safe_text(name) for name in rows[0])
    for row in rows[1:]:
        for index, value in enumerate(row):
            if index in numeric and value:
                Decimal(value)  # an amount is written as a plain number
            else:
                assert is_safe_text(value), (index, value)


def _xlsx_cells(path: Path) -> list[Any]:
    book = load_workbook(path)
    return [v for sheet in book for row in sheet.iter_rows(values_only=True) for v in row]


@settings(FAST, max_examples=60)
@given(claims_and_settings())
def test_xledger_csv_has_no_formula_and_numeric_amounts(data: Any) -> None:
    claims, valid = data
    body = b"".join(XledgerExporter().render(RUN, claims, valid)).decode("utf-8")
    rows = list(csv.reader(io.StringIO(body, newline=""), delimiter=";"))
    amounts = {GL02_COLUMNS.index("Amount"), GL02_COLUMNS.index("CurrencyAmount")}
    _assert_csv_safe(rows, amounts)
    texts = {row[GL02_COLUMNS.index("Text")] for row in rows[1:]}
    negative = [row for row in rows[1:] if row[GL02_COLUMNS.index("Amount")].startswith("-")]
    assert all(Decimal(r[GL02_COLUMNS.index("Amount")]) < 0 for r in negative)
    assert texts  # every voucher line was read back


@settings(FAST, max_examples=60)
@given(claims_and_settings())
def test_business_central_files_have_no_formula_and_numeric_amounts(data: Any) -> None:
    claims, valid = data
    body = b"".join(DynamicsExporter().render(RUN, claims, valid))
    if valid.file_format == "csv":
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
        _assert_csv_safe(rows, {BC_COLUMNS.index("amount"), BC_COLUMNS.index("lineNumber")})
        return
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "journal.xlsx"
        path.write_bytes(body)
        rows = list(load_workbook(path).active.iter_rows(values_only=True))
    amounts = [row[BC_COLUMNS.index("amount")] for row in rows[1:]]
    assert all(isinstance(a, int | float) for a in amounts)
    assert sum(Decimal(str(a)) for a in amounts) == 0  # balanced, so really numbers
    for row in rows:
        assert all(is_safe_text(v) for v in row if isinstance(v, str)), row


cell = st.one_of(hostile, st.integers(-1000, 1000), st.none(), st.dates(date(1990, 1, 1)))


def _xml(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _expected(value: Any, fmt: str) -> Any:
    """What a spreadsheet reads back: text neutralised, everything else in its own type."""
    if isinstance(value, str):
        # XML (xlsx) reads a carriage return back as a line feed
        # and an empty text as an empty cell
        return (_xml(neutralise(value)) or None) if fmt == "xlsx" else neutralise(value)
    if isinstance(value, date):
        return datetime.combine(value, time()) if fmt == "xlsx" else value.strftime("%d.%m.%Y")
    if value is None:
        return None if fmt == "xlsx" else ""
    return value if fmt == "xlsx" else str(value)


@settings(FAST, max_examples=60)
@given(
    st.lists(
        st.lists(cell, min_size=3, max_size=3).filter(lambda r: r != [None] * 3), max_size=5
    ),
    st.lists(hostile, min_size=3, max_size=3),
    st.sampled_from(["xlsx", "csv"]),
)
def test_bufdir_report_has_no_formula_and_keeps_numbers(
    rows: list[list[Any]], headers: list[str], fmt: str
) -> None:
    summary = Summary()
    with TemporaryDirectory() as tmp:
        out = Path(tmp) / f"r.{fmt}"
        (write_xlsx if fmt == "xlsx" else write_csv)(iter(rows), headers, summary, out)
        if fmt == "xlsx":
            book = load_workbook(out)
            read = [list(r) for r in book["Aktiviteter"].iter_rows(values_only=True)]
            others = [v for sheet in book.worksheets[1:] for r in sheet.iter_rows(values_only=True)
                      for v in r]
        else:
            with out.open(encoding="utf-8-sig", newline="") as f:
                read = list(csv.reader(f, delimiter=";"))
            others = []
    assert read[0] == [_expected(h, fmt) for h in headers]
    assert read[1:] == [[_expected(v, fmt) for v in row] for row in rows]
    # csv has only text; there a cell is text where we wrote text (numbers compared above)
    texts = [
        v for r, o in zip(read, [headers, *rows], strict=True) for v, t in zip(r, o, strict=True)
        if isinstance(t, str) or fmt == "xlsx"
    ]
    for value in [*texts, *others]:
        assert not isinstance(value, str) or is_safe_text(value), value
