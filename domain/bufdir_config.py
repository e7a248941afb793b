"""Per-organisation column configuration of the Bufdir report, as a validated JSON document.

Everything that differs between organisations (which activity types exist and count, the
counting thresholds, the output columns and their transforms, conditionally required fields)
lives in this document, so a new organisation rule is a configuration change, not code.
pydantic is used here only as a validation library for the document.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Fields every activity has (see the API contract, "Source data").
ACTIVITY_FIELDS = frozenset(
    {"id", "date", "activity_type", "participants", "municipality", "description",
     "duration_minutes"}
)

#: Values computed per row by domain.bufdir_rules rather than read from the activity.
COMPUTED_SOURCES = frozenset(
    {"counts", "not_counted_reason", "county", "county_number", "municipality_name",
     "bufdir_category", "activity_type_label"}
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CountingRule(_Model):
    """Thresholds an activity of one type must meet to count toward Bufdir's figures."""

    min_participants: int = Field(default=1, ge=0)
    #: None: duration is not needed; otherwise it must be given and at least this long.
    min_duration_minutes: int | None = Field(default=None, ge=1)


class ActivityType(_Model):
    """An activity type the organisation reports, mapped to a Bufdir category."""

    label: str
    bufdir_category: str
    counts: bool = True
    rule: CountingRule = CountingRule()


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


def parse_config(data: dict[str, Any]) -> BufdirConfigDocument:
    """Validate a JSON document; raises pydantic.ValidationError naming the bad field."""
    return BufdirConfigDocument.model_validate(data)


GROUP_RULE = {"min_participants": 3, "min_duration_minutes": 45}

_BASE_TYPES: dict[str, Any] = {
    "likepersonsamtale": {"label": "Likepersonsamtale", "bufdir_category": "Likepersonsarbeid"},
    "kurs": {"label": "Kurs", "bufdir_category": "Kurs og opplæring",
             "rule": {"min_duration_minutes": 45}},
    "gruppemøte": {"label": "Gruppemøte", "bufdir_category": "Gruppeaktivitet",
                   "rule": GROUP_RULE},
    "besøk": {"label": "Besøk", "bufdir_category": "Besøkstjeneste"},
    "arrangement": {"label": "Arrangement", "bufdir_category": "Arrangement"},
}

_BASE_COLUMNS: list[dict[str, Any]] = [
    {"header": "Aktivitets-ID", "source": "id"},
    {"header": "Dato", "source": "date", "date_format": "%d.%m.%Y"},
    {"header": "Aktivitetstype", "source": "activity_type_label"},
    {"header": "Bufdir-kategori", "source": "bufdir_category"},
    {"header": "Deltakere", "source": "participants"},
    {"header": "Varighet (min)", "source": "duration_minutes",
     "required_when": {"activity_type": ["kurs", "gruppemøte"]}},
    {"header": "Kommunenummer", "source": "municipality"},
    {"header": "Kommune", "source": "municipality_name"},
    {"header": "Fylke", "source": "county"},
    {"header": "Beskrivelse", "source": "description"},
    {"header": "Telles", "source": "counts"},
    {"header": "Årsak til at den ikke telles", "source": "not_counted_reason"},
]


def _document(name: str, types: dict[str, Any], columns: list[dict[str, Any]],
              extra_fields: list[str] | None = None) -> BufdirConfigDocument:
    return parse_config({"name": name, "activity_types": types, "columns": columns,
                         "extra_fields": extra_fields or []})


#: Used by every organisation without its own configuration (API contract, "Source data").
DEFAULT_CONFIG = _document("Standard", _BASE_TYPES, _BASE_COLUMNS)

#: Demo configurations; the Bufdir categories are placeholders until checked against the
#: organisations' real Bufdir templates.
DEMO_CONFIGS: dict[str, BufdirConfigDocument] = {
    "NHF": _document(
        "Norges Handikapforbund",
        {**_BASE_TYPES,
         "tilgjengelighetsbefaring": {"label": "Tilgjengelighetsbefaring",
                                      "bufdir_category": "Tilrettelegging"},
         # NHF counts a group meeting from 2 participants (their peer groups are small).
         "gruppemøte": {**_BASE_TYPES["gruppemøte"],
                        "rule": {"min_participants": 2, "min_duration_minutes": 45}}},
        [*_BASE_COLUMNS, {"header": "Organisasjon", "constant": "NHF"}],
    ),
    "Blindeforbundet": _document(
        "Norges Blindeforbund",
        {**_BASE_TYPES,
         "ledsagertjeneste": {"label": "Ledsagertjeneste", "bufdir_category": "Besøkstjeneste",
                              "rule": {"min_duration_minutes": 30}},
         # Events are reported but not counted: Blindeforbundet reports them elsewhere.
         "arrangement": {**_BASE_TYPES["arrangement"], "counts": False}},
        [*_BASE_COLUMNS,
         {"header": "Tolk/ledsager", "source": "escort_name",
          "required_when": {"activity_type": "ledsagertjeneste"}}],
        extra_fields=["escort_name"],
    ),
    "HLF": _document(
        "Hørselshemmedes Landsforbund",
        {**_BASE_TYPES,
         "hørselstekniske_kurs": {"label": "Hørselstekniske kurs",
                                  "bufdir_category": "Kurs og opplæring",
                                  "rule": {"min_duration_minutes": 60}}},
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
