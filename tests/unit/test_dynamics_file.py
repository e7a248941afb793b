"""The Business Central journal file, read back only through the data exchange definition we
publish: balanced documents, number-series or prefixed document numbers, payable claimants."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.vouchers import ExportRefused, claim_id_of
from infrastructure.exporters.dynamics import CSV_TYPE, DynamicsExporter
from infrastructure.exporters.dynamics_definition import COLUMNS, definition_xml
from tests.accounting_readers import Refused, read_with_definition

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
        "course": {"account": "6860", "dimension": "P-9", "dimension_kind": "project"},
    },
}
LONG = "Kjøregodtgjørelse Tromsø-Ålesund; bompenger og ferje «Æ» over fjorden " * 3


def claim(category: str = "travel", amount: str = "100.00", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "claim_id": str(uuid4()), "claimant_id": "c-1", "expense_date": "2025-04-02",
        "approved_at": "2025-04-03T09:00:00+00:00", "category": category, "amount": amount,
        "currency": "NOK", "description": "Tog Oslo-Lillehammer", "late": False,
    }
    data.update(extra)
    return data


def journal(claims: list[dict[str, Any]], **changes: Any) -> list[dict[str, Any]]:
    data = b"".join(DynamicsExporter().render(RUN, claims, {**SETTINGS, **changes}))
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").split("\r\n")[0] == ";".join(COLUMNS)
    return read_with_definition(data, definition_xml())


def by_claim(lines: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    documents: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        documents[line["External Document No."]].append(line)
    return documents


def test_each_claim_balances_and_is_referenced_by_its_external_document_no() -> None:
    claims = [claim(amount="0.10"), claim("meals", amount="0.20"), claim(amount="99.99")]
    documents = by_claim(journal(claims))

    assert len(documents) == 3
    for (reference, lines), source in zip(documents.items(), claims, strict=True):
        assert claim_id_of(reference) == UUID(source["claim_id"])
        assert sum(line["Amount"] for line in lines) == 0
        assert lines[-1]["Account No."] == "2930"
        assert lines[0]["Account No."] == SETTINGS["categories"][source["category"]]["account"]
        assert {line["Account Type"] for line in lines} == {"G/L Account"}


def test_without_a_prefix_the_batch_number_series_gives_the_document_no() -> None:
    lines = journal([claim(), claim("meals")])

    assert all("Document No." not in line for line in lines)  # the import's own number
    assert {line["Posting Date"] for line in lines} == {date(2025, 4, 30)}
    assert lines[0]["Shortcut Dimension 1 Code"] == "AVD10"
    assert lines[0]["VAT Prod. Posting Group"] == "0"
    assert "Shortcut Dimension 1 Code" not in lines[2] and lines[2]["VAT Prod. Posting Group"] == "11"
    assert [line["Amount"] for line in lines[:2]] == [Decimal("100.00"), Decimal("-100.00")]


def test_a_prefix_gives_one_code20_document_no_per_voucher() -> None:
    lines = journal([claim(), claim()], document_prefix="UTL")

    numbers = [line["Document No."] for line in lines]
    assert numbers == ["UTLABCDEF-000001"] * 2 + ["UTLABCDEF-000002"] * 2
    assert all(len(n) <= 20 for n in numbers)


def test_descriptions_keep_up_to_100_characters_without_separators_or_formulas() -> None:
    lines = journal([claim(description=LONG), claim(description="=1+2", late=True),
                     claim(description="@SUM(A1)")])

    assert len(lines[0]["Description"]) == 100
    assert lines[0]["Description"].startswith("Kjøregodtgjørelse Tromsø-Ålesund, bompenger")
    assert lines[2]["Description"] == "SEN: =1+2"
    assert lines[4]["Description"] == "'@SUM(A1)"


def test_a_project_goes_to_its_own_dimension() -> None:
    lines = journal([claim("course")])

    assert lines[0]["Shortcut Dimension 2 Code"] == "P-9"
    assert "Shortcut Dimension 1 Code" not in lines[0]


def test_a_foreign_claim_posts_its_currency_amount_and_the_nok_amount_lcy() -> None:
    lines = journal([claim(amount="3.50", currency="EUR", amount_nok="41.07")])

    assert [(x["Currency Code"], x["Amount"], x["Amount (LCY)"]) for x in lines] == [
        ("EUR", Decimal("3.50"), Decimal("41.07")), ("EUR", Decimal("-3.50"), Decimal("-41.07"))
    ]


def test_a_mapped_claimant_is_the_employee_or_vendor_the_counter_line_pays() -> None:
    claims = [claim(claimant_id="x", amount="1.11"), claim(claimant_id="x", amount="2.22"),
              claim(claimant_id="y")]
    lines = journal(claims, voucher_grouping="per_claimant", claimant_accounts={"x": "E0042"})

    assert [(x["Account Type"], x["Account No."], x["Amount"]) for x in lines[:3]] == [
        ("G/L Account", "7140", Decimal("1.11")), ("G/L Account", "7140", Decimal("2.22")),
        ("Employee", "E0042", Decimal("-3.33")),
    ]
    assert lines[-1]["Account Type"] == "G/L Account" and lines[-1]["Account No."] == "2930"
    vendor = journal([claim(claimant_id="x")], claimant_accounts={"x": "L7"},
                     claimant_account_type="vendor")
    assert (vendor[1]["Account Type"], vendor[1]["Account No."]) == ("Vendor", "L7")


def test_the_definition_is_what_the_data_exchange_definitions_page_imports() -> None:
    root = ET.fromstring(definition_xml())  # noqa: S314 - our own definition
    exch = root.find("DataExchDef")
    assert exch is not None
    assert (exch.get("Type"), exch.get("FileType"), exch.get("ColumnSeparator")) == ("2", "1", "2")
    assert exch.get("ReadingWritingXMLport") == "1220" and exch.get("HeaderLines") == "1"
    assert len(exch.get("Code", "")) <= 20
    names = [c.get("Name") for c in root.iter("DataExchColumnDef")]
    assert names == list(COLUMNS)
    fields = [m.get("FieldID") for m in root.iter("DataExchFieldMapping")]
    assert fields.index("3") < fields.index("4") < fields.index("8")  # type, account, text
    assert fields.index("12") < fields.index("13") < fields.index("16")  # currency, amounts
    assert definition_xml() == definition_xml()


def test_a_shifted_or_quoted_file_is_refused_by_the_definitions_reader() -> None:
    data = b"".join(DynamicsExporter().render(RUN, [claim()], SETTINGS)).decode("utf-8-sig")
    header, first, *rest = data.split("\r\n")
    broken = "\r\n".join([header, first.replace("Tog", "Tog;ekstra"), *rest])

    with pytest.raises(Refused):
        read_with_definition(broken.encode("utf-8"), definition_xml())


def test_unmapped_categories_and_missing_settings_are_refused() -> None:
    with pytest.raises(ExportRefused) as refused:
        DynamicsExporter().render(RUN, [claim("parking"), claim()], SETTINGS)
    assert refused.value.code == "unmapped_category" and "parking" in str(refused.value)

    with pytest.raises(ExportRefused) as missing:
        DynamicsExporter().render(RUN, [claim()], None)
    assert missing.value.code == "unmapped_category"


def test_the_file_is_csv_and_settings_of_the_withdrawn_xlsx_format_still_give_csv() -> None:
    exporter = DynamicsExporter()
    assert exporter.extension_for(SETTINGS) == "csv"
    assert exporter.content_type_for({**SETTINGS, "file_format": "xlsx"}) == CSV_TYPE
    assert exporter.import_definition()[0] == "application/xml"


def test_no_claims_give_only_the_header() -> None:
    assert journal([]) == []
