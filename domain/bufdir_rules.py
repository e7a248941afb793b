"""Whether an activity counts toward Bufdir's figures, its report row, and the running summary.

The counting rules come from the rule set in force on the activity's date
(domain.counting_rules); the organisation's configuration only says which category each of its
activity types is and may add stricter minimums or required fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.bufdir_config import BufdirConfigDocument, Column
from domain.counting_rules import REASON_TEXT, Category, Reason, RuleSet, rule_set_on
from domain.municipalities import Placement, data_date, place

Activity = Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    counts: bool
    reason: Reason | None
    category: Category | None
    #: Days the activity is held (date to end_date); what it gives when it counts.
    days_held: int
    placement: Placement
    rule_set: RuleSet

    @property
    def activity_days(self) -> int:
        """Activity days this activity adds to the figures: points are per day held."""
        return self.days_held if self.counts else 0


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def activity_date(activity: Activity) -> date:
    return _as_date(activity["date"])


def days_held(activity: Activity) -> int:
    """Calendar days from `date` to `end_date` inclusive (one day without an end date)."""
    end = activity.get("end_date")
    if end is None:
        return 1
    return max(1, (_as_date(end) - activity_date(activity)).days + 1)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _required_but_missing(activity: Activity, config: BufdirConfigDocument) -> Column | None:
    for column in config.columns:
        if not column.required_when or column.source is None:
            continue
        applies = all(
            str(activity.get(field)) in values for field, values in column.required_when.items()
        )
        if applies and _missing(activity.get(column.source)):
            return column
    return None


def _reason(activity: Activity, config: BufdirConfigDocument, rules: RuleSet,
            category: Category | None, placement: Placement, days: int) -> Reason | None:
    kind_name = str(activity.get("activity_type"))
    kind = config.activity_types.get(kind_name)
    if kind is None or category is None or kind_name in rules.never_counted_types:
        return Reason.NOT_A_COUNTING_TYPE
    if placement.number is None:
        return Reason.INVALID_MUNICIPALITY
    minimums = rules.minimums(category)
    if minimums.in_person and activity.get("contact_mode") != "in_person":
        return Reason.NOT_IN_PERSON
    participants = int(activity.get("participants") or 0)
    if participants < max(minimums.min_participants, kind.min_participants or 0):
        return Reason.TOO_FEW_PARTICIPANTS
    per_day = max(minimums.min_minutes_per_day or 0, kind.min_minutes_per_day or 0)
    if per_day:
        duration = activity.get("duration_minutes")
        # duration_minutes is the whole activity: every day held needs its minimum.
        if duration is None or int(duration) < per_day * days:
            return Reason.TOO_SHORT
    if _required_but_missing(activity, config) is not None:
        return Reason.MISSING_REQUIRED_FIELD
    return None


def decide(activity: Activity, config: BufdirConfigDocument) -> Decision:
    """Judge one activity by the rule set of its date and the organisation's configuration."""
    day = activity_date(activity)
    rules = rule_set_on(day)
    kind = config.activity_types.get(str(activity.get("activity_type")))
    category = kind.category if kind else None
    placement = place(str(activity.get("municipality")), day)
    days = days_held(activity)
    reason = _reason(activity, config, rules, category, placement, days)
    return Decision(reason is None, reason, category, days, placement, rules)


def _explanation(activity: Activity, decision: Decision, config: BufdirConfigDocument) -> str | None:
    if decision.reason is None:
        if decision.placement.followed:
            return (f"kommunenummer {activity.get('municipality')} er rapportert som "
                    f"{decision.placement.number} (SSBs endringer)")
        return None
    if decision.reason is Reason.MISSING_REQUIRED_FIELD:
        column = _required_but_missing(activity, config)
        return f"{column.header} mangler" if column else REASON_TEXT[decision.reason]
    return REASON_TEXT[decision.reason]


def _computed(activity: Activity, decision: Decision,
              config: BufdirConfigDocument) -> dict[str, Any]:
    """Every computed source of one row, worked out once per row (not once per column)."""
    kind = config.activity_types.get(str(activity.get("activity_type")))
    placement = decision.placement
    category = decision.category.value if decision.category else None
    county = placement.county
    return {
        "counts": config.counted_label["true" if decision.counts else "false"],
        "not_counted_reason": decision.reason.value if decision.reason else None,
        "not_counted_explanation": _explanation(activity, decision, config),
        "municipality_name": placement.name,
        "reported_municipality": placement.number,
        "county": county[1] if county else None,
        "county_number": county[0] if county else None,
        "category": category,
        "bufdir_category": category,
        "activity_type_label": kind.label if kind else activity.get("activity_type"),
        "activity_days": decision.activity_days,
        "rule_set": decision.rule_set.name,
    }


def _column_value(column: Column, activity: Activity, computed: dict[str, Any]) -> Any:
    source = column.source
    if source is None:
        return column.constant
    if source in computed:
        value = computed[source]
    elif source in ("date", "end_date") and activity.get(source) is not None:
        value = _as_date(activity[source])
    else:
        value = activity.get(source)
    if column.lookup is not None and value is not None:
        value = column.lookup.get(str(value), column.lookup_default or value)
    if column.date_format is not None and isinstance(value, date):
        value = value.strftime(column.date_format)
    return value


def map_row(activity: Activity, config: BufdirConfigDocument,
            decision: Decision | None = None) -> list[Any]:
    """The report row of one activity, one value per configured column, types kept
    (dates stay dates unless a date_format asks for text, numbers stay numbers)."""
    decision = decision if decision is not None else decide(activity, config)
    computed = _computed(activity, decision, config)
    return [_column_value(c, activity, computed) for c in config.columns]


@dataclass
class SummaryLine:
    key: str
    name: str
    activities: int = 0
    participants: int = 0
    activity_days: int = 0

    def add(self, activity: Activity, decision: Decision) -> None:
        self.activities += 1
        self.participants += int(activity.get("participants") or 0)
        self.activity_days += decision.activity_days

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "activities": self.activities,
                "activity_days": self.activity_days, "participants": self.participants}


@dataclass
class Summary:
    """Counted figures, fed one activity at a time so a report never holds all rows in memory."""

    rows: int = 0
    total: SummaryLine = field(default_factory=lambda: SummaryLine("total", "Totalt"))
    by_category: dict[Category, SummaryLine] = field(default_factory=lambda: {
        c: SummaryLine(c.value, c.value) for c in Category})
    not_counted: dict[Reason, int] = field(default_factory=lambda: dict.fromkeys(Reason, 0))
    rule_sets: dict[str, RuleSet] = field(default_factory=dict)
    _by_municipality: dict[str, SummaryLine] = field(default_factory=dict)
    _by_county: dict[str, SummaryLine] = field(default_factory=dict)

    def add(self, activity: Activity, decision: Decision) -> None:
        self.rows += 1
        self.rule_sets.setdefault(decision.rule_set.name, decision.rule_set)
        if not decision.counts or decision.category is None:
            if decision.reason is not None:
                self.not_counted[decision.reason] += 1
            return
        placement = decision.placement
        number = placement.number or ""
        county = placement.county or ("", "ukjent")
        for lines, key, name in (
            (self._by_municipality, number, placement.name or ""),
            (self._by_county, county[0], county[1]),
        ):
            lines.setdefault(key, SummaryLine(key, name)).add(activity, decision)
        self.by_category[decision.category].add(activity, decision)
        self.total.add(activity, decision)

    @property
    def counted(self) -> int:
        return self.total.activities

    def by_municipality(self) -> list[SummaryLine]:
        return sorted(self._by_municipality.values(), key=lambda line: line.key)

    def by_county(self) -> list[SummaryLine]:
        return sorted(self._by_county.values(), key=lambda line: line.key)

    def as_dict(self) -> dict[str, Any]:
        """The figures as the export's `summary` (API contract), with what they were judged by."""
        return {
            "counted_activities": self.counted,
            "activity_days": self.total.activity_days,
            "participants": self.total.participants,
            "rows": self.rows,
            "by_category": {c.value: {k: v for k, v in line.as_dict().items() if k != "name"}
                            for c, line in self.by_category.items()},
            "not_counted": {r.value: n for r, n in self.not_counted.items()},
            "by_county": {line.key: line.as_dict() for line in self.by_county()},
            "by_municipality": {line.key: line.as_dict() for line in self.by_municipality()},
            "rule_sets": [r.describe() for r in sorted(self.rule_sets.values(),
                                                       key=lambda r: r.applies_from)],
            "municipality_data": data_date(),
        }
