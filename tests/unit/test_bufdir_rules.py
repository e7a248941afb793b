"""Counting rules, row mapping and the summary, all driven by the configuration document."""

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from domain.bufdir_config import DEFAULT_CONFIG, DEMO_CONFIGS, parse_config
from domain.bufdir_rules import Decision, Summary, decide, map_row


def activity(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "a1", "date": date(2024, 3, 5), "activity_type": "gruppemøte", "participants": 4,
        "municipality": "3101", "description": "Møte på Ørje", "duration_minutes": 60,
    }
    return {**base, **overrides}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({}, None),
        ({"participants": 2}, "gruppemøte med færre enn 3 deltakere"),
        ({"duration_minutes": None}, "varighet mangler"),
        ({"duration_minutes": 30}, "kortere enn 45 minutter"),
        ({"activity_type": "dans"}, "ukjent aktivitetstype"),
        ({"municipality": "3001"}, "ugyldig kommunenummer for datoen"),
        ({"activity_type": "likepersonsamtale", "participants": 1, "duration_minutes": None},
         None),
        ({"activity_type": "kurs", "duration_minutes": None}, "varighet mangler"),
        ({"date": "2019-06-01", "municipality": "1201"}, None),
    ],
)
def test_default_rules(overrides: dict[str, Any], reason: str | None) -> None:
    assert decide(activity(**overrides), DEFAULT_CONFIG) == Decision(reason is None, reason)


def test_type_that_does_not_count_is_reported_with_reason() -> None:
    decision = decide(activity(activity_type="arrangement"), DEMO_CONFIGS["Blindeforbundet"])
    assert decision == Decision(False, "aktivitetstype telles ikke")


def test_org_specific_types() -> None:
    hlf = DEMO_CONFIGS["HLF"]
    course = activity(activity_type="hørselstekniske_kurs", duration_minutes=90,
                      course_name="Teleslynge")
    assert decide(course, hlf).counts
    assert decide(course, DEFAULT_CONFIG).reason == "ukjent aktivitetstype"
    assert decide({**course, "course_name": ""}, hlf) == Decision(False, "Kursnavn mangler")
    escort = activity(activity_type="ledsagertjeneste", participants=1, duration_minutes=30)
    assert decide(escort, DEMO_CONFIGS["Blindeforbundet"]) == Decision(
        False, "Tolk/ledsager mangler"
    )
    assert decide({**escort, "escort_name": "Kari"}, DEMO_CONFIGS["Blindeforbundet"]).counts


def test_a_new_org_rule_needs_only_configuration() -> None:
    """An organisation counting group meetings from 5 people and 90 minutes: only a document."""
    data = DEFAULT_CONFIG.model_dump(mode="json")
    data["activity_types"]["gruppemøte"]["rule"] = {"min_participants": 5,
                                                    "min_duration_minutes": 90}
    data["activity_types"]["turgruppe"] = {"label": "Turgruppe", "bufdir_category": "Fysisk",
                                           "rule": {"min_participants": 2}}
    strict = parse_config(data)
    assert decide(activity(), DEFAULT_CONFIG).counts
    assert decide(activity(), strict).reason == "gruppemøte med færre enn 5 deltakere"
    assert decide(activity(participants=6), strict).reason == "kortere enn 90 minutter"
    assert decide(activity(activity_type="turgruppe", participants=2), strict).counts


def test_map_row_keeps_types_and_applies_transforms() -> None:
    row = map_row(activity(participants=2), DEFAULT_CONFIG)
    values = dict(zip(DEFAULT_CONFIG.headers, row, strict=True))
    assert values["Dato"] == "05.03.2024"
    assert values["Deltakere"] == 2
    assert values["Kommune"] == "Halden"
    assert values["Fylke"] == "Østfold"
    assert values["Telles"] == "Nei"
    assert values["Årsak til at den ikke telles"] == "gruppemøte med færre enn 3 deltakere"
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


def test_summary_counts_only_counted_activities() -> None:
    summary = Summary(DEFAULT_CONFIG)
    items = [
        activity(id="1"),
        activity(id="2", participants=10, date=date(2024, 3, 6)),
        activity(id="3", participants=1),  # does not count
        activity(id="4", activity_type="besøk", participants=1, municipality="0301"),
        activity(id="5", participants=3, municipality="3103"),
    ]
    for item in items:
        summary.add(item, decide(item, DEFAULT_CONFIG))
    assert (summary.rows, summary.counted) == (5, 4)
    by_type = {line.key: line for line in summary.by_activity_type()}
    assert (by_type["gruppemøte"].activities, by_type["gruppemøte"].participants,
            by_type["gruppemøte"].activity_days) == (3, 17, 2)
    assert [(m.key, m.name, m.activities) for m in summary.by_municipality()] == [
        ("0301", "Oslo", 1), ("3101", "Halden", 2), ("3103", "Moss", 1)
    ]
    assert [(c.name, c.participants) for c in summary.by_county()] == [("Oslo", 1),
                                                                      ("Østfold", 17)]
    assert summary.total.activity_days == 2


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
