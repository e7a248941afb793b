"""AccountingSettings: an organisation's chart-of-accounts mapping for accounting exports.

One aggregate per organisation, with an id derived from the org id, so the settings of an
organisation are loaded by id without a lookup table. Events carry the whole settings dict:
a reader of the history sees exactly what every export of the time was built from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.shared import Actor, DomainError

#: Namespace of the deterministic settings ids; never change it, ids already stored depend on it.
NAMESPACE = UUID("6f1c9e0a-3b52-5d7e-9a41-2c8d0b7e4f13")

VOUCHER_GROUPINGS = ("per_claim", "per_claimant")
FILE_FORMATS = ("csv", "xlsx")
FIELDS = frozenset(
    {"company_code", "voucher_type", "counter_account", "categories", "voucher_grouping",
     "file_format"}
)
CATEGORY_FIELDS = frozenset({"account", "tax_code", "dimension"})

_ACCOUNT = re.compile(r"[0-9]{1,20}")
_CODE_MAX = 30  # longest code either target accepts in the columns these values go to


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
    value = value.strip()
    if len(value) > max_len:
        raise InvalidAccountingSettings(name, f"must be at most {max_len} characters")
    if any(c in value for c in ";\r\n\t\""):
        raise InvalidAccountingSettings(name, "must not contain ; \" tabs or line breaks")
    return value


def _account(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _ACCOUNT.fullmatch(value):
        raise InvalidAccountingSettings(field, "must be a string of 1 to 20 digits")
    return value


def _optional_code(value: Any, field: str, empty: str | None) -> str | None:
    if value is None or value == "":
        return empty
    return _code({field: value}, field)


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
    mapped: dict[str, dict[str, str | None]] = {}
    for name, mapping in categories.items():
        field = f"categories.{name}"
        if not isinstance(name, str) or not name.strip():
            raise InvalidAccountingSettings("categories", "category names must be non-empty")
        if not isinstance(mapping, Mapping):
            raise InvalidAccountingSettings(field, "must be an object with account and tax_code")
        extra = sorted(set(mapping) - CATEGORY_FIELDS)
        if extra:
            raise InvalidAccountingSettings(f"{field}.{extra[0]}", "is not a known field")
        mapped[name] = {
            "account": _account(mapping.get("account"), f"{field}.account"),
            "tax_code": _optional_code(mapping.get("tax_code"), f"{field}.tax_code", ""),
            "dimension": _optional_code(mapping.get("dimension"), f"{field}.dimension", None),
        }
    grouping = values.get("voucher_grouping", "per_claim")
    if grouping not in VOUCHER_GROUPINGS:
        raise InvalidAccountingSettings("voucher_grouping", f"must be one of {VOUCHER_GROUPINGS}")
    file_format = values.get("file_format", "csv")
    if file_format not in FILE_FORMATS:
        raise InvalidAccountingSettings("file_format", f"must be one of {FILE_FORMATS}")
    return {
        "company_code": _code(values, "company_code"),
        "voucher_type": _code(values, "voucher_type", max_len=10),
        "counter_account": _account(values.get("counter_account"), "counter_account"),
        "categories": mapped,
        "voucher_grouping": grouping,
        "file_format": file_format,
    }


@dataclass(frozen=True)
class CategoryMapping:
    account: str
    tax_code: str
    dimension: str | None


@dataclass(frozen=True)
class ExportSettings:
    """The read-only view exporters consume: no aggregate, no history, just the values."""

    company_code: str
    voucher_type: str
    counter_account: str
    categories: Mapping[str, CategoryMapping]
    voucher_grouping: str = "per_claim"
    file_format: str = "csv"

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ExportSettings:
        """Validate first, so a hand-built dict cannot smuggle a malformed account into a file."""
        valid = validate(values)
        return cls(
            company_code=valid["company_code"],
            voucher_type=valid["voucher_type"],
            counter_account=valid["counter_account"],
            categories={
                name: CategoryMapping(m["account"], m["tax_code"] or "", m["dimension"])
                for name, m in valid["categories"].items()
            },
            voucher_grouping=valid["voucher_grouping"],
            file_format=valid["file_format"],
        )

    def unmapped(self, categories: set[str]) -> list[str]:
        return sorted(c for c in categories if c not in self.categories)


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
        return ExportSettings.from_dict(self.settings)
