"""The Xledger GL02 file, read back by a strict positional reader: columns, dates, NOK on every
line, balanced vouchers, 25-character references, unquoted text, payable claimants."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.accounting_settings import AccountingSettings, ExportSettings
from domain.shared import Actor
from domain.vouchers import ExportRefused, claim_id_of
from infrastructure.exporters._text import CHUNK
from infrastructure.exporters.xledger import COLUMNS, XledgerExporter
from tests.accounting_readers import read_gl02

ORG = UUID("22222222-2222-2222-2222-222222222222")
RUN = SimpleNamespace(
    id=UUID("abcdef01-2345-6789-abcd-ef0123456789"), org_id=ORG, target="xledger",
    period_start=date(2025, 3, 1), period_end=date(2025, 3, 31),
)
SETTINGS: dict[str, Any] = {
    "company_code": "NHF",
    "voucher_type": "UT",
    "counter_account": "2910",
    "categories": {
        "travel": {"account": "7140", "tax_code": "0", "dimension": "200"},
        "meals": {"account": "7350", "tax_code": "11", "dimension": None},
    },
}


def claim(
    category: str = "travel", amount: str = "100.00", claimant: str = "c-1", **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "claim_id": str(uuid4()), "claimant_id": claimant, "expense_date": "2025-03-04",
        "approved_at": "2025-03-10T09:00:00+00:00", "category": category, "amount": amount,
        "currency": "NOK", "description": "Reise Oslo-Bergen", "late": False,
    }
    data.update(extra)
    return data


def render(claims: list[dict[str, Any]], settings: Any = None, **changes: Any) -> list[list[str]]:
    settings = settings if settings is not None else {**SETTINGS, **changes}
    data = b"".join(XledgerExporter().render(RUN, claims, settings))
    rows = read_gl02(data, COLUMNS)
    return [list(COLUMNS)] + [list(row.values()) for row in rows]


def by_voucher(rows: list[list[str]]) -> dict[str, list[dict[str, str]]]:
    vouchers: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows[1:]:
        line = dict(zip(COLUMNS, row, strict=True))
        vouchers[line["VoucherNo"]].append(line)
    return vouchers


def test_header_has_the_gl02_columns_in_order_and_every_row_ends_with_x() -> None:
    rows = render([claim(), claim("meals")])

    assert rows[0][:8] == [
        "ImpSystem", "ImpSystemRef", "VoucherType", "VoucherNo", "FiscalYear", "PeriodNo",
        "VoucherDate", "Account",
    ]
    assert rows[0].index("Text") < rows[0].index("TaxRule") < rows[0].index("Currency")
    assert rows[0].index("CurrencyAmount") < rows[0].index("Amount")
    assert rows[0][-1] == "EOL"
    assert len(rows) == 5
    assert all(len(r) == len(COLUMNS) == 49 and r[-1] == "x" for r in rows[1:])


def test_dates_periods_and_amounts_use_gl02_formats() -> None:
    rows = render([claim(amount="1234.5")])
    lines = [dict(zip(COLUMNS, r, strict=True)) for r in rows[1:]]

    assert {line["VoucherDate"] for line in lines} == {"20250331"}
    assert {line["FiscalYear"] for line in lines} == {"2025"}
    assert {line["PeriodNo"] for line in lines} == {"3"}
    assert [line["Amount"] for line in lines] == ["1234.50", "-1234.50"]
    assert all(re.fullmatch(r"-?\d+\.\d\d", line["Amount"]) for line in lines)
    assert {line["VoucherType"] for line in lines} == {"UT"}


def test_one_balanced_voucher_per_claim_referencing_the_claim() -> None:
    claims = [claim(amount="0.10"), claim("meals", amount="0.20"), claim(amount="333.33")]
    vouchers = by_voucher(render(claims))

    assert len(vouchers) == 3
    for lines, source in zip(vouchers.values(), claims, strict=True):
        assert sum(Decimal(line["Amount"]) for line in lines) == Decimal("0")
        refs = {line["ImpSystemRef"] for line in lines}
        assert len(refs) == 1 and len(refs.copy().pop()) == 25
        assert claim_id_of(refs.pop()) == UUID(source["claim_id"])
        expense, counter = lines
        assert expense["Account"] == SETTINGS["categories"][source["category"]]["account"]
        assert counter["Account"] == "2910"
        assert counter["TaxRule"] == ""
    travel = vouchers["1"][0]
    assert travel["TaxRule"] == "0" and travel["Posting1"] == "200"
    assert vouchers["2"][0]["TaxRule"] == "11" and vouchers["2"][0]["Posting1"] == ""


def test_per_claimant_grouping_puts_a_claimants_claims_in_one_voucher() -> None:
    claims = [claim(claimant="b", amount="10.05"), claim("meals", claimant="a"),
              claim(claimant="b", amount="20.10")]
    vouchers = by_voucher(render(claims, voucher_grouping="per_claimant"))

    assert [len(lines) for lines in vouchers.values()] == [2, 3]
    claimant_b = vouchers["2"]
    assert [claim_id_of(line["ImpSystemRef"]) for line in claimant_b[:2]] == [
        UUID(claims[0]["claim_id"]), UUID(claims[2]["claim_id"])
    ]
    assert claimant_b[2]["ImpSystemRef"] == ""
    assert claimant_b[2]["Amount"] == "-30.15"
    for lines in vouchers.values():
        assert sum(Decimal(line["Amount"]) for line in lines) == 0


def test_late_claims_are_marked_in_the_text() -> None:
    vouchers = by_voucher(render([claim(late=True), claim(late=False)]))

    assert vouchers["1"][0]["Text"].startswith("SEN: ")
    assert not vouchers["2"][0]["Text"].startswith("SEN")


def test_text_is_never_quoted_so_a_plain_split_keeps_every_column() -> None:
    text = 'Bompenger; ferje "Moss-Horten"\nog\tparkering på Ærø, Økern, Åsane'
    rows = render([claim(description=text), claim(description="=HYPERLINK(1)")])

    assert len(rows) == 5
    assert rows[1][COLUMNS.index("Text")] == (
        "Bompenger, ferje 'Moss-Horten' og parkering på Ærø, Økern, Åsane"
    )
    assert rows[3][COLUMNS.index("Text")] == "'=HYPERLINK(1)"


def test_unmapped_categories_are_refused_before_anything_is_written() -> None:
    with pytest.raises(ExportRefused) as refused:
        XledgerExporter().render(RUN, [claim("taxi"), claim(), claim("bus")], SETTINGS)

    assert refused.value.code == "unmapped_category"
    assert "bus" in str(refused.value) and "taxi" in str(refused.value)
    assert "travel" not in str(refused.value)


def test_an_organisation_without_settings_is_refused() -> None:
    with pytest.raises(ExportRefused) as refused:
        XledgerExporter().render(RUN, [claim("taxi")], None)

    assert refused.value.code == "unmapped_category"
    assert "taxi" in str(refused.value)


def test_foreign_currency_claim_posts_nok_with_its_currency_amount_beside() -> None:
    eur = claim(amount="42.10", currency="EUR", amount_nok="493.55")
    vouchers = by_voucher(render([eur, claim(amount="10.00")]))

    foreign, home = vouchers["1"], vouchers["2"]
    assert [(x["Currency"], x["CurrencyAmount"], x["Amount"]) for x in foreign] == [
        ("EUR", "42.10", "493.55"), ("EUR", "-42.10", "-493.55")
    ]
    assert [(x["Currency"], x["CurrencyAmount"], x["Amount"]) for x in home] == [
        ("", "", "10.00"), ("", "", "-10.00")
    ]


def test_per_claimant_vouchers_never_mix_currencies() -> None:
    claims = [claim(amount="5.00", currency="SEK", amount_nok="5.10"), claim(amount="7.00"),
              claim(amount="1.00")]
    vouchers = by_voucher(render(claims, voucher_grouping="per_claimant"))

    assert sorted({x["Currency"] for x in v}.pop() for v in vouchers.values()) == ["", "SEK"]
    assert all(len({x["Currency"] for x in v}) == 1 for v in vouchers.values())
    assert sorted(len(v) for v in vouchers.values()) == [2, 3]


def test_a_foreign_claim_without_its_nok_amount_is_refused() -> None:
    with pytest.raises(ExportRefused) as refused:
        XledgerExporter().render(RUN, [claim(), claim(currency="EUR")], SETTINGS)

    assert refused.value.code == "invalid_claim"
    assert "amount_nok" in str(refused.value)


def test_each_dimension_goes_to_the_posting_field_of_its_kind() -> None:
    categories = {
        "travel": {"account": "7140", "dimension": "200", "dimension_kind": "cost_centre"},
        "meals": {"account": "7350", "dimension": "P-17", "dimension_kind": "project"},
    }
    lines = [dict(zip(COLUMNS, r, strict=True))
             for r in render([claim(), claim("meals")], categories=categories)[1:]]
    assert [(x["Posting1"], x["Posting2"]) for x in lines] == [
        ("200", ""), ("", ""), ("", "P-17"), ("", "")
    ]
    swapped = render([claim()], categories=categories,
                     dimension_fields={"cost_centre": 2, "project": 1})
    assert swapped[1][COLUMNS.index("Posting2")] == "200"


def test_a_mapped_claimant_is_named_in_the_subledger_of_the_counter_line() -> None:
    rows = render([claim(claimant="c-1"), claim(claimant="c-2")],
                  claimant_accounts={"c-1": "10042"})
    lines = [dict(zip(COLUMNS, r, strict=True)) for r in rows[1:]]

    assert [(x["Account"], x["SubledgerNo"]) for x in lines] == [
        ("7140", ""), ("2910", "10042"), ("7140", ""), ("2910", "")
    ]


def test_a_claim_without_a_currency_code_is_refused() -> None:
    with pytest.raises(ExportRefused) as refused:
        XledgerExporter().render(RUN, [claim(currency="euro")], SETTINGS)

    assert refused.value.code == "invalid_claim"


def test_no_claims_give_a_file_with_only_the_header() -> None:
    rows = render([])

    assert rows == [list(COLUMNS)]


class TakenOnce:
    """A re-iterable stream of claims (as a run's taken claims are) that counts its readings."""

    def __init__(self, claims: list[dict[str, Any]]) -> None:
        self.claims = claims
        self.readings = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.readings += 1
        return iter(self.claims)


def test_the_file_is_written_in_64_kib_pieces_from_one_reading_of_the_stream() -> None:
    claims = [claim(description=f"Reise {i} Oslo-Bergen") for i in range(1500)]
    stream = TakenOnce(claims)
    chunks = list(XledgerExporter().render(RUN, stream, SETTINGS))

    assert stream.readings == 1
    assert len(chunks) > 3
    assert all(CHUNK <= len(c) < CHUNK + 1000 for c in chunks[:-1])
    assert all(chunk.endswith(b"x\r\n") for chunk in chunks)  # whole lines only
    assert b"".join(chunks) == b"".join(XledgerExporter().render(RUN, claims, SETTINGS))


def test_a_stream_is_refused_at_its_end_naming_every_unmapped_category() -> None:
    stream = TakenOnce([claim(), claim("taxi"), claim(), claim("bus")])
    with pytest.raises(ExportRefused) as refused:
        b"".join(XledgerExporter().render(RUN, stream, SETTINGS))

    assert refused.value.code == "unmapped_category" and stream.readings == 1
    assert "bus, taxi" in str(refused.value)


def test_the_aggregate_and_its_view_are_accepted_as_settings() -> None:
    aggregate = AccountingSettings.configure(ORG, SETTINGS, Actor("u", ORG, "r"))
    claims = [claim()]

    expected = render(claims)
    assert render(claims, aggregate) == expected
    assert render(claims, ExportSettings.from_dict(SETTINGS)) == expected
    exporter = XledgerExporter()
    assert (exporter.target, exporter.content_type, exporter.extension) == (
        "xledger", "text/csv", "csv"
    )
    assert exporter.extension_for(aggregate) == "csv"


def test_lines_filled_into_repeating_parts_are_the_lines_written_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Accounts, posting fields, tax rules and counter texts are kept between lines of a file
    (and forgotten past a limit): each line is still the line its voucher gives written alone."""
    import infrastructure.exporters.xledger as xledger

    monkeypatch.setattr(xledger, "TEXTS_KEPT", 2)
    settings = {**SETTINGS, "claimant_accounts": {"c-2": "10042"}}
    claims = [claim(category, f"{10 + n}.5{n}", f"c-{n % 3}", description=f"Tur {n}; =x")
              for n, category in enumerate(["travel", "meals", "travel", "meals", "meals",
                                            "travel", "travel"])]
    claims.append(claim("meals", "42.10", "c-2", currency="EUR", amount_nok="493.55"))
    together = render(claims, settings)[1:]
    alone = [line for c in claims for line in render([c], settings)[1:]]
    voucher_no = COLUMNS.index("VoucherNo")
    assert len(together) == len(alone) == 2 * len(claims)
    assert [r[:voucher_no] + r[voucher_no + 1:] for r in together] == [
        r[:voucher_no] + r[voucher_no + 1:] for r in alone]
    assert [r[voucher_no] for r in together] == [str(1 + n // 2) for n in range(len(together))]
