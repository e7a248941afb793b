"""Bufdir's counting rules for peer work (likepersonsarbeid) as versioned data.

The rules live in `data/counting_rules.json`: each rule set has a name, the date it applies
from, the three counting categories with their minimums, and the rule that points are given per
day held. A later year's rules are a new entry in that file, not new code; an activity is judged
by the rule set in force on its date, and the report names the rule sets it used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

RULES_FILE = Path(__file__).with_name("data") / "counting_rules.json"


class Category(StrEnum):
    """The three kinds of peer work that count (the scheme's own words)."""

    OUTREACH = "oppsøkende likepersonsarbeid"
    GROUP = "samtale- og aktivitetsgruppe"
    COURSE = "likepersonskurs"


class Reason(StrEnum):
    """Why an activity does not count; the codes stand in the report rows and the summary."""

    NOT_A_COUNTING_TYPE = "not_a_counting_type"
    INVALID_MUNICIPALITY = "invalid_municipality"
    NOT_IN_PERSON = "not_in_person"
    TOO_FEW_PARTICIPANTS = "too_few_participants"
    TOO_SHORT = "too_short"
    #: The organisation's own configuration requires a field that is empty (stricter, allowed).
    MISSING_REQUIRED_FIELD = "missing_required_field"


REASON_TEXT: dict[Reason, str] = {
    Reason.NOT_A_COUNTING_TYPE: "aktivitetstypen er ikke likepersonsarbeid som telles",
    Reason.INVALID_MUNICIPALITY: "kommunenummeret gjaldt ikke på datoen og har ikke én etterfølger",
    Reason.NOT_IN_PERSON: "samtalen er ikke registrert som personlig fremmøte",
    Reason.TOO_FEW_PARTICIPANTS: "for få deltakere",
    Reason.TOO_SHORT: "for kort varighet per dag (eller varighet mangler)",
    Reason.MISSING_REQUIRED_FIELD: "et felt organisasjonen krever, mangler",
}


@dataclass(frozen=True)
class Minimums:
    """What one activity of a category must meet, per day it is held."""

    label: str
    in_person: bool
    min_participants: int
    #: None: no duration needed; otherwise every day held lasts at least this long.
    min_minutes_per_day: int | None


@dataclass(frozen=True)
class RuleSet:
    name: str
    applies_from: date
    source: str
    points_per_day_held: bool
    categories: dict[Category, Minimums]
    #: Activity types that are never peer work (may not be mapped to a counting category).
    never_counted_types: frozenset[str]

    def minimums(self, category: Category) -> Minimums:
        return self.categories[category]

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "applies_from": self.applies_from.isoformat()}


def _rule_set(data: dict[str, Any]) -> RuleSet:
    categories = {
        Category(key): Minimums(
            label=str(value["label"]),
            in_person=bool(value["in_person"]),
            min_participants=int(value["min_participants"]),
            min_minutes_per_day=(None if value["min_minutes_per_day"] is None
                                 else int(value["min_minutes_per_day"])),
        )
        for key, value in data["categories"].items()
    }
    if set(categories) != set(Category):
        raise ValueError(f"rule set {data['name']!r} must define every category")
    return RuleSet(
        name=str(data["name"]),
        applies_from=date.fromisoformat(data["applies_from"]),
        source=str(data["source"]),
        points_per_day_held=bool(data["points_per_day_held"]),
        categories=categories,
        never_counted_types=frozenset(data["never_counted_types"]),
    )


@cache
def rule_sets() -> tuple[RuleSet, ...]:
    """Every rule set, oldest first; read once per process."""
    data = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    sets = sorted((_rule_set(item) for item in data["rule_sets"]), key=lambda r: r.applies_from)
    if not sets:
        raise ValueError("no counting rule set")
    return tuple(sets)


def rule_set_on(day: date) -> RuleSet:
    """The rule set in force on the day; activities older than every rule set use the oldest."""
    chosen = rule_sets()[0]
    for candidate in rule_sets():
        if candidate.applies_from <= day:
            chosen = candidate
    return chosen


def latest_rule_set() -> RuleSet:
    """The newest rule set: configurations are checked against it when they are stored."""
    return rule_sets()[-1]
