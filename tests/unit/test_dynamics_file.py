"""The Business Central journal file, CSV and xlsx, parsed back: balanced documents and limits."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest
from openpyxl import load_workbook

from application.errors import ExportRefused
from infrastructure.exporters.dynamics import COLUMNS, XLSX_TYPE, DynamicsExporter

ORG = UUID("33333333-3333-3333-3333-333333333333")
RUN = SimpleNamespace(
    id=UUID("abcdef01-2345-6789-abcd-ef0123456789"), org_id=ORG, target="dynamics",
    period_start=date(2025, 4, 1), period_end=date(2025, 4, 30),
)
SETTINGS: dict[str, Any] = {
    "company_code": "HLF",
    "voucher_type": "UTLEGG",
    "counter_account": "2930",
    "categories": {
        "travel": {"account": "7140", "tax_code": "0", "dimension": "AVD10"},
        "meals": {"account": "7350", "tax_code": "11", "dimension": None},
    },
}
LONG = "Kjøregodtgjørelse Tromsø-Ålesund; bompenger og ferje «Æ» over fjorden"


def claim(category: str = "travel", amount: str = "100.00", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "claim_id": str(uuid4()), "claimant_id": "c-1", "expense_date": "2025-04-02",
        "approved_at": "2025-04-03T09:00:00+00:00", "category": category, "amount": amount,
        "currency": "NOK", "description": "Tog Oslo-Lillehammer", "late": False,
    }
    data.update(extra)
    return data


def csv_lines(claims: list[dict[str, Any]], **changes: Any) -> list[dict[str, str]]:
    data = b"".join(DynamicsExporter().render(RUN, claims, {**SETTINGS, **changes}))
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(COLUMNS)
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]


def xlsx_rows(claims: list[dict[str, Any]], tmp_path: Path) -> list[tuple[Any, ...]]:
    path = tmp_path / "journal.xlsx"
    path.write_bytes(b"".join(DynamicsExporter().render(RUN, claims, {**SETTINGS,
                                                                       "file_format": "xlsx"})))
    workbook = load_workbook(path)
    sheet = workbook["Journal lines"]
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == list(COLUMNS)
    amounts = [row[COLUMNS.index("amount")] for row in rows[1:]]
    assert all(cell.data_type == "n" for cell in amounts)
    values = [tuple(c.value for c in row) for row in rows[1:]]
    workbook.close()
    return values


def by_document(lines: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    documents: dict[str, list[dict[str, str]]] = defaultdict(list)
    for line in lines:
        documents[line["documentNumber"]].append(line)
    return documents


def test_each_document_is_balanced_and_references_its_claim() -> None:
    claims = [claim(amount="0.10"), claim("meals", amount="0.20"), claim(amount="99.99")]
    documents = by_document(csv_lines(claims))

    assert len(documents) == 3
    for (number, lines), source in zip(documents.items(), claims, strict=True):
        assert len(number) <= 20
        assert sum(Decimal(line["amount"]) for line in lines) == 0
        assert {UUID(line["externalDocumentNumber"]) for line in lines} == {
            UUID(source["claim_id"])
        }
        assert all(len(line["externalDocumentNumber"]) <= 35 for line in lines)
        assert lines[-1]["accountNumber"] == "2930"
        assert lines[0]["accountNumber"] == SETTINGS["categories"][source["category"]]["account"]


def test_columns_dates_line_numbers_and_dimensions() -> None:
    lines = csv_lines([claim(), claim("meals")])

    assert {line["postingDate"] for line in lines} == {"2025-04-30"}
    assert {line["journalDisplayName"] for line in lines} == {"UTLEGG"}
    assert {line["accountType"] for line in lines} == {"G/L Account"}
    assert [line["lineNumber"] for line in lines] == ["10000", "20000", "30000", "40000"]
    assert lines[0]["shortcutDimension1Code"] == "AVD10" and lines[0]["taxCode"] == "0"
    assert lines[2]["shortcutDimension1Code"] == "" and lines[2]["taxCode"] == "11"
    assert lines[0]["amount"] == "100.00" and lines[1]["amount"] == "-100.00"


def test_descriptions_are_at_most_50_characters_and_keep_letters_and_semicolons() -> None:
    lines = csv_lines([claim(description=LONG), claim(description="a;b\nc", late=True)])

    assert all(len(line["description"]) <= 50 for line in lines)
    assert lines[0]["description"] == LONG[:50]
    assert "Tromsø-Ålesund; " in lines[0]["description"]
    assert lines[2]["description"] == "SEN: a;b c"


def test_per_claimant_documents_hold_all_claims_of_a_claimant() -> None:
    claims = [claim(claimant_id="x", amount="1.11"), claim(claimant_id="x", amount="2.22")]
    documents = by_document(csv_lines(claims, voucher_grouping="per_claimant"))

    (lines,) = documents.values()
    assert [line["amount"] for line in lines] == ["1.11", "2.22", "-3.33"]
    assert lines[2]["externalDocumentNumber"] == ""


def test_xlsx_opens_with_typed_cells_and_balanced_documents(tmp_path: Path) -> None:
    claims = [claim(amount="12.34", description=LONG), claim("meals", amount="0.66",
                                                             description="=SUM(A1)")]
    rows = xlsx_rows(claims, tmp_path)

    assert len(rows) == 4
    col = {name: i for i, name in enumerate(COLUMNS)}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row[col["documentNumber"]]] += Decimal(str(row[col["amount"]]))
        assert isinstance(row[col["postingDate"]], datetime | date)
        assert isinstance(row[col["lineNumber"]], int)
        assert len(row[col["description"]]) <= 50
    assert set(totals.values()) == {Decimal("0.00")}
    assert rows[0][col["amount"]] == pytest.approx(12.34)
    assert rows[0][col["description"]] == LONG[:50]
    assert rows[2][col["description"]] == "'=SUM(A1)"  # neutralised text, never a formula
    assert UUID(rows[0][col["externalDocumentNumber"]]) == UUID(claims[0]["claim_id"])


def test_xlsx_without_claims_has_only_the_header(tmp_path: Path) -> None:
    assert xlsx_rows([], tmp_path) == []


def test_format_decides_content_type_and_extension() -> None:
    exporter = DynamicsExporter()

    assert (exporter.target, exporter.content_type, exporter.extension) == (
        "dynamics", "text/csv", "csv"
    )
    assert exporter.extension_for(SETTINGS) == "csv"
    assert exporter.extension_for({**SETTINGS, "file_format": "xlsx"}) == "xlsx"
    assert exporter.content_type_for({**SETTINGS, "file_format": "xlsx"}) == XLSX_TYPE
    assert exporter.extension_for(None) == "csv"


def test_unmapped_categories_are_refused_naming_them() -> None:
    with pytest.raises(ExportRefused) as refused:
        DynamicsExporter().render(RUN, [claim("parking"), claim()], SETTINGS)

    assert refused.value.code == "unmapped_category"
    assert "parking" in str(refused.value)


def test_no_settings_is_refused_even_for_xlsx() -> None:
    with pytest.raises(ExportRefused) as refused:
        DynamicsExporter().render(RUN, [claim()], None)

    assert refused.value.code == "unmapped_category"


def test_no_claims_give_a_csv_with_only_the_header() -> None:
    assert csv_lines([]) == []


def test_foreign_currency_line_names_its_currency_code() -> None:
    data = b"".join(DynamicsExporter().render(RUN, [claim(amount="3.50", currency="EUR"), claim()], SETTINGS))
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [(r["currencyCode"], r["amount"]) for r in rows] == [
        ("EUR", "3.50"), ("EUR", "-3.50"), ("", "100.00"), ("", "-100.00")
    ]
