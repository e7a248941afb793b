"""Golden files: a fixed claim set (`;`, quotes, a leading `=`, a foreign currency, a late claim,
a long description, a project and a cost centre, a payable claimant) renders byte for byte to
the files in tests/golden/, and each file reads back, field by field and balanced, with a strict
positional GL02 reader (Xledger) and with the published data exchange definition (BC).

Set UPDATE_GOLDEN=1 to rewrite the files after an intended change, then review the diff.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from domain.vouchers import claim_id_of
from infrastructure.exporters.dynamics import DynamicsExporter
from infrastructure.exporters.dynamics_definition import definition_xml
from infrastructure.exporters.xledger import COLUMNS, XledgerExporter
from tests.accounting_readers import read_gl02, read_with_definition

GOLDEN = Path(__file__).parents[1] / "golden"
RUN = SimpleNamespace(
    id=UUID("5e7f0c2a-9b1d-4c3e-8f2a-0d1e2f3a4b5c"),
    org_id=UUID("44444444-4444-4444-4444-444444444444"),
    period_start=date(2025, 5, 1), period_end=date(2025, 5, 31),
)
SETTINGS: dict[str, Any] = {
    "company_code": "NHF01",
    "voucher_type": "UTL",
    "counter_account": "2930",
    "categories": {
        "reise": {"account": "7140", "tax_code": "0", "dimension": "AVD-10"},
        "kurs": {"account": "6860", "tax_code": "0", "dimension": "P-2025-07",
                 "dimension_kind": "project"},
        "bevertning": {"account": "7350", "tax_code": "11", "dimension": None},
    },
    "claimant_accounts": {"frivillig-7": "10042"},
}
LONG = ("Kjøregodtgjørelse for likepersonsbesøk Tromsø–Alta–Hammerfest og tilbake, "
        "med bompenger, ferje over Kvænangen og parkering ved Hammerfest sykehus i to døgn")


def _claim(n: int, category: str, amount: str, claimant: str, description: str,
           **extra: Any) -> dict[str, Any]:
    return {
        "claim_id": f"00000000-0000-4000-8000-{n:012d}", "claimant_id": claimant,
        "expense_date": "2025-05-02", "approved_at": "2025-05-05T10:00:00+02:00",
        "category": category, "amount": amount, "currency": "NOK",
        "description": description, "late": False, "amount_nok": None, **extra,
    }


CLAIMS = [
    _claim(1, "reise", "1234.50", "frivillig-7", 'Tog Oslo–Bergen; retur "Bergensbanen"'),
    _claim(2, "kurs", "450.00", "frivillig-9", "=SUM(A1:A9) kursmateriell"),
    _claim(3, "bevertning", "42.10", "frivillig-7", "Middag i København\tmed team",
           currency="EUR", amount_nok="493.55"),
    _claim(4, "reise", "89.90", "frivillig-12", "Parkering Ullevål", late=True),
    _claim(5, "bevertning", "300.00", "frivillig-9", LONG),
]
#: What each claim must become: expense account, NOK amount, posting field 1 and 2, text.
EXPECTED = {
    1: ("7140", "1234.50", "AVD-10", "", "Tog Oslo–Bergen, retur 'Bergensbanen'"),
    2: ("6860", "450.00", "", "P-2025-07", "'=SUM(A1:A9) kursmateriell"),
    3: ("7350", "493.55", "", "", "Middag i København med team"),
    4: ("7140", "89.90", "AVD-10", "", "SEN: Parkering Ullevål"),
    5: ("7350", "300.00", "", "", LONG),
}
FILES = {
    "xledger_gl02.csv": lambda: b"".join(XledgerExporter().render(RUN, CLAIMS, SETTINGS)),
    "dynamics_journal.csv": lambda: b"".join(DynamicsExporter().render(RUN, CLAIMS, SETTINGS)),
    "dynamics_import_definition.xml": definition_xml,
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_rendered_files_equal_the_golden_files_byte_for_byte(name: str) -> None:
    rendered = FILES[name]()
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(rendered)
    assert rendered == path.read_bytes()


def _number(claim_id: UUID) -> int:
    return int(str(claim_id)[-12:])


def test_the_golden_gl02_file_reads_back_field_by_field_and_balanced() -> None:
    lines = read_gl02((GOLDEN / "xledger_gl02.csv").read_bytes(), COLUMNS)
    vouchers: dict[str, list[dict[str, str]]] = defaultdict(list)
    for line in lines:
        vouchers[line["VoucherNo"]].append(line)

    assert len(vouchers) == len(CLAIMS)
    for voucher in vouchers.values():
        assert sum(Decimal(x["Amount"]) for x in voucher) == 0
        expense, counter = voucher
        n = _number(claim_id_of(expense["ImpSystemRef"]))
        account, amount, posting1, posting2, text = EXPECTED[n]
        assert (expense["Account"], expense["Amount"]) == (account, amount)
        assert (expense["Posting1"], expense["Posting2"], expense["Text"]) == (
            posting1, posting2, text
        )
        assert (expense["VoucherType"], expense["VoucherDate"]) == ("UTL", "20250531")
        assert counter["ImpSystemRef"] == expense["ImpSystemRef"]
        assert counter["Account"] == "2930"
        assert counter["SubledgerNo"] == ("10042" if n in (1, 3) else "")
        if n == 3:
            assert [(x["Currency"], x["CurrencyAmount"]) for x in voucher] == [
                ("EUR", "42.10"), ("EUR", "-42.10")
            ]
        else:
            assert {x["Currency"] for x in voucher} == {""}


def test_the_golden_bc_file_reads_back_through_the_definition_field_by_field() -> None:
    lines = read_with_definition(
        (GOLDEN / "dynamics_journal.csv").read_bytes(),
        (GOLDEN / "dynamics_import_definition.xml").read_bytes(),
    )
    documents: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        documents[line["External Document No."]].append(line)

    assert len(documents) == len(CLAIMS)
    for reference, (expense, counter) in documents.items():
        n = _number(claim_id_of(reference))
        account, amount, dimension1, dimension2, text = EXPECTED[n]
        nok = [x.get("Amount (LCY)", x["Amount"]) for x in (expense, counter)]
        assert nok == [Decimal(amount), -Decimal(amount)]
        assert expense["Amount"] + counter["Amount"] == 0
        assert (expense["Account Type"], expense["Account No."]) == ("G/L Account", account)
        assert expense.get("Shortcut Dimension 1 Code", "") == dimension1
        assert expense.get("Shortcut Dimension 2 Code", "") == dimension2
        assert expense["Description"] == text[:100].rstrip()
        assert expense["Posting Date"] == date(2025, 5, 31)
        payable = ("Employee", "10042") if n in (1, 3) else ("G/L Account", "2930")
        assert (counter["Account Type"], counter["Account No."]) == payable
        assert "Document No." not in expense  # the batch's number series numbers it
        if n == 3:
            assert (expense["Currency Code"], expense["Amount"]) == ("EUR", Decimal("42.10"))
