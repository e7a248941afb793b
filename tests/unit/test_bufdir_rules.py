"""The organisation's configuration (stricter only), row mapping and the summary."""

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from domain.bufdir_config import (
    DEFAULT_CONFIG,
    DEMO_CONFIGS,
    ConfigLooserThanRules,
    check_against_rules,
    parse_config,
)
from domain.bufdir_rules import Summary, decide, map_row
from domain.counting_rules import Category, Reason


def activity(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "a1", "date": date(2024, 3, 5), "activity_type": "gruppemøte", "participants": 4,
        "municipality": "3101", "description": "Møte på Ørje", "duration_minutes": 60,
    }
    return {**base, **overrides}


def test_type_that_does_not_count_is_reported_with_reason() -> None:
    decision = decide(activity(activity_type="arrangement"), DEMO_CONFIGS["Blindeforbundet"])
    assert (decision.counts, decision.reason) == (False, Reason.NOT_A_COUNTING_TYPE)
    escort = activity(activity_type="ledsagertjeneste", participants=1, escort_name="Kari")
    assert decide(escort, DEMO_CONFIGS["Blindeforbundet"]).reason == Reason.NOT_A_COUNTING_TYPE


def test_org_specific_types_and_required_fields() -> None:
    hlf = DEMO_CONFIGS["HLF"]
    course = activity(activity_type="hørselstekniske_kurs", duration_minutes=90,
                      course_name="Teleslynge")
    assert decide(course, hlf).counts
    assert decide({**course, "duration_minutes": 60}, hlf).reason == Reason.TOO_SHORT
    assert decide(course, DEFAULT_CONFIG).reason == Reason.NOT_A_COUNTING_TYPE
    missing = decide({**course, "course_name": ""}, hlf)
    assert missing.reason == Reason.MISSING_REQUIRED_FIELD
    values = dict(zip(hlf.headers, map_row({**course, "course_name": ""}, hlf, missing),
                      strict=True))
    assert values["Forklaring"] == "Kursnavn mangler"


def test_a_configuration_may_be_stricter() -> None:
    """An organisation counting group meetings from 5 people and 90 minutes: only a document."""
    data = DEFAULT_CONFIG.model_dump(mode="json")
    data["activity_types"]["gruppemøte"].update(min_participants=5, min_minutes_per_day=90)
    data["activity_types"]["turgruppe"] = {"label": "Turgruppe",
                                           "category": "samtale- og aktivitetsgruppe"}
    strict = parse_config(data)
    check_against_rules(strict)
    assert decide(activity(), DEFAULT_CONFIG).counts
    assert decide(activity(), strict).reason == Reason.TOO_FEW_PARTICIPANTS
    assert decide(activity(participants=6), strict).reason == Reason.TOO_SHORT
    assert decide(activity(participants=6, duration_minutes=90), strict).counts
    assert decide(activity(activity_type="turgruppe", participants=3), strict).counts


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        ("gruppemøte", {"min_participants": 2}, "activity_types.gruppemøte.min_participants"),
        ("gruppemøte", {"min_minutes_per_day": 30},
         "activity_types.gruppemøte.min_minutes_per_day"),
        ("kurs", {"min_minutes_per_day": 60}, "activity_types.kurs.min_minutes_per_day"),
        ("besøk", {"min_participants": 0}, "activity_types.besøk.min_participants"),
        ("arrangement", {"category": "samtale- og aktivitetsgruppe"},
         "activity_types.arrangement.category"),
    ],
)
def test_a_looser_configuration_is_refused_naming_the_field(
    kind: str, change: dict[str, Any], field: str
) -> None:
    data = DEFAULT_CONFIG.model_dump(mode="json")
    data["activity_types"][kind].update(change)
    with pytest.raises(ConfigLooserThanRules) as refused:
        check_against_rules(parse_config(data))
    assert refused.value.field == field


def test_the_demo_configurations_follow_the_rules() -> None:
    for name, config in DEMO_CONFIGS.items():
        check_against_rules(config)
        assert {"likepersonsamtale", "kurs", "gruppemøte", "besøk"} <= set(config.activity_types)
        assert config.activity_types["arrangement"].category is None, name
    assert DEMO_CONFIGS["NHF"].activity_types["tilgjengelighetsbefaring"].category is None
    nhf_group = activity(participants=2)
    assert decide(nhf_group, DEMO_CONFIGS["NHF"]).reason == Reason.TOO_FEW_PARTICIPANTS


def test_a_configuration_stored_before_the_rules_still_loads_and_cannot_count_more() -> None:
    legacy = {
        "name": "Gammel",
        "activity_types": {
            "gruppemøte": {"label": "Gruppemøte", "bufdir_category": "Gruppeaktivitet",
                           "rule": {"min_participants": 2, "min_duration_minutes": 45}},
            "tilgjengelighetsbefaring": {"label": "Befaring", "bufdir_category": "Tilrettelegging"},
            "besøk": {"label": "Besøk", "bufdir_category": "Besøkstjeneste", "counts": False},
        },
        "columns": [{"header": "ID", "source": "id"}],
    }
    config = parse_config(legacy)
    assert config.activity_types["gruppemøte"].category == Category.GROUP
    assert config.activity_types["tilgjengelighetsbefaring"].category is None
    assert config.activity_types["besøk"].category is None
    assert decide(activity(participants=2), config).reason == Reason.TOO_FEW_PARTICIPANTS


def test_map_row_keeps_types_and_applies_transforms() -> None:
    row = map_row(activity(participants=2), DEFAULT_CONFIG)
    values = dict(zip(DEFAULT_CONFIG.headers, row, strict=True))
    assert values["Dato"] == "05.03.2024"
    assert values["Deltakere"] == 2
    assert values["Kommune"] == "Halden"
    assert values["Fylke"] == "Østfold"
    assert values["Kategori"] == "samtale- og aktivitetsgruppe"
    assert values["Telles"] == "Nei"
    assert values["Aktivitetsdager"] == 0
    assert values["Årsakskode"] == "too_few_participants"
    counted = dict(zip(DEFAULT_CONFIG.headers, map_row(activity(
        end_date=date(2024, 3, 6), duration_minutes=90), DEFAULT_CONFIG), strict=True))
    assert (counted["Telles"], counted["Aktivitetsdager"], counted["Årsakskode"]) == ("Ja", 2, None)
    assert counted["Til og med"] == "06.03.2024"
    visit = dict(zip(DEFAULT_CONFIG.headers, map_row(activity(
        activity_type="besøk", participants=1, contact_mode="phone", municipality="5401",
        date=date(2024, 2, 1)), DEFAULT_CONFIG), strict=True))
    assert (visit["Kontaktform"], visit["Rapportert kommunenummer"], visit["Kommune"]) == (
        "telefon", "5501", "Tromsø")
    assert visit["Årsakskode"] == "not_in_person"
    hlf = dict(zip(DEMO_CONFIGS["HLF"].headers, map_row(activity(), DEMO_CONFIGS["HLF"]),
                   strict=True))
    assert hlf["Region"] == "Øst"
    rogaland = map_row(activity(municipality="1103"), DEMO_CONFIGS["HLF"])
    assert rogaland[-1] == "Øvrige"
    assert map_row(activity(), DEMO_CONFIGS["NHF"])[-1] == "NHF"


def test_raw_date_column_stays_a_date() -> None:
    data = DEFAULT_CONFIG.model_dump(mode="json")
    data["columns"] = [{"header": "Dato", "source": "date"}, {"header": "K", "constant": 1}]
    assert map_row(activity(), parse_config(data)) == [date(2024, 3, 5), 1]


@pytest.mark.parametrize(
    "column",
    [
        {"header": "X", "source": "no_such_field"},
        {"header": "X"},
        {"header": "X", "source": "date", "constant": "y"},
        {"header": "X", "source": "date", "date_format": "dd.mm.yyyy"},
        {"header": "Dato", "source": "date"},
        {"header": "X", "source": "id", "required_when": {"nope": "kurs"}},
    ],
)
def test_invalid_configuration_is_refused(column: dict[str, Any]) -> None:
    data = DEFAULT_CONFIG.model_dump(mode="json")
    data["columns"].append(column)
    with pytest.raises(ValidationError):
        parse_config(data)


def test_summary_counts_only_counted_activities_per_day_held() -> None:
    summary = Summary()
    items = [
        activity(id="1"),
        activity(id="2", participants=10, date=date(2024, 3, 6)),
        activity(id="3", participants=1),  # too few
        activity(id="4", activity_type="besøk", participants=1, municipality="0301",
                 contact_mode="in_person"),
        activity(id="5", participants=3, municipality="3103", end_date=date(2024, 3, 7),
                 duration_minutes=135),
        activity(id="6", participants=3, municipality="3103"),  # same day as 1: its own day
        activity(id="7", activity_type="arrangement", participants=40),
    ]
    for item in items:
        summary.add(item, decide(item, DEFAULT_CONFIG))
    figures = summary.as_dict()
    assert (figures["rows"], figures["counted_activities"], figures["activity_days"]) == (7, 5, 7)
    assert figures["by_category"]["samtale- og aktivitetsgruppe"] == {
        "activities": 4, "activity_days": 6, "participants": 20}
    assert figures["by_category"]["oppsøkende likepersonsarbeid"]["activity_days"] == 1
    assert figures["by_category"]["likepersonskurs"]["activities"] == 0
    assert figures["not_counted"]["too_few_participants"] == 1
    assert figures["not_counted"]["not_a_counting_type"] == 1
    assert [(m.key, m.name, m.activities, m.activity_days) for m in summary.by_municipality()] == [
        ("0301", "Oslo", 1, 1), ("3101", "Halden", 2, 2), ("3103", "Moss", 2, 4)
    ]
    assert figures["by_county"]["31"] == {"name": "Østfold", "activities": 4,
                                          "activity_days": 6, "participants": 20}
    assert figures["rule_sets"][0]["name"].startswith("Bufdir likepersonsarbeid")
    assert figures["municipality_data"].startswith("2024-01-01")


def test_config_aggregate_is_versioned_and_audited() -> None:
    from uuid import uuid4

    from domain.bufdir_config_aggregate import BufdirConfig, ConfigUnchanged, config_id
    from domain.shared import Actor

    org = uuid4()
    actor = Actor("admin", org, "corr")
    config = BufdirConfig.create(org, DEFAULT_CONFIG, actor)
    assert config.id == config_id(org) == BufdirConfig.create_id(org)
    config.change(DEMO_CONFIGS["HLF"], Actor("other-admin", org, "corr-2"))
    created, changed = config.collect_events()
    assert created.document == DEFAULT_CONFIG.model_dump(mode="json")  # type: ignore[attr-defined]
    assert changed.actor["sub"] == "other-admin"  # type: ignore[attr-defined]
    assert (config.version, config.parsed) == (2, DEMO_CONFIGS["HLF"])
    with pytest.raises(ConfigUnchanged):
        config.change(DEMO_CONFIGS["HLF"], actor)
