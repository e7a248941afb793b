"""Whether an activity counts toward Bufdir's figures, its report row, and the running summary.

Every rule reads its parameters from the organisation's configuration document, so the same
code serves NHF, Blindeforbundet and HLF; only the document differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.bufdir_config import BufdirConfigDocument, Column
from domain.municipalities import county_of, is_valid_municipality, municipality_name

Activity = Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    counts: bool
    reason: str | None = None


def activity_date(activity: Activity) -> date:
    value = activity["date"]
    return value if isinstance(value, date) else date.fromisoformat(str(value))


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


def decide(activity: Activity, config: BufdirConfigDocument) -> Decision:
    """Count the activity, or say in Norwegian (shown in the report) why it does not count."""
    kind = config.activity_types.get(str(activity.get("activity_type")))
    if kind is None:
        return Decision(False, "ukjent aktivitetstype")
    if not kind.counts:
        return Decision(False, "aktivitetstype telles ikke")
    if not is_valid_municipality(str(activity.get("municipality")), activity_date(activity)):
        return Decision(False, "ugyldig kommunenummer for datoen")
    rule = kind.rule
    participants = activity.get("participants") or 0
    if participants < rule.min_participants:
        return Decision(
            False, f"{kind.label.lower()} med færre enn {rule.min_participants} deltakere"
        )
    if rule.min_duration_minutes is not None:
        duration = activity.get("duration_minutes")
        if duration is None:
            return Decision(False, "varighet mangler")
        if duration < rule.min_duration_minutes:
            return Decision(False, f"kortere enn {rule.min_duration_minutes} minutter")
    column = _required_but_missing(activity, config)
    if column is not None:
        return Decision(False, f"{column.header} mangler")
    return Decision(True)


def _computed(source: str, activity: Activity, decision: Decision,
              config: BufdirConfigDocument) -> Any:
    day = activity_date(activity)
    number = str(activity.get("municipality"))
    kind = config.activity_types.get(str(activity.get("activity_type")))
    if source == "counts":
        return config.counted_label["true" if decision.counts else "false"]
    if source == "not_counted_reason":
        return decision.reason
    if source == "municipality_name":
        return municipality_name(number, day)
    if source in ("county", "county_number"):
        county = county_of(number, day)
        return None if county is None else county[1 if source == "county" else 0]
    if source == "bufdir_category":
        return kind.bufdir_category if kind else None
    if source == "activity_type_label":
        return kind.label if kind else activity.get("activity_type")
    if source == "date":
        return day
    return activity.get(source)


def _column_value(column: Column, activity: Activity, decision: Decision,
                  config: BufdirConfigDocument) -> Any:
    if column.source is None:
        return column.constant
    value = _computed(column.source, activity, decision, config)
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
    return [_column_value(c, activity, decision, config) for c in config.columns]


@dataclass
class SummaryLine:
    key: str
    name: str
    activities: int = 0
    participants: int = 0
    days: set[date] = field(default_factory=set)

    @property
    def activity_days(self) -> int:
        return len(self.days)

    def add(self, activity: Activity) -> None:
        self.activities += 1
        self.participants += int(activity.get("participants") or 0)
        self.days.add(activity_date(activity))


class Summary:
    """Counted totals, fed one activity at a time so a report never holds all rows in memory."""

    def __init__(self, config: BufdirConfigDocument) -> None:
        self.config = config
        self.rows = 0
        self.total = SummaryLine("total", "Totalt")
        self._by_type: dict[str, SummaryLine] = {}
        self._by_municipality: dict[str, SummaryLine] = {}
        self._by_county: dict[str, SummaryLine] = {}

    def add(self, activity: Activity, decision: Decision) -> None:
        self.rows += 1
        if not decision.counts:
            return
        day = activity_date(activity)
        number = str(activity.get("municipality"))
        kind = str(activity.get("activity_type"))
        known = self.config.activity_types.get(kind)
        label = known.label if known else kind
        county = county_of(number, day) or ("", "ukjent")
        for lines, key, name in (
            (self._by_type, kind, label),
            (self._by_municipality, number, municipality_name(number, day) or ""),
            (self._by_county, county[0], county[1]),
        ):
            lines.setdefault(key, SummaryLine(key, name)).add(activity)
        self.total.add(activity)

    @property
    def counted(self) -> int:
        return self.total.activities

    def by_activity_type(self) -> list[SummaryLine]:
        return sorted(self._by_type.values(), key=lambda line: line.key)

    def by_municipality(self) -> list[SummaryLine]:
        return sorted(self._by_municipality.values(), key=lambda line: line.key)

    def by_county(self) -> list[SummaryLine]:
        return sorted(self._by_county.values(), key=lambda line: line.key)
