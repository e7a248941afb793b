"""Per-organisation configuration of the Bufdir report, as a validated JSON document.

What differs between organisations lives here: their own activity types and which counting
category (if any) each one is, minimums stricter than Bufdir's, the output columns and their
transforms, and fields they require. The counting rules themselves are not configurable
(domain.counting_rules); a configuration may only be stricter. pydantic is used here only as a
validation library for the document.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.counting_rules import Category, RuleSet, latest_rule_set
from domain.shared import DomainError
from domain.spreadsheet import code_problem

#: Fields every activity has (see the API contract, "Source data").
ACTIVITY_FIELDS = frozenset(
    {"id", "date", "end_date", "activity_type", "participants", "municipality", "description",
     "duration_minutes", "contact_mode"}
)

#: Values computed per row by domain.bufdir_rules rather than read from the activity.
COMPUTED_SOURCES = frozenset(
    {"counts", "not_counted_reason", "not_counted_explanation", "county", "county_number",
     "municipality_name", "reported_municipality", "category", "bufdir_category",
     "activity_type_label", "activity_days", "rule_set"}
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigLooserThanRules(DomainError):
    """A configuration that would count more than Bufdir's rules allow; nothing is stored."""

    code = "config_looser_than_rules"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ActivityType(_Model):
    """An activity type of the organisation and the counting category it belongs to."""

    label: str = Field(min_length=1)
    #: None: the activity is reported but never counted (e.g. arrangement).
    category: Category | None = None
    #: Stricter than the rule set only; None: the rule set's minimum.
    min_participants: int | None = Field(default=None, ge=0)
    min_minutes_per_day: int | None = Field(default=None, ge=1)


class Column(_Model):
    """One output column: a source (activity field or computed value) or a constant, then
    optional transforms applied in order: lookup, date_format."""

    header: str = Field(min_length=1)
    source: str | None = None
    constant: str | int | None = None
    lookup: dict[str, str | int] | None = None
    #: Value for lookups that miss; without it an unmatched value passes through unchanged.
    lookup_default: str | int | None = None
    date_format: str | None = None
    #: e.g. {"activity_type": ["kurs"]}: this column's source must be filled for such rows.
    required_when: dict[str, list[str]] | None = None

    @field_validator("required_when", mode="before")
    @classmethod
    def _single_values_as_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        return value

    @field_validator("date_format")
    @classmethod
    def _strftime_pattern(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError("date_format must be a strftime pattern such as %d.%m.%Y")
        problem = code_problem(value) if value is not None else None
        if problem is not None:
            raise ValueError(f"date_format {problem}")
        if value is not None:
            date(2024, 1, 31).strftime(value)
        return value

    @model_validator(mode="after")
    def _source_or_constant(self) -> Column:
        if (self.source is None) == (self.constant is None):
            raise ValueError("a column has exactly one of 'source' and 'constant'")
        if self.required_when and self.source is None:
            raise ValueError("required_when needs a source to check")
        return self


class BufdirConfigDocument(_Model):
    """The whole configuration of one organisation's Bufdir report."""

    name: str
    activity_types: dict[str, ActivityType] = Field(min_length=1)
    columns: list[Column] = Field(min_length=1)
    #: Activity fields beyond the standard ones that columns may read (e.g. "course_name").
    extra_fields: list[str] = Field(default_factory=list)
    counted_label: dict[str, str] = Field(default_factory=lambda: {"true": "Ja", "false": "Nei"})

    @model_validator(mode="after")
    def _columns_are_consistent(self) -> BufdirConfigDocument:
        known = ACTIVITY_FIELDS | COMPUTED_SOURCES | set(self.extra_fields)
        headers = [c.header for c in self.columns]
        duplicates = sorted({h for h in headers if headers.count(h) > 1})
        if duplicates:
            raise ValueError(f"duplicate column headers: {duplicates}")
        for column in self.columns:
            if column.source is not None and column.source not in known:
                raise ValueError(f"column '{column.header}': unknown source '{column.source}'")
            for field in (column.required_when or {}):
                if field not in ACTIVITY_FIELDS | set(self.extra_fields):
                    raise ValueError(f"column '{column.header}': unknown field '{field}'")
        return self

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


_LEGACY_PEER_TYPES = {
    "likepersonsamtale": Category.OUTREACH,
    "besøk": Category.OUTREACH,
    "gruppemøte": Category.GROUP,
    "kurs": Category.COURSE,
}


def _upgrade_legacy_type(key: str, value: Any) -> Any:
    """A type stored before the counting rules (free-text `bufdir_category`, `counts`, `rule`):
    only the default peer-work types keep counting; everything else is reported, not counted,
    until an admin maps it. Minimums are kept; counting never goes below the rule set anyway."""
    if not isinstance(value, dict) or "bufdir_category" not in value:
        return value
    rule = value.get("rule") or {}
    counts = value.get("counts", True)
    return {
        "label": value.get("label", key),
        "category": _LEGACY_PEER_TYPES.get(key) if counts else None,
        "min_participants": rule.get("min_participants"),
        "min_minutes_per_day": rule.get("min_duration_minutes"),
    }


def parse_config(data: dict[str, Any]) -> BufdirConfigDocument:
    """Validate a JSON document (also one stored before the counting rules); raises
    pydantic.ValidationError naming the bad field."""
    types = data.get("activity_types")
    if isinstance(types, dict):
        data = {**data, "activity_types": {k: _upgrade_legacy_type(k, v) for k, v in types.items()}}
    return BufdirConfigDocument.model_validate(data)


def check_against_rules(document: BufdirConfigDocument, rules: RuleSet | None = None) -> None:
    """Refuse a configuration that counts more than the rules allow, naming the field:
    a non-peer type mapped to a counting category, or a minimum below the rule set's."""
    rules = rules or latest_rule_set()
    for key, kind in document.activity_types.items():
        where = f"activity_types.{key}"
        if kind.category is None:
            continue
        if key in rules.never_counted_types:
            raise ConfigLooserThanRules(
                f"{where}.category",
                f"'{key}' is not peer work under {rules.name}; set its category to null",
            )
        minimums = rules.minimums(kind.category)
        if kind.min_participants is not None and kind.min_participants < minimums.min_participants:
            raise ConfigLooserThanRules(
                f"{where}.min_participants",
                f"{kind.category} needs at least {minimums.min_participants} participants "
                f"under {rules.name}; a configuration may only be stricter",
            )
        floor = minimums.min_minutes_per_day
        if kind.min_minutes_per_day is not None and floor is not None and (
                kind.min_minutes_per_day < floor):
            raise ConfigLooserThanRules(
                f"{where}.min_minutes_per_day",
                f"{kind.category} needs at least {floor} minutes a day under {rules.name}; "
                "a configuration may only be stricter",
            )


_CONTACT_MODES = {"in_person": "personlig fremmøte", "phone": "telefon", "video": "video",
                  "written": "skriftlig"}

_BASE_TYPES: dict[str, Any] = {
    "likepersonsamtale": {"label": "Likepersonsamtale", "category": Category.OUTREACH},
    "besøk": {"label": "Besøk", "category": Category.OUTREACH},
    "gruppemøte": {"label": "Gruppemøte", "category": Category.GROUP},
    "kurs": {"label": "Kurs", "category": Category.COURSE},
    "arrangement": {"label": "Arrangement", "category": None},
}

_BASE_COLUMNS: list[dict[str, Any]] = [
    {"header": "Aktivitets-ID", "source": "id"},
    {"header": "Dato", "source": "date", "date_format": "%d.%m.%Y"},
    {"header": "Til og med", "source": "end_date", "date_format": "%d.%m.%Y"},
    {"header": "Aktivitetstype", "source": "activity_type_label"},
    {"header": "Kategori", "source": "category"},
    {"header": "Deltakere", "source": "participants"},
    {"header": "Varighet (min)", "source": "duration_minutes"},
    {"header": "Kontaktform", "source": "contact_mode", "lookup": _CONTACT_MODES},
    {"header": "Kommunenummer", "source": "municipality"},
    {"header": "Rapportert kommunenummer", "source": "reported_municipality"},
    {"header": "Kommune", "source": "municipality_name"},
    {"header": "Fylke", "source": "county"},
    {"header": "Beskrivelse", "source": "description"},
    {"header": "Telles", "source": "counts"},
    {"header": "Aktivitetsdager", "source": "activity_days"},
    {"header": "Årsakskode", "source": "not_counted_reason"},
    {"header": "Forklaring", "source": "not_counted_explanation"},
]


def _document(name: str, types: dict[str, Any], columns: list[dict[str, Any]],
              extra_fields: list[str] | None = None) -> BufdirConfigDocument:
    return parse_config({"name": name, "activity_types": types, "columns": columns,
                         "extra_fields": extra_fields or []})


#: Used by every organisation without its own configuration (API contract, "Counting rules").
DEFAULT_CONFIG = _document("Standard", _BASE_TYPES, _BASE_COLUMNS)

#: Demo configurations: the organisations' own type names, mapped by the counting rules.
DEMO_CONFIGS: dict[str, BufdirConfigDocument] = {
    "NHF": _document(
        "Norges Handikapforbund",
        {**_BASE_TYPES,
         # An accessibility inspection is advocacy, not peer work: reported, never counted.
         "tilgjengelighetsbefaring": {"label": "Tilgjengelighetsbefaring", "category": None}},
        [*_BASE_COLUMNS, {"header": "Organisasjon", "constant": "NHF"}],
    ),
    "Blindeforbundet": _document(
        "Norges Blindeforbund",
        {**_BASE_TYPES,
         # Guiding is a service, not a peer conversation: reported, never counted.
         "ledsagertjeneste": {"label": "Ledsagertjeneste", "category": None}},
        [*_BASE_COLUMNS,
         {"header": "Tolk/ledsager", "source": "escort_name",
          "required_when": {"activity_type": "ledsagertjeneste"}}],
        extra_fields=["escort_name"],
    ),
    "HLF": _document(
        "Hørselshemmedes Landsforbund",
        {**_BASE_TYPES,
         # Training of HLF's hearing-technology peers (hørselstekniske likepersoner).
         "hørselstekniske_kurs": {"label": "Hørselstekniske kurs",
                                  "category": Category.COURSE}},
        [*_BASE_COLUMNS,
         {"header": "Kursnavn", "source": "course_name",
          "required_when": {"activity_type": ["kurs", "hørselstekniske_kurs"]}},
         {"header": "Region", "source": "county",
          "lookup": {"Viken": "Øst", "Østfold": "Øst", "Akershus": "Øst", "Oslo": "Øst",
                     "Buskerud": "Øst", "Innlandet": "Øst"},
          "lookup_default": "Øvrige"}],
        extra_fields=["course_name"],
    ),
}
