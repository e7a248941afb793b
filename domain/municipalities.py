"""Norwegian municipality and county numbers, judged for the date an activity took place.

Activities keep the municipality number that was in force on their date, so a 2019 activity in
Bergen says 1201 and a 2021 one 4601; checking against today's list alone would refuse history.
A number used after it was changed (Tromsø 5401 on 2024-01-02) is followed through SSB's change
history to the number in force on that date: one successor (renumbered or merged) is reported
under it, several (split) cannot be placed. The tables are `data/municipalities.csv` and
`data/municipality_changes.csv` (SSB classification 131/104; see their headers).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("data") / "municipalities.csv"
CHANGES_FILE = Path(__file__).with_name("data") / "municipality_changes.csv"


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


@cache
def _changes() -> dict[str, tuple[tuple[str, date], ...]]:
    """old code → ((new code, changed on), ...), from the change table."""
    grouped: dict[str, list[tuple[str, date]]] = {}
    with CHANGES_FILE.open(encoding="utf-8") as f:
        lines = (line for line in f if not line.startswith("#"))
        for row in csv.DictReader(lines, delimiter=";"):
            grouped.setdefault(row["old_code"], []).append(
                (row["new_code"], date.fromisoformat(row["changed_on"]))
            )
    return {key: tuple(rows) for key, rows in grouped.items()}


@cache
def data_date() -> str:
    """What the shipped data covers, as its change table says (shown in every report)."""
    with CHANGES_FILE.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("# data_date:"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def ever_existed(number: str) -> bool:
    """Whether SSB's tables know the number at all (an unknown one is refused at upload)."""
    return _find_any("municipality", number) or number in _changes()


def _find_any(kind: str, code: str) -> bool:
    return (kind, code) in _areas()


@dataclass(frozen=True)
class Placement:
    """Where an activity's municipality number places it on the activity's date."""

    #: The number in force on the date that the activity is reported under, or None.
    number: str | None
    name: str | None = None
    county: tuple[str, str] | None = None
    #: True when the given number was followed to a successor.
    followed: bool = False


def _successors(number: str, on: date) -> set[str] | None:
    """Codes in force on `on` that `number` became; None when it cannot be followed."""
    found: set[str] = set()
    frontier, seen = [number], set()
    while frontier:
        code = frontier.pop()
        if code in seen:
            continue
        seen.add(code)
        if _find("municipality", code, on) is not None:
            found.add(code)
            continue
        nexts = [new for new, when in _changes().get(code, ()) if when <= on]
        if not nexts:
            return None  # not yet in use on that date, or outside the data's coverage
        frontier.extend(nexts)
    return found


@lru_cache(maxsize=65536)
def place(number: str, on: date) -> Placement:
    """The municipality an activity is reported under: itself when in force on the date,
    its one successor when renumbered or merged, nothing when split or unknown then."""
    successors = _successors(number, on)
    if not successors or len(successors) != 1:
        return Placement(None)
    (code,) = successors
    return Placement(code, municipality_name(code, on), county_of(code, on), code != number)
