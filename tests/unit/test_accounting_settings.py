"""AccountingSettings: validation names the field, ids are per organisation, history replays."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest

from domain.accounting_settings import (
    NAMESPACE,
    AccountingSettings,
    CategoryMapping,
    ExportSettings,
    InvalidAccountingSettings,
    validate,
)
from domain.shared import Actor, DomainError
from tests.unit.source_tree import parse

ORG = UUID("11111111-1111-1111-1111-111111111111")
ACTOR = Actor("user:admin", ORG, "req-1")


def values(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "company_code": "HLF",
        "voucher_type": "UTLEGG",
        "counter_account": "2910",
        "categories": {
            "travel": {"account": "7140", "tax_code": "0", "dimension": "200"},
            "meals": {"account": "7350", "tax_code": "11", "dimension": None},
        },
    }
    base.update(overrides)
    return base


def test_configure_applies_defaults_and_exposes_a_view() -> None:
    settings = AccountingSettings.configure(ORG, values(), ACTOR)

    assert settings.org_id == ORG
    assert settings.as_dict()["voucher_grouping"] == "per_claim"
    assert settings.as_dict()["file_format"] == "csv"
    view = settings.view()
    assert isinstance(view, ExportSettings)
    assert view.categories["travel"] == CategoryMapping("7140", "0", "200")
    assert view.categories["meals"].dimension is None
    assert view.unmapped({"travel", "taxi", "bus"}) == ["bus", "taxi"]


def test_id_is_derived_from_the_organisation() -> None:
    settings = AccountingSettings.configure(ORG, values(), ACTOR)

    assert settings.id == AccountingSettings.create_id(ORG) == uuid5(NAMESPACE, str(ORG))
    other = AccountingSettings.configure(uuid4(), values(), ACTOR)
    assert other.id != settings.id


def test_change_records_the_whole_settings_and_the_actor_and_replays() -> None:
    settings = AccountingSettings.configure(ORG, values(), ACTOR)
    changed = settings.change(values(voucher_grouping="per_claimant", document_prefix="UTL"), ACTOR)

    assert changed is True
    events = settings.collect_events()
    assert [type(e).__name__ for e in events] == ["Configured", "Changed"]
    assert events[1].settings["voucher_grouping"] == "per_claimant"  # type: ignore[attr-defined]
    assert events[1].actor == ACTOR.as_event_data()  # type: ignore[attr-defined]
    replayed: Any = None
    for e in events:
        replayed = e.mutate(replayed)
    assert replayed.as_dict() == settings.as_dict()
    assert replayed.view().document_prefix == "UTL"
    assert replayed.version == 2


def test_an_unchanged_put_records_nothing() -> None:
    settings = AccountingSettings.configure(ORG, values(), ACTOR)
    settings.collect_events()

    assert settings.change(values(), ACTOR) is False
    assert settings.collect_events() == []


def test_as_dict_is_a_copy() -> None:
    settings = AccountingSettings.configure(ORG, values(), ACTOR)
    copy = settings.as_dict()
    copy["categories"]["travel"]["account"] = "9999"

    assert settings.as_dict()["categories"]["travel"]["account"] == "7140"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"company_code": ""}, "company_code"),
        ({"company_code": "  "}, "company_code"),
        ({"voucher_type": None}, "voucher_type"),
        ({"voucher_type": "WAY-TOO-LONG-TYPE"}, "voucher_type"),
        ({"voucher_type": "FRIVILLIG"}, "voucher_type"),  # 9 > Xledger's 8
        ({"voucher_type": "=cmd|x"}, "voucher_type"),
        ({"company_code": "NHF\x00"}, "company_code"),
        ({"categories": {"travel": {"account": "7140", "dimension": "-200"}}},
         "categories.travel.dimension"),
        ({"categories": {"travel": {"account": "7140", "dimension": "P1",
                                    "dimension_kind": "department"}}},
         "categories.travel.dimension_kind"),
        ({"categories": {"travel": {"account": "7140", "dimension_kind": "region"}}},
         "categories.travel.dimension_kind"),
        ({"dimension_fields": {"cost_centre": 1, "project": 1}}, "dimension_fields.project"),
        ({"dimension_fields": {"cost_centre": 3}}, "dimension_fields.cost_centre"),
        ({"claimant_accounts": {"c-1": "@10042"}}, "claimant_accounts.c-1"),
        ({"claimant_accounts": {"c-1": "1" * 21}}, "claimant_accounts.c-1"),
        ({"claimant_account_type": "customer"}, "claimant_account_type"),
        ({"document_prefix": "UTLEGG-2025"}, "document_prefix"),
        ({"document_prefix": "utl"}, "document_prefix"),
        ({"file_format": "xlsx"}, "file_format"),
        ({"counter_account": 2910}, "counter_account"),
        ({"counter_account": "29-10"}, "counter_account"),
        ({"categories": {"travel": {"account": "71a0", "tax_code": "0"}}},
         "categories.travel.account"),
        ({"categories": {"travel": {"tax_code": "0"}}}, "categories.travel.account"),
        ({"categories": {"travel": {"account": "7140", "tax_code": "a;b"}}},
         "categories.travel.tax_code"),
        ({"categories": {"travel": {"account": "7140", "vat": "0"}}},
         "categories.travel.vat"),
        ({"categories": ["travel"]}, "categories"),
        ({"voucher_grouping": "per_month"}, "voucher_grouping"),
        ({"file_format": "pdf"}, "file_format"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidAccountingSettings) as refused:
        AccountingSettings.configure(ORG, values(**overrides), ACTOR)

    assert refused.value.field == field
    assert field in str(refused.value)
    assert isinstance(refused.value, DomainError)
    assert refused.value.code == "invalid_settings"


def test_a_failed_change_records_nothing() -> None:
    settings = AccountingSettings.configure(ORG, values(), ACTOR)
    settings.collect_events()

    with pytest.raises(InvalidAccountingSettings):
        settings.change(values(counter_account="x"), ACTOR)
    assert settings.collect_events() == []
    assert settings.as_dict()["counter_account"] == "2910"


def test_missing_tax_code_means_none_and_is_stored_as_empty() -> None:
    valid = validate(values(categories={"travel": {"account": "7140"}}))

    assert valid["categories"]["travel"] == {
        "account": "7140", "tax_code": "", "dimension": None, "dimension_kind": "cost_centre"
    }


def test_typed_settings_carry_dimension_fields_claimants_and_document_prefix() -> None:
    view = ExportSettings.from_dict(values(
        categories={"travel": {"account": "7140", "dimension": "P-1", "dimension_kind": "project"}},
        claimant_accounts={"c-1": "E-1001"}, claimant_account_type="vendor",
        document_prefix="UTL", voucher_type="UTLEGG12",
    ))

    assert view.categories["travel"] == CategoryMapping("7140", "", "P-1", "project")
    assert view.dimension_field("project") == 2 and view.dimension_field("cost_centre") == 1
    assert view.claimant_accounts == {"c-1": "E-1001"}
    assert (view.claimant_account_type, view.document_prefix) == ("vendor", "UTL")


def test_settings_stored_with_the_withdrawn_xlsx_format_are_read_as_csv() -> None:
    stored = {**validate(values()), "file_format": "xlsx"}
    legacy = AccountingSettings(org_id=ORG, settings=stored, actor=ACTOR.as_event_data())

    assert legacy.view().file_format == "csv"


def test_the_domain_module_imports_only_plain_python_and_the_domain() -> None:
    source = Path(__file__).parents[2] / "domain" / "accounting_settings.py"
    imported: set[str] = set()
    for node in ast.walk(parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)

    assert not imported & {"application", "infrastructure", "interfaces"}
