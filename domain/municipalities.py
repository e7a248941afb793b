"""Norwegian municipality and county numbers, valid for the date an activity took place.

Activities keep the municipality number that was in force on their date, so a 2019 activity in
Bergen says 1201 and a 2021 one 4601; checking against today's list alone would refuse history.
The table is `data/municipalities.csv` (SSB KLASS 131/104, see its header for source and coverage).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("data") / "municipalities.csv"


@dataclass(frozen=True)
class Area:
    """One code with one name over one inclusive date range (None = open end)."""

    kind: str
    code: str
    name: str
    valid_from: date | None
    valid_to: date | None

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@cache
def _areas() -> dict[tuple[str, str], tuple[Area, ...]]:
    """All rows of the data file, grouped by (kind, code); read once per process."""
    grouped: dict[tuple[str, str], list[Area]] = {}
    with DATA_FILE.open(encoding="utf-8") as f:
        lines = (line for line in f if not line.startswith("#"))
        for row in csv.DictReader(lines, delimiter=";"):
            area = Area(
                row["kind"], row["code"], row["name"], _date(row["valid_from"]),
                _date(row["valid_to"]),
            )
            grouped.setdefault((area.kind, area.code), []).append(area)
    return {key: tuple(rows) for key, rows in grouped.items()}


def _find(kind: str, code: str, on: date) -> Area | None:
    for area in _areas().get((kind, code), ()):
        if area.valid_on(on):
            return area
    return None


def is_valid_municipality(number: str, on: date) -> bool:
    """Whether `number` (4 digits, leading zero kept) was a municipality on that date."""
    return _find("municipality", number, on) is not None


def municipality_name(number: str, on: date) -> str | None:
    area = _find("municipality", number, on)
    return area.name if area else None


def county_of(number: str, on: date) -> tuple[str, str] | None:
    """(county code, county name) of a municipality valid on that date, else None."""
    if not is_valid_municipality(number, on):
        return None
    county = _find("county", number[:2], on)
    return (county.code, county.name) if county else None


def municipalities_on(on: date) -> dict[str, str]:
    """Every municipality valid on the date, number → name (e.g. for a picker or a check)."""
    return {
        area.code: area.name
        for (kind, _code), rows in _areas().items()
        if kind == "municipality"
        for area in rows
        if area.valid_on(on)
    }
