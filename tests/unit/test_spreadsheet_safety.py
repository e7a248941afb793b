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
from infrastructure.exporters.dynamics import DynamicsExporter
from infrastructure.exporters.dynamics_definition import definition_xml
from infrastructure.exporters.xledger import COLUMNS as GL02_COLUMNS
from infrastructure.exporters.xledger import XledgerExporter
from tests.accounting_readers import read_gl02, read_with_definition

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
            "amount_nok": str(draw(amount)),
        }
        for _ in range(draw(st.integers(1, 4)))
    ]
    # Settings built directly, past the validation that refuses such codes when stored.
    valid = ExportSettings(
        company_code=draw(code), voucher_type=draw(code.filter(lambda t: len(t) <= 7)),
        counter_account="2930", categories=mapping,
        voucher_grouping=draw(st.sampled_from(["per_claim", "per_claimant"])),
        claimant_accounts={c["claimant_id"]: draw(code) for c in claims[:1]},
        document_prefix=draw(st.one_of(st.none(), code)),
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
    """The strict positional reader refuses any text field starting with a trigger, any quote,
    tab or line break, and any shifted line; amounts must be plain numbers."""
    claims, valid = data
    lines = read_gl02(b"".join(XledgerExporter().render(RUN, claims, valid)), GL02_COLUMNS)
    assert len(lines) >= 2  # every voucher line was read back
    assert sum(Decimal(line["Amount"]) for line in lines) == 0
    assert all(is_safe_text(line[c]) for line in lines for c in GL02_COLUMNS
               if c not in ("Amount", "CurrencyAmount"))


@settings(FAST, max_examples=60)
@given(claims_and_settings())
def test_business_central_file_has_no_formula_and_numeric_amounts(data: Any) -> None:
    """Read through the data exchange definition: text fields never start a formula, amounts
    are decimals (a negative amount is a number, not text) and the journal balances."""
    claims, valid = data
    body = b"".join(DynamicsExporter().render(RUN, claims, valid))
    lines = read_with_definition(body, definition_xml())
    assert sum(line.get("Amount (LCY)", line["Amount"]) for line in lines) == 0
    for line in lines:
        assert all(is_safe_text(v) for v in line.values() if isinstance(v, str)), line
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert all(len(row) == len(rows[0]) for row in rows)  # also unshifted for Excel


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
