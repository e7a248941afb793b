"""Grouping a report's rows by reason follows the configuration the export used."""

from __future__ import annotations

from application.bufdir_rows import group_not_counted
from domain.bufdir_config import DEFAULT_CONFIG, parse_config

OWN = parse_config({
    "name": "Egen", "activity_types": {"kurs": {"label": "Kurs", "category": None}},
    "columns": [{"header": "Grunn", "source": "not_counted_reason"},
                {"header": "Nr", "source": "id"},
                {"header": "Antall", "source": "participants"},
                {"header": "Org", "constant": "X"}],
})


def test_columns_are_found_by_source_in_the_organisations_own_order() -> None:
    rows = [["Grunn", "Nr", "Antall", "Org"],
            ["too_short", "k1", "4", "X"],
            ["", "k2", "9", "X"],  # counted: no reason
            ["not_a_counting_type", "k3", "1", "X"],
            ["too_short", "k4", "5", "X"]]
    found = group_not_counted(rows, OWN, limit=1)
    assert [(c.source, c.header) for c in found.columns] == [("id", "Nr"), ("participants", "Antall")]
    assert [(r.reason, r.total, r.rows) for r in found.reasons] == [
        ("not_a_counting_type", 1, [{"id": "k3", "participants": "1"}]),
        ("too_short", 2, [{"id": "k1", "participants": "4"}]),
    ]


def test_without_a_reason_column_nothing_is_grouped() -> None:
    config = parse_config({**OWN.model_dump(mode="json"), "columns": [
        {"header": "Nr", "source": "id"}]})
    found = group_not_counted([["Nr"], ["k1"]], config, limit=10)
    assert found.has_reason_column is False and found.reasons == []
    assert group_not_counted([DEFAULT_CONFIG.headers], DEFAULT_CONFIG, 10).reasons == []
