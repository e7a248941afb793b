"""The fast ways an execution writes a big run give what the plain ways give, byte for byte and
refusal for refusal: a GL02 file, or a Business Central journal file, written from the claims'
columns (one voucher per claim) is the file written voucher by voucher from one dict per claim, a ledger reference computed
three digits at a time is the claim id in 25 base-36 digits, and the claim ids sent to the
reservation guard as one text are the ids, none split or lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.export_run import CLAIM_FIELDS, ClaimBatches
from domain.vouchers import (
    LEDGER_REF_LENGTH,
    ExportRefused,
    claim_id_of,
    ledger_ref,
    own_vouchers,
)
from infrastructure.exporters.dynamics import DynamicsExporter
from infrastructure.exporters.xledger import XledgerExporter
from infrastructure.guards import claim_id_list

RUN = SimpleNamespace(id=UUID(int=7), org_id=UUID(int=8), period_start=date(2025, 3, 1),
                      period_end=date(2025, 3, 31))
DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def reference_ledger_ref(claim_id: str) -> str:
    """The definition: UUID() reads the id, its number written in 25 base-36 digits."""
    try:
        number = UUID(claim_id).int
    except ValueError:
        return "".join(c for c in claim_id if c.isascii() and c.isalnum())[:LEDGER_REF_LENGTH]
    digits = ""
    for _ in range(LEDGER_REF_LENGTH):
        number, digit = divmod(number, 36)
        digits = DIGITS[digit] + digits
    return digits


@given(st.uuids(), st.sampled_from([str, lambda u: u.hex, lambda u: str(u).upper(),
                                    lambda u: f"{{{u}}}", lambda u: f"urn:uuid:{u}"]))
@example(UUID(int=0), str)
@example(UUID(int=2**128 - 1), str)
def test_a_ledger_reference_is_the_claim_id_in_25_base_36_digits(
    claim: UUID, written: Callable[[UUID], str]
) -> None:
    reference = ledger_ref(written(claim))
    assert reference == reference_ledger_ref(written(claim))
    assert len(reference) == LEDGER_REF_LENGTH and claim_id_of(reference) == claim


@given(st.text(max_size=40))
@example("0x" + "1" * 30)  # int(..., 16) reads a 0x prefix, as UUID() does
@example("g" * 32)
@example(" " + "f" * 31)
@example("+" + "f" * 31)
@example("_" + "f" * 31)
@example("٣" * 32)  # digits outside ASCII: UUID() reads them
@example("1-2-3" + "f" * 29)
def test_any_other_text_gets_the_reference_uuid_gives_it(text: str) -> None:
    assert ledger_ref(text) == reference_ledger_ref(text)


class Claims:
    """The same claims as a plain re-iterable stream: written the usual way."""

    def __init__(self, batches: list[dict[str, list[Any]]]) -> None:
        self.batches = ClaimBatches(batches)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.batches)


def outcome(write: Callable[[], bytes]) -> Any:
    try:
        return write()
    except Exception as error:  # the refusal (or error) is what is compared
        return type(error), str(error), getattr(error, "code", None)


TEXTS = st.one_of(st.none(), st.text(max_size=30), st.sampled_from([
    'Tog Oslo–Bergen; retur "Bergensbanen"', "=SUM(A1:A9)", "Middag\tmed\nteam", "  ", "-5",
    "+47 ring", "@bruker", "x" * 300, "Ærlig øl ✓ 𝄞",
]))
AMOUNTS = st.one_of(
    st.sampled_from(["1234.50", "0.01", "10.005", "-0.001", "0", "7", "12.345", "99999999.99",
                     "abc", "NaN", "Infinity", "1E+40", ""]),
    st.none(),
    st.decimals(min_value=-10**9, max_value=10**9, places=3).map(str),
)
CLAIMANTS = st.sampled_from(["c-1", "c-2", "frivillig-7", "c;4"])


@st.composite
def claim(draw: st.DrawFn, number: int) -> dict[str, Any]:
    valid = draw(st.integers(0, 9)) > 0  # mostly claims that can be written
    currency = draw(st.sampled_from(["NOK", "NOK", "EUR", "SEK"] if valid else
                                    ["NOK", "EUR", "eur", "EURO", "", None]))
    claim_id = str(UUID(int=number * 7919 + draw(st.integers(0, 2**64))))
    return {
        "claim_id": claim_id,
        "claimant_id": draw(CLAIMANTS),
        "expense_date": "2025-03-04", "approved_at": "2025-03-10T09:00:00+00:00",
        "category": draw(st.sampled_from(["travel", "meals", "kurs"] if valid else
                                         ["travel", "unmapped", "meals"])),
        "amount": draw(st.sampled_from(["100.00", "42.10", "0.00"])) if valid else draw(AMOUNTS),
        "currency": currency,
        "description": draw(TEXTS),
        "late": draw(st.sampled_from([True, False, None, 1])),
        "amount_nok": (draw(st.sampled_from(["493.55", "0.01"])) if valid else draw(AMOUNTS))
        if currency != "NOK" else None,
        "ledger_ref": draw(st.sampled_from([ledger_ref(claim_id), "", None])),
    }


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, list[Any]]]:
    out = []
    number = 0
    for size in draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)):
        claims = [draw(claim(number + n)) for n in range(size)]
        number += size
        fields = [f for f in CLAIM_FIELDS if f != "amount_nok" or draw(st.booleans())]
        out.append({f: [c[f] for c in claims] for f in fields})  # old events: no amount_nok
    return out


@st.composite
def export_settings(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from([None, {"voucher_type": "UT"}]))  # none, or invalid
    return {
        "company_code": "NHF", "voucher_type": draw(st.sampled_from(["UT", "UTL"])),
        "counter_account": "2910",
        "voucher_grouping": draw(st.sampled_from(["per_claim", "per_claim", "per_claimant"])),
        "categories": {
            "travel": {"account": "7140", "tax_code": "0", "dimension": "200"},
            "meals": {"account": "7350", "tax_code": draw(st.sampled_from(["11", ""])),
                      "dimension": None},
            "kurs": {"account": "6860", "tax_code": "0", "dimension": "P-2025-07",
                     "dimension_kind": draw(st.sampled_from(["project", "department"]))},
        },
        "claimant_accounts": draw(st.sampled_from([{}, {"frivillig-7": "10042"}])),
        "claimant_account_type": draw(st.sampled_from(["employee", "vendor"])),
        "document_prefix": draw(st.sampled_from([None, "UTL", "K-7"])),
    }


@pytest.mark.parametrize("exporter", [XledgerExporter(), DynamicsExporter()],
                         ids=["xledger", "dynamics"])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(taken=batches(), chosen=export_settings())
def test_a_file_written_from_the_columns_is_the_file_written_claim_by_claim(
    exporter: Any, taken: list[dict[str, list[Any]]], chosen: Any
) -> None:
    from_columns = outcome(lambda: b"".join(exporter.render(RUN, ClaimBatches(taken), chosen)))
    claim_by_claim = outcome(lambda: b"".join(exporter.render(RUN, Claims(taken), chosen)))
    assert from_columns == claim_by_claim


def test_the_columns_are_used_for_one_voucher_per_claim_only() -> None:
    """Not a vacuous comparison above: valid claims, one per voucher, take the column path;
    per-claimant vouchers and claims that would be refused for a category do not."""
    base = {"company_code": "NHF", "voucher_type": "UT", "counter_account": "2910",
            "categories": {"travel": {"account": "7140", "tax_code": "0", "dimension": None}}}
    good = [{f: [v] for f, v in {
        "claim_id": str(UUID(int=1)), "claimant_id": "c-1", "expense_date": "2025-03-04",
        "approved_at": "2025-03-10T09:00:00+00:00", "category": "travel", "amount": "1.00",
        "currency": "NOK", "description": "x", "late": False, "amount_nok": None,
        "ledger_ref": ledger_ref(str(UUID(int=1)))}.items()}]
    assert own_vouchers(good, base) is not None
    assert own_vouchers(good, {**base, "voucher_grouping": "per_claimant"}) is None
    assert own_vouchers([{**good[0], "category": ["meals"]}], base) is None
    assert own_vouchers([{**good[0], "currency": ["nok"]}], base) is None
    assert own_vouchers(good, None) is None


@pytest.mark.parametrize("amount", ["1E+40", "-1E+30", "123456789012345678901234567.5"])
def test_an_amount_too_large_to_write_to_the_cent_is_refused_on_both_paths(amount: str) -> None:
    """Found by the comparison above: the column path raised decimal's InvalidOperation (a
    failed run with no reason given) where the claim-by-claim path refuses the claim."""
    base = {"company_code": "NHF", "voucher_type": "UT", "counter_account": "2910",
            "categories": {"travel": {"account": "7140", "tax_code": "0", "dimension": None}}}
    taken = [{f: [v] for f, v in {
        "claim_id": str(UUID(int=1)), "claimant_id": "c-1", "expense_date": "2025-03-04",
        "approved_at": "2025-03-10T09:00:00+00:00", "category": "travel", "amount": amount,
        "currency": "NOK", "description": "x", "late": False, "amount_nok": None,
        "ledger_ref": ledger_ref(str(UUID(int=1)))}.items()}]
    exporter = XledgerExporter()
    for claims in (ClaimBatches(taken), Claims(taken)):
        with pytest.raises(ExportRefused) as refused:
            b"".join(exporter.render(RUN, claims, base))
        assert refused.value.code == "invalid_claim"


@given(st.lists(st.uuids(), max_size=20), st.booleans())
def test_the_guard_reads_the_claim_ids_from_one_text(ids: list[UUID], as_text: bool) -> None:
    sent = claim_id_list([str(i) for i in ids] if as_text else ids)
    assert [UUID(i) for i in sent.split(",") if i] == ids


@pytest.mark.parametrize("ids", [["a,b"], ["", str(UUID(int=1))], [str(UUID(int=1)), ""], [""]])
def test_an_id_that_would_be_read_as_no_claim_or_two_is_refused(ids: list[str]) -> None:
    with pytest.raises(ValueError, match="comma"):
        claim_id_list(ids)
