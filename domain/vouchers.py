"""Balanced vouchers from approved claims: the accounting rules every export file shares.

Grouping claims into vouchers, mapping categories to accounts, rounding to øre with Decimal and
balancing each voucher with a counter line happen once, here; exporters only decide columns and
encoding. A run that cannot be exported is refused (`ExportRefused`) before a byte is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

from domain.accounting_settings import (
    AccountingSettings,
    ExportSettings,
    InvalidAccountingSettings,
)
from domain.shared import DomainError

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
BASE_CURRENCY = "NOK"
LATE_PREFIX = "SEN: "  # Norwegian for "late": read by the organisation's accountant
LEDGER_REF_LENGTH = 25  # Xledger ImpSystemRef holds 25 characters (GL02b)
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Every three-digit base-36 string, so a reference takes 9 divisions instead of 25.
_TRIPLES = [a + b + c for a in _BASE36 for b in _BASE36 for c in _BASE36]
C = TypeVar("C", bound=Mapping[str, Any])


class ExportRefused(DomainError):
    """The run cannot be exported for a reason the organisation can fix (e.g. unmapped
    categories, a foreign-currency claim without its NOK amount); nothing is written."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Line(NamedTuple):
    """One posting: + debits an expense account, - credits the counter account.

    `amount` is always NOK (what the ledger posts); a claim in another currency also carries
    `currency` and `currency_amount`. `subledger` names the claimant's ledger number on a
    counter line when the settings map the claimant, else the line is a plain G/L posting.
    A named tuple: two are built per claim, and a tuple is built in a third of the time."""

    account: str
    amount: Decimal
    tax_code: str
    dimensions: tuple[str | None, str | None]  # posting field 1 and 2
    text: str
    claim_id: str  # "" on the counter line of a voucher holding several claims
    ledger_ref: str  # the claim's 25-character reference, "" where claim_id is ""
    claimant_id: str
    late: bool
    currency: str = BASE_CURRENCY
    currency_amount: Decimal | None = None
    subledger: str | None = None

    @property
    def foreign(self) -> bool:
        return self.currency != BASE_CURRENCY


@dataclass(frozen=True, slots=True)
class Voucher:
    number: int
    lines: list[Line]


def ledger_ref(claim_id: str) -> str:
    """The claim id in 25 characters, reversibly: a UUID's 128 bits in base 36 (36^25 > 2^128),
    so the reference fits Xledger's ImpSystemRef and BC's Code[35] and names one claim.

    A run computes one per claim it takes: the hex digits are read as `UUID()` reads them
    (without building a UUID) and the digits come three at a time, unrolled."""
    digits = claim_id.replace("-", "")
    try:
        if len(digits) == 32 and digits.isascii() and digits.isalnum():
            number = int(digits, 16)  # what UUID(claim_id).int is: no braces, no "urn:uuid:"
        else:
            number = UUID(claim_id).int
    except ValueError:  # not a UUID (the API accepts only UUIDs): letters and digits only
        return "".join(c for c in claim_id if c.isascii() and c.isalnum())[:LEDGER_REF_LENGTH]
    triples = _TRIPLES
    number, a = divmod(number, 46656)
    number, b = divmod(number, 46656)
    number, c = divmod(number, 46656)
    number, d = divmod(number, 46656)
    number, e = divmod(number, 46656)
    number, f = divmod(number, 46656)
    number, g = divmod(number, 46656)
    number, h = divmod(number, 46656)  # 8 x 3 digits, then the 25th (most significant) digit
    return (_BASE36[number] + triples[h] + triples[g] + triples[f] + triples[e] + triples[d]
            + triples[c] + triples[b] + triples[a])


def claim_id_of(reference: str) -> UUID:
    """The claim a ledger reference names (what an auditor does with a line of the file)."""
    return UUID(int=int(reference, 36))


def as_settings(settings: Any) -> ExportSettings | None:
    """Accept the view, the aggregate or a plain dict, so the caller may pass what it has."""
    if settings is None or isinstance(settings, ExportSettings):
        return settings
    if isinstance(settings, AccountingSettings):
        return settings.view()
    if isinstance(settings, Mapping):
        return ExportSettings.from_dict(settings)
    raise TypeError(f"unsupported settings type {type(settings).__name__}")


def cents(value: Any) -> Decimal | None:
    """`value` rounded to the cent (half up); None when it is no finite number, or one too
    large to be written to the cent (1E+40: more digits than a Decimal holds)."""
    try:
        number = Decimal(str(value))
        if value is None or not number.is_finite():
            return None
        # Adding 0.00 turns -0.00 into 0.00, so no file ever shows a negative zero.
        return number.quantize(CENT, rounding=ROUND_HALF_UP) + ZERO
    except InvalidOperation:
        return None


def _decimal(value: Any, claim: Mapping[str, Any], name: str) -> Decimal:
    number = cents(value)
    if number is None:
        raise ExportRefused("invalid_claim", f"claim {claim.get('claim_id')} has no valid {name}")
    return number


def amount_of(claim: Mapping[str, Any]) -> Decimal:
    """The claim's amount in its own currency, rounded to the cent."""
    return _decimal(claim.get("amount"), claim, "amount")


def nok_amount_of(claim: Mapping[str, Any]) -> Decimal:
    """What the ledger posts: the amount for NOK claims, `amount_nok` for any other currency."""
    if claim.get("currency") == BASE_CURRENCY:
        return amount_of(claim)
    return _decimal(claim.get("amount_nok"), claim, "amount_nok (the NOK amount reimbursed)")


def reiterable(claims: Iterable[C]) -> Iterable[C]:
    """Claims that can be read twice (validation pass, then writing): a list or a re-iterable
    stream (the run's TakenClaims) as it is; a one-shot iterator is read into a list."""
    return list(claims) if iter(claims) is claims else claims


def usable_settings(settings: Any) -> ExportSettings | None:
    """The settings as an ExportSettings (None: the organisation has none); settings that do
    not validate refuse the run."""
    try:
        return as_settings(settings)
    except InvalidAccountingSettings as invalid:
        raise ExportRefused(
            "unmapped_category", f"accounting settings are invalid: {invalid}"
        ) from None


def check(claims: Iterable[Mapping[str, Any]], settings: Any) -> ExportSettings:
    """Refuse the run before a single byte is written; the whole file or nothing.

    One streaming pass over the claims: only the distinct categories are kept."""
    valid = usable_settings(settings)
    categories: set[str] = set()
    bad_claim: ExportRefused | None = None
    for claim in claims:
        categories.add(str(claim.get("category")))
        if bad_claim is None:
            bad_claim = _claim_problem(claim)
    if valid is None:
        names = ", ".join(sorted(categories)) or "none"
        raise ExportRefused(
            "unmapped_category",
            f"the organisation has no accounting settings; unmapped categories: {names}",
        )
    unmapped = valid.unmapped(categories)
    if unmapped:
        raise ExportRefused(
            "unmapped_category", f"categories without a mapped account: {', '.join(unmapped)}"
        )
    if bad_claim is not None:
        raise bad_claim
    return valid


def prepared(claims: Iterable[C], settings: Any) -> tuple[Iterable[C], ExportSettings]:
    """The claims to write and the settings, for a file written in one pass.

    Claims in memory (a list, or a one-shot iterator, read into a list) are checked at once:
    refused before a byte is written. A re-iterable stream (a run's taken claims, read from the
    log) is read once only: checked while the file is written (`checked`) and refused at its
    end, before the file is stored (storage writes under a temporary name)."""
    if isinstance(claims, Sequence | Iterator):
        listed = list(claims)
        return listed, check(listed, settings)
    valid = usable_settings(settings)
    if valid is None:  # refused: read the stream only to name its categories
        for _ in checked(claims, None):
            pass
        raise AssertionError("checked() refuses a run without settings")
    return checked(claims, valid), valid


def checked(claims: Iterable[C], settings: ExportSettings | None) -> Iterator[C]:
    """The claims that can be written, as they come; at the end, the refusal `check` would
    have given (every unmapped category named), if any. Nothing is yielded after a problem."""
    mapped = settings.categories if settings is not None else {}
    unmapped: set[str] = set()
    bad_claim: ExportRefused | None = None
    for claim in claims:
        category = str(claim.get("category"))
        if category not in mapped:
            unmapped.add(category)
        elif not unmapped and bad_claim is None:
            bad_claim = _currency_problem(claim)
            if bad_claim is None:
                yield claim
    if settings is None:
        names = ", ".join(sorted(unmapped)) or "none"
        raise ExportRefused(
            "unmapped_category",
            f"the organisation has no accounting settings; unmapped categories: {names}",
        )
    if unmapped:
        raise ExportRefused("unmapped_category",
                            f"categories without a mapped account: {', '.join(sorted(unmapped))}")
    if bad_claim is not None:
        raise bad_claim


def is_currency_code(currency: Any) -> bool:
    """Three capital letters (ISO 4217's form)."""
    return (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()
            and currency.isupper())


def _currency_problem(claim: Mapping[str, Any]) -> ExportRefused | None:
    """A claim's amounts are checked where its line is built (`_expense_line`), once."""
    if not is_currency_code(claim.get("currency")):
        return ExportRefused(
            "invalid_claim", f"claim {claim.get('claim_id')} has no valid currency code"
        )
    return None


def _claim_problem(claim: Mapping[str, Any]) -> ExportRefused | None:
    currency_problem = _currency_problem(claim)
    if currency_problem is not None:
        return currency_problem
    try:
        amount_of(claim)
        nok_amount_of(claim)
    except ExportRefused as refused:
        return refused
    return None


def one_line(text: Any) -> str:
    """Line breaks and tabs become spaces: one record is always one physical line."""
    return " ".join(str(text or "").split())


def to_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _groups(
    claims: Iterable[Mapping[str, Any]], grouping: str
) -> Iterator[list[Mapping[str, Any]]]:
    if grouping == "per_claimant":
        # One voucher per claimant and currency: the currency amounts balance too.
        by_claimant: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        for claim in claims:
            key = (str(claim["claimant_id"]), str(claim["currency"]))
            by_claimant.setdefault(key, []).append(claim)
        for key in sorted(by_claimant):
            yield by_claimant[key]
    else:
        for claim in claims:
            yield [claim]


def _dimensions(settings: ExportSettings, kind: str, code: str | None) -> tuple[str | None, str | None]:
    if code is None:
        return (None, None)
    return (code, None) if settings.dimension_field(kind) == 1 else (None, code)


def expense_posting(
    settings: ExportSettings, category: str
) -> tuple[str, str, tuple[str | None, str | None]]:
    """Where a claim of a (mapped) category is posted: account, tax code, posting fields."""
    mapping = settings.categories[category]
    dimensions = _dimensions(settings, mapping.dimension_kind, mapping.dimension)
    return mapping.account, mapping.tax_code, dimensions


def counter_text(claimant_id: str) -> str:
    """The text of the counter line that owes a claimant their money."""
    return one_line(f"Refusjon utlegg {claimant_id}")


def _expense_line(
    claim: Mapping[str, Any], settings: ExportSettings,
    postings: dict[str, tuple[str, str, tuple[str | None, str | None]]],
) -> Line:
    category = str(claim["category"])
    posting = postings.get(category)
    if posting is None:
        posting = postings[category] = expense_posting(settings, category)
    late = claim.get("late") is True
    currency = str(claim["currency"])
    claim_id = str(claim["claim_id"])
    text = one_line(claim.get("description"))
    return Line(
        posting[0],  # account
        nok_amount_of(claim),  # amount
        posting[1],  # tax_code
        posting[2],  # dimensions
        LATE_PREFIX + text if late else text,  # text
        claim_id,
        claim.get("ledger_ref") or ledger_ref(claim_id),
        str(claim["claimant_id"]),
        late,
        currency,
        amount_of(claim) if currency != BASE_CURRENCY else None,  # currency_amount
    )


def vouchers(claims: Iterable[Mapping[str, Any]], settings: ExportSettings) -> Iterator[Voucher]:
    """Balanced vouchers, one at a time: expense lines, then one counter line of minus their sum
    (in NOK, and in the claims' currency when it is another)."""
    postings: dict[str, tuple[str, str, tuple[str | None, str | None]]] = {}
    #: Per claimant: the counter line's text and subledger (a few hundred claimants a run).
    counters: dict[str, tuple[str, str | None]] = {}
    counter_account = settings.counter_account
    for number, group in enumerate(_groups(claims, settings.voucher_grouping), start=1):
        lines = [_expense_line(claim, settings, postings) for claim in group]
        first = lines[0]
        single = len(group) == 1
        foreign_total = (
            sum((line.currency_amount or ZERO for line in lines), ZERO) if first.foreign else None
        )
        counter = counters.get(first.claimant_id)
        if counter is None:
            counter = counters[first.claimant_id] = (
                counter_text(first.claimant_id), settings.claimant_accounts.get(first.claimant_id),
            )
        lines.append(Line(
            counter_account,
            # One claim: 0.00 - (0.00 + amount) is 0.00 - amount, to the digit.
            ZERO - (first.amount if single else sum((line.amount for line in lines), ZERO)),
            "",  # tax_code
            (None, None),  # dimensions
            counter[0],  # text
            first.claim_id if single else "",
            first.ledger_ref if single else "",
            first.claimant_id,
            False,  # late
            first.currency,
            None if foreign_total is None else ZERO - foreign_total,
            counter[1],  # subledger
        ))
        yield Voucher(number, lines)


def money(value: Decimal) -> str:
    """Decimal point, two decimals, never an exponent or a thousands separator."""
    return f"{value:.2f}"


class OwnVoucher(NamedTuple):
    """A claim that is a voucher of its own, as `vouchers` would write it (its expense line,
    then the counter line of minus its amount), read from a run's batches by `own_vouchers`."""

    number: int  # the voucher's
    claim_id: str
    ledger_ref: str
    claimant_id: str
    category: str
    text: str  # the expense line's, late claims prefixed; not yet cleaned for a file
    currency: str
    nok: Decimal  # what the ledger posts
    own: Decimal | None  # the amount in its own currency when that is not NOK


#: The columns of a batch `own_vouchers` reads, in the order it reads them.
_OWN_VOUCHER_COLUMNS = ("claim_id", "claimant_id", "category", "amount", "currency",
                        "description", "late", "amount_nok", "ledger_ref")


def own_vouchers(
    batches: Sequence[Mapping[str, list[Any]]], settings: Any
) -> tuple[ExportSettings, Iterator[OwnVoucher]] | None:
    """The settings and the vouchers of claims taken in batches (parallel lists, as a run's
    `ClaimsTaken` events hold them), read column by column: no dict, Line or Voucher per claim
    (a file of 100 000 claims). None (write them with `vouchers`) unless each voucher holds one
    claim and no claim can be refused for its category or currency, checked here before a
    voucher is read; a claim whose amount cannot be posted is refused as `vouchers` refuses it,
    at that claim."""
    try:
        valid = usable_settings(settings)
    except ExportRefused:
        return None
    if valid is None or valid.voucher_grouping == "per_claimant":
        return None
    for batch in batches:
        categories, currencies = batch.get("category"), batch.get("currency")
        if not (categories and currencies):
            return None
        try:
            if not all(type(c) is str and c in valid.categories for c in set(categories)):
                return None
            if not all(is_currency_code(c) for c in set(currencies)):
                return None
        except TypeError:  # a value that is no text at all (unhashable): the usual way
            return None
    return valid, _own_vouchers(batches)


def _own_vouchers(batches: Sequence[Mapping[str, list[Any]]]) -> Iterator[OwnVoucher]:
    number = 0
    for batch in batches:
        count = len(batch["claim_id"])
        for claim_id, claimant, category, amount, currency, description, late, amount_nok, ref in (
            zip(*(batch.get(f) or [None] * count for f in _OWN_VOUCHER_COLUMNS), strict=True)
        ):
            number += 1
            foreign = currency != BASE_CURRENCY
            nok = cents(amount_nok if foreign else amount)
            own = cents(amount) if foreign else None
            if nok is None or (foreign and own is None):
                claim = dict(zip(_OWN_VOUCHER_COLUMNS, (
                    claim_id, claimant, category, amount, currency, description, late,
                    amount_nok, ref), strict=True))
                nok, own = nok_amount_of(claim), amount_of(claim)  # raise the refusal
            claim_id = str(claim_id)
            yield OwnVoucher(
                number, claim_id, ref or ledger_ref(claim_id), str(claimant), category,
                LATE_PREFIX + one_line(description) if late is True else description,
                currency, nok, own)
