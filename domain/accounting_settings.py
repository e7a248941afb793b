"""AccountingSettings: an organisation's chart-of-accounts mapping for accounting exports.

One aggregate per organisation, with an id derived from the org id, so the settings of an
organisation are loaded by id without a lookup table. Events carry the whole settings dict:
a reader of the history sees exactly what every export of the time was built from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.shared import Actor, DomainError
from domain.spreadsheet import code_problem

#: Namespace of the deterministic settings ids; never change it, ids already stored depend on it.
NAMESPACE = UUID("6f1c9e0a-3b52-5d7e-9a41-2c8d0b7e4f13")

VOUCHER_GROUPINGS = ("per_claim", "per_claimant")
#: Only csv: the xlsx journal was no Business Central configuration package, so BC could not
#: import it; stored settings that still say "xlsx" are read as csv (see `view`).
FILE_FORMATS = ("csv",)
#: What a dimension code is: it decides the posting field (Xledger PostingN, BC Shortcut
#: Dimension N Code) through `dimension_fields`.
DIMENSION_KINDS = ("cost_centre", "project", "department")
DEFAULT_DIMENSION_FIELDS = {"cost_centre": 1, "project": 2}
CLAIMANT_ACCOUNT_TYPES = ("employee", "vendor")
FIELDS = frozenset(
    {"company_code", "voucher_type", "counter_account", "categories", "voucher_grouping",
     "file_format", "dimension_fields", "claimant_accounts", "claimant_account_type",
     "document_prefix"}
)
CATEGORY_FIELDS = frozenset({"account", "tax_code", "dimension", "dimension_kind"})

_ACCOUNT = re.compile(r"[0-9]{1,20}")
#: Ledger numbers of claimants (Xledger subledger no., BC employee/vendor no.: Code[20]).
_LEDGER_NO = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,19}")
_PREFIX = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,6}")
_CODE_MAX = 20  # BC dimension values, VAT groups and codes are Code[20]
VOUCHER_TYPE_MAX = 8  # Xledger VoucherType (GL02b: 8); BC journal batch names are Code[10]
_UNSAFE_START = ("=", "+", "-", "@")


class InvalidAccountingSettings(DomainError):
    """A settings value is missing or malformed; `field` names it, e.g. `categories.x.account`."""

    code = "invalid_settings"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _code(values: Mapping[str, Any], name: str, max_len: int = _CODE_MAX) -> str:
    value = values.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidAccountingSettings(name, "must be a non-empty string")
    problem = code_problem(value) or code_problem(value.strip())
    if problem is not None:
        raise InvalidAccountingSettings(name, problem)
    value = value.strip()
    if len(value) > max_len:
        raise InvalidAccountingSettings(name, f"must be at most {max_len} characters")
    if any(c in value for c in ";\"") or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidAccountingSettings(name, "must not contain ; \" or control characters")
    if value.startswith(_UNSAFE_START):
        raise InvalidAccountingSettings(name, "must not start with = + - or @")
    return value


def _account(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _ACCOUNT.fullmatch(value):
        raise InvalidAccountingSettings(field, "must be a string of 1 to 20 digits")
    return value


def _optional_code(value: Any, field: str, empty: str | None) -> str | None:
    if value is None or value == "":
        return empty
    return _code({field: value}, field)


def _choice(values: Mapping[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = values.get(name, default)
    if value not in choices:
        raise InvalidAccountingSettings(name, f"must be one of {', '.join(choices)}")
    return str(value)


def _dimension_fields(value: Any) -> dict[str, int]:
    """Which posting field each dimension kind goes to: 1 or 2, one kind per field."""
    if value is None:
        return dict(DEFAULT_DIMENSION_FIELDS)
    if not isinstance(value, Mapping):
        raise InvalidAccountingSettings("dimension_fields", "must be an object kind -> 1 or 2")
    fields: dict[str, int] = {}
    for kind, number in value.items():
        if kind not in DIMENSION_KINDS:
            raise InvalidAccountingSettings(
                f"dimension_fields.{kind}", f"must be one of {', '.join(DIMENSION_KINDS)}"
            )
        if number not in (1, 2) or isinstance(number, bool):
            raise InvalidAccountingSettings(f"dimension_fields.{kind}", "must be 1 or 2")
        if number in fields.values():
            raise InvalidAccountingSettings(
                f"dimension_fields.{kind}", "another kind already uses this posting field"
            )
        fields[str(kind)] = int(number)
    return fields


def _claimant_accounts(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidAccountingSettings("claimant_accounts", "must be an object id -> number")
    mapped: dict[str, str] = {}
    for claimant, number in value.items():
        field = f"claimant_accounts.{claimant}"
        if not isinstance(claimant, str) or not claimant or len(claimant) > 100:
            raise InvalidAccountingSettings("claimant_accounts", "claimant ids are 1-100 chars")
        if not isinstance(number, str) or not _LEDGER_NO.fullmatch(number):
            raise InvalidAccountingSettings(
                field, "must be 1-20 letters, digits, _ . / or -, starting with a letter or digit"
            )
        mapped[claimant] = number
    return mapped


def _document_prefix(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _PREFIX.fullmatch(value):
        raise InvalidAccountingSettings(
            "document_prefix", "must be 1-7 capital letters, digits, _ or -, so numbers fit Code[20]"
        )
    return value


def _category(name: Any, mapping: Any, kinds: Mapping[str, int]) -> dict[str, str | None]:
    field = f"categories.{name}"
    if not isinstance(name, str) or not name.strip():
        raise InvalidAccountingSettings("categories", "category names must be non-empty")
    if not isinstance(mapping, Mapping):
        raise InvalidAccountingSettings(field, "must be an object with account and tax_code")
    extra = sorted(set(mapping) - CATEGORY_FIELDS)
    if extra:
        raise InvalidAccountingSettings(f"{field}.{extra[0]}", "is not a known field")
    kind = mapping.get("dimension_kind") or "cost_centre"
    if kind not in DIMENSION_KINDS:
        raise InvalidAccountingSettings(
            f"{field}.dimension_kind", f"must be one of {', '.join(DIMENSION_KINDS)}"
        )
    dimension = _optional_code(mapping.get("dimension"), f"{field}.dimension", None)
    if dimension is not None and kind not in kinds:
        raise InvalidAccountingSettings(
            f"{field}.dimension_kind", f"{kind} has no posting field in dimension_fields"
        )
    return {
        "account": _account(mapping.get("account"), f"{field}.account"),
        "tax_code": _optional_code(mapping.get("tax_code"), f"{field}.tax_code", ""),
        "dimension": dimension,
        "dimension_kind": str(kind),
    }


def validate(values: Mapping[str, Any]) -> dict[str, Any]:
    """The settings with defaults applied, or InvalidAccountingSettings naming the bad field."""
    if not isinstance(values, Mapping):
        raise InvalidAccountingSettings("settings", "must be an object")
    unknown = sorted(set(values) - FIELDS)
    if unknown:
        raise InvalidAccountingSettings(unknown[0], "is not a known setting")
    categories = values.get("categories")
    if not isinstance(categories, Mapping):
        raise InvalidAccountingSettings("categories", "must be an object of category mappings")
    kinds = _dimension_fields(values.get("dimension_fields"))
    if values.get("file_format", "csv") == "xlsx":
        raise InvalidAccountingSettings(
            "file_format", "xlsx is no longer offered: Business Central imports the csv"
        )
    return {
        "company_code": _code(values, "company_code", max_len=30),
        "voucher_type": _code(values, "voucher_type", max_len=VOUCHER_TYPE_MAX),
        "counter_account": _account(values.get("counter_account"), "counter_account"),
        "categories": {name: _category(name, m, kinds) for name, m in categories.items()},
        "voucher_grouping": _choice(values, "voucher_grouping", VOUCHER_GROUPINGS, "per_claim"),
        "file_format": _choice(values, "file_format", FILE_FORMATS, "csv"),
        "dimension_fields": kinds,
        "claimant_accounts": _claimant_accounts(values.get("claimant_accounts")),
        "claimant_account_type": _choice(
            values, "claimant_account_type", CLAIMANT_ACCOUNT_TYPES, "employee"
        ),
        "document_prefix": _document_prefix(values.get("document_prefix")),
    }


@dataclass(frozen=True)
class CategoryMapping:
    account: str
    tax_code: str
    dimension: str | None
    dimension_kind: str = "cost_centre"


@dataclass(frozen=True)
class ExportSettings:
    """The typed, read-only view exporters consume: no aggregate, no history, just the values."""

    company_code: str
    voucher_type: str
    counter_account: str
    categories: Mapping[str, CategoryMapping]
    voucher_grouping: str = "per_claim"
    file_format: str = "csv"
    dimension_fields: Mapping[str, int] = field(
        default_factory=lambda: dict(DEFAULT_DIMENSION_FIELDS)
    )
    claimant_accounts: Mapping[str, str] = field(default_factory=dict)
    claimant_account_type: str = "employee"
    document_prefix: str | None = None

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ExportSettings:
        """Validate first, so a hand-built dict cannot smuggle a malformed account into a file."""
        valid = validate(values)
        return cls(
            company_code=valid["company_code"],
            voucher_type=valid["voucher_type"],
            counter_account=valid["counter_account"],
            categories={
                name: CategoryMapping(
                    m["account"], m["tax_code"] or "", m["dimension"], m["dimension_kind"]
                )
                for name, m in valid["categories"].items()
            },
            voucher_grouping=valid["voucher_grouping"],
            file_format=valid["file_format"],
            dimension_fields=valid["dimension_fields"],
            claimant_accounts=valid["claimant_accounts"],
            claimant_account_type=valid["claimant_account_type"],
            document_prefix=valid["document_prefix"],
        )

    def unmapped(self, categories: set[str]) -> list[str]:
        return sorted(c for c in categories if c not in self.categories)

    def dimension_field(self, kind: str) -> int:
        """1 or 2: the posting field a dimension of this kind goes to."""
        return self.dimension_fields[kind]


class AccountingSettings(Aggregate):
    """The history of an organisation's accounting settings; the last event holds the values."""

    @staticmethod
    def create_id(org_id: UUID) -> UUID:
        return uuid5(NAMESPACE, str(org_id))

    @event("Configured")
    def __init__(self, org_id: UUID, settings: dict[str, Any], actor: dict[str, str]) -> None:
        self.org_id = org_id
        self.settings = settings
        self.configured_by = actor

    @classmethod
    def configure(
        cls, org_id: UUID, values: Mapping[str, Any], actor: Actor
    ) -> AccountingSettings:
        """First settings of an organisation; later ones go through `change`."""
        return cls(org_id=org_id, settings=validate(values), actor=actor.as_event_data())

    def change(self, values: Mapping[str, Any], actor: Actor) -> bool:
        """Replace the settings as a whole; returns False (and records nothing) if equal."""
        valid = validate(values)
        if valid == self.settings:
            return False
        self._changed(settings=valid, actor=actor.as_event_data())
        return True

    @event("Changed")
    def _changed(self, settings: dict[str, Any], actor: dict[str, str]) -> None:
        self.settings = settings

    def as_dict(self) -> dict[str, Any]:
        """A deep copy, safe to hand to an API response or mutate."""
        return {
            **self.settings,
            "categories": {k: dict(v) for k, v in self.settings["categories"].items()},
        }

    def view(self) -> ExportSettings:
        """Settings stored before xlsx was withdrawn are read as csv, the file BC imports."""
        if self.settings.get("file_format") == "xlsx":
            return ExportSettings.from_dict({**self.settings, "file_format": "csv"})
        return ExportSettings.from_dict(self.settings)
