"""Bufdir's published counting rules, one table per rule, with the values on either side of
each boundary (likeperson.no "Regler for rapportering"; API contract "Counting rules")."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.bufdir_config import DEFAULT_CONFIG
from domain.bufdir_rules import decide
from domain.counting_rules import Category, Reason, rule_set_on, rule_sets


def activity(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "a1", "date": date(2024, 3, 5), "activity_type": "gruppemøte", "participants": 3,
        "municipality": "0301", "description": "Samtalegruppe", "duration_minutes": 45,
    }
    return {**base, **overrides}


def judged(**overrides: Any) -> tuple[Reason | None, int]:
    decision = decide(activity(**overrides), DEFAULT_CONFIG)
    assert decision.counts is (decision.reason is None)
    return decision.reason, decision.activity_days


@pytest.mark.parametrize(
    ("participants", "expected"),
    [(0, Reason.TOO_FEW_PARTICIPANTS), (2, Reason.TOO_FEW_PARTICIPANTS), (3, None), (4, None)],
)
def test_a_group_needs_three_participants(participants: int, expected: Reason | None) -> None:
    assert judged(participants=participants)[0] == expected


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(None, Reason.TOO_SHORT), (44, Reason.TOO_SHORT), (45, None), (46, None)],
)
def test_a_group_lasts_45_minutes(minutes: int | None, expected: Reason | None) -> None:
    assert judged(duration_minutes=minutes)[0] == expected


@pytest.mark.parametrize(
    ("minutes", "end_date", "expected"),
    [
        (89, None, Reason.TOO_SHORT),
        (90, None, None),
        (None, None, Reason.TOO_SHORT),
        # Three course days need 3 × 90 minutes in all.
        (269, date(2024, 3, 7), Reason.TOO_SHORT),
        (270, date(2024, 3, 7), None),
    ],
)
def test_a_course_day_lasts_two_times_45_minutes(
    minutes: int | None, end_date: date | None, expected: Reason | None
) -> None:
    reason, _days = judged(activity_type="kurs", participants=1, duration_minutes=minutes,
                           end_date=end_date)
    assert reason == expected


@pytest.mark.parametrize(
    ("contact_mode", "expected"),
    [
        ("in_person", None),
        ("phone", Reason.NOT_IN_PERSON),
        ("video", Reason.NOT_IN_PERSON),
        ("written", Reason.NOT_IN_PERSON),
        (None, Reason.NOT_IN_PERSON),
    ],
)
@pytest.mark.parametrize("kind", ["likepersonsamtale", "besøk"])
def test_a_one_to_one_contact_counts_only_in_person(
    kind: str, contact_mode: str | None, expected: Reason | None
) -> None:
    reason, _days = judged(activity_type=kind, participants=1, duration_minutes=None,
                           contact_mode=contact_mode)
    assert reason == expected


def test_contact_mode_does_not_matter_for_groups() -> None:
    assert judged(contact_mode="video")[0] is None


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("gruppemøte", None),
        ("arrangement", Reason.NOT_A_COUNTING_TYPE),
        ("ukjent_type", Reason.NOT_A_COUNTING_TYPE),
    ],
)
def test_only_the_three_peer_work_categories_count(kind: str, expected: Reason | None) -> None:
    assert judged(activity_type=kind)[0] == expected


@pytest.mark.parametrize(
    ("end_date", "minutes", "days"),
    [(None, 45, 1), (date(2024, 3, 5), 45, 1), (date(2024, 3, 7), 135, 3),
     (date(2024, 3, 7), 134, 0)],
)
def test_points_are_given_per_day_held(end_date: date | None, minutes: int, days: int) -> None:
    assert judged(end_date=end_date, duration_minutes=minutes)[1] == days


@pytest.mark.parametrize(
    ("number", "on", "expected", "reported"),
    [
        ("5401", date(2023, 12, 31), None, "5401"),
        ("5401", date(2024, 1, 1), None, "5501"),  # renumbered: one successor
        ("5401", date(2024, 1, 2), None, "5501"),
        ("5501", date(2024, 1, 2), None, "5501"),
        ("5501", date(2023, 12, 31), Reason.INVALID_MUNICIPALITY, None),  # not yet in use
        ("1902", date(2024, 6, 1), None, "5501"),  # Tromsø 2019 → 5401 → 5501
        ("1534", date(2021, 6, 1), None, "1507"),  # Haram merged into Ålesund in 2020
        ("1507", date(2024, 6, 1), Reason.INVALID_MUNICIPALITY, None),  # Ålesund/Haram split
        ("5012", date(2021, 6, 1), Reason.INVALID_MUNICIPALITY, None),  # Snillfjord split
    ],
)
def test_municipality_numbers_over_time(
    number: str, on: date, expected: Reason | None, reported: str | None
) -> None:
    decision = decide(activity(municipality=number, date=on), DEFAULT_CONFIG)
    assert (decision.reason, decision.placement.number) == (expected, reported)


def test_the_checks_come_in_a_fixed_order() -> None:
    """An arrangement in an unknown place is reported as not a counting type, a phone call
    with too few participants as not in person: one reason per row, the most basic first."""
    assert judged(activity_type="arrangement", municipality="5501",
                  date=date(2023, 6, 1))[0] == Reason.NOT_A_COUNTING_TYPE
    assert judged(activity_type="besøk", participants=0, contact_mode="phone")[0] == (
        Reason.NOT_IN_PERSON)


def test_the_rule_set_is_data_with_a_name_and_a_date() -> None:
    rules = rule_set_on(date(2024, 3, 5))
    assert rules in rule_sets() and rules.applies_from <= date(2024, 3, 5)
    assert rules.name
    group = rules.minimums(Category.GROUP)
    assert (group.min_participants, group.min_minutes_per_day, group.in_person) == (3, 45, False)
    assert rules.minimums(Category.COURSE).min_minutes_per_day == 90
    assert rules.minimums(Category.OUTREACH).in_person
    assert "arrangement" in rules.never_counted_types
    assert decide(activity(), DEFAULT_CONFIG).rule_set == rules


def test_a_later_rule_set_applies_from_its_date(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Any) -> None:
    """A new year's rules are a new entry in the data file; no code changes."""
    import json

    from domain import counting_rules

    data = json.loads(counting_rules.RULES_FILE.read_text(encoding="utf-8"))
    later = json.loads(json.dumps(data["rule_sets"][0]))
    later["name"], later["applies_from"] = "Strengere regler 2030", "2030-01-01"
    later["categories"]["samtale- og aktivitetsgruppe"]["min_participants"] = 5
    data["rule_sets"].append(later)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(counting_rules, "RULES_FILE", path)
    counting_rules.rule_sets.cache_clear()
    try:
        assert judged(participants=4, date=date(2029, 12, 31))[0] is None
        assert judged(participants=4, date=date(2030, 1, 1))[0] == Reason.TOO_FEW_PARTICIPANTS
        decision = decide(activity(date=date(2030, 1, 1), participants=5), DEFAULT_CONFIG)
        assert decision.rule_set.name == "Strengere regler 2030" and decision.counts
    finally:
        counting_rules.rule_sets.cache_clear()
