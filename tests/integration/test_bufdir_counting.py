"""A whole Bufdir export judged by the counting rules, checked against figures counted by hand.

Each activity of the fixture says what the rules make of it; EXPECTED was counted from those
comments, not computed by the code under test.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from bootstrap import Services
from infrastructure.projections.runner import rebuild
from tests.integration.bufdir_helpers import (
    activity,
    download,
    get_export,
    put_activities,
    request_export,
    sheets,
)
from tests.integration.conftest import Tokens, drain_queue


def group(i: int, day: str, participants: int, minutes: int, place: str = "0301",
          end: str | None = None) -> dict[str, Any]:
    return activity(i, day, participants=participants, duration_minutes=minutes,
                    municipality=place, end_date=end)


def course(i: int, day: str, participants: int, minutes: int, place: str,
           end: str | None = None) -> dict[str, Any]:
    return activity(i, day, activity_type="kurs", participants=participants,
                    duration_minutes=minutes, municipality=place, end_date=end)


def talk(i: int, day: str, mode: str | None, kind: str = "likepersonsamtale",
         place: str = "0301") -> dict[str, Any]:
    return activity(i, day, activity_type=kind, participants=1, duration_minutes=None,
                    municipality=place, contact_mode=mode)


FIXTURE = [
    group(1, "2024-02-01", 3, 45),  # counts: group, 1 day, 3 participants (Oslo)
    group(2, "2024-02-01", 2, 60),  # too_few_participants
    group(3, "2024-02-02", 8, 44),  # too_short
    group(4, "2024-02-03", 5, 90, "4601", "2024-02-04"),  # counts: 2 days × 45 (Bergen)
    group(5, "2024-02-05", 5, 89, "4601", "2024-02-06"),  # too_short: 89 < 2 × 45
    course(6, "2024-03-01", 12, 270, "5001", "2024-03-03"),  # counts: 3 course days (Trondheim)
    course(7, "2024-03-04", 10, 89, "5001"),  # too_short: a course day is 2 × 45
    course(8, "2024-03-05", 10, 90, "5401"),  # counts: Tromsø's old number → 5501
    talk(9, "2024-04-01", "in_person"),  # counts: outreach (Oslo)
    talk(10, "2024-04-01", "phone"),  # not_in_person
    talk(11, "2024-04-02", None),  # not_in_person: how it took place is unknown
    talk(12, "2024-01-02", "in_person", kind="besøk", place="5401"),  # counts, under 5501
    activity(13, "2024-05-01", activity_type="arrangement", participants=80,
             duration_minutes=120),  # not_a_counting_type
    group(14, "2024-05-02", 6, 60, "1507"),  # invalid_municipality: Ålesund/Haram split 2024
    group(15, "2023-12-31", 6, 60),  # outside the period: not in the report
]

EXPECTED = {
    "counted_activities": 6,
    "activity_days": 9,
    "participants": 32,
    "rows": 14,
    "by_category": {
        "oppsøkende likepersonsarbeid": {"activities": 2, "activity_days": 2, "participants": 2},
        "samtale- og aktivitetsgruppe": {"activities": 2, "activity_days": 3, "participants": 8},
        "likepersonskurs": {"activities": 2, "activity_days": 4, "participants": 22},
    },
    "not_counted": {"too_few_participants": 1, "too_short": 3, "not_in_person": 2,
                    "not_a_counting_type": 1, "invalid_municipality": 1,
                    "missing_required_field": 0},
    "by_county": {
        "03": {"name": "Oslo", "activities": 2, "activity_days": 2, "participants": 4},
        "46": {"name": "Vestland", "activities": 1, "activity_days": 2, "participants": 5},
        "50": {"name": "Trøndelag", "activities": 1, "activity_days": 3, "participants": 12},
        "55": {"name": "Troms", "activities": 2, "activity_days": 2, "participants": 11},
    },
    "by_municipality": {
        "0301": {"name": "Oslo", "activities": 2, "activity_days": 2, "participants": 4},
        "4601": {"name": "Bergen", "activities": 1, "activity_days": 2, "participants": 5},
        "5001": {"name": "Trondheim", "activities": 1, "activity_days": 3, "participants": 12},
        "5501": {"name": "Tromsø", "activities": 2, "activity_days": 2, "participants": 11},
    },
}


def test_summary_matches_the_hand_count(client: TestClient, services: Services,
                                        org: Tokens) -> None:
    assert put_activities(client, org, FIXTURE).status_code == 200
    export_id = request_export(client, org)
    drain_queue(services)
    export = get_export(client, org, export_id)
    assert export["status"] == "completed", export
    summary = export["summary"]
    assert {k: summary[k] for k in EXPECTED} == EXPECTED
    assert summary["rule_sets"][0]["name"].startswith("Bufdir likepersonsarbeid")
    assert summary["municipality_data"].startswith("2024-01-01")

    book = sheets(download(client, export["download_url"]))
    rows = book["Aktiviteter"]
    header = list(rows[0])
    by_id = {r[0]: dict(zip(header, r)) for r in rows[1:]}  # noqa: B905 - trailing blanks
    assert len(by_id) == 14 and "akt-00015" not in by_id
    assert by_id["akt-00008"]["Rapportert kommunenummer"] == "5501"
    assert by_id["akt-00008"]["Kommune"] == "Tromsø"
    assert by_id["akt-00014"]["Årsakskode"] == "invalid_municipality"
    assert by_id["akt-00014"]["Rapportert kommunenummer"] is None
    assert by_id["akt-00006"]["Aktivitetsdager"] == 3
    assert sum(r["Aktivitetsdager"] for r in by_id.values()) == 9
    categories = {r[0]: r[2:] for r in book["Per kategori"][1:]}
    assert categories["likepersonskurs"] == (2, 4, 22)
    assert categories["samtale- og aktivitetsgruppe"] == (2, 3, 8)
    assert categories["total"] == (6, 9, 32)
    reasons = {r[0]: r[2] for r in book["Ikke talt"][1:]}
    assert reasons["too_short"] == 3 and reasons["not_in_person"] == 2

    # The list (read model, rebuilt from the events) carries the same figures.
    rebuild(services.env, "bufdir_audit_log")
    listed = client.get(f"/v1/orgs/{org.org_id}/bufdir-exports", headers=org.header()).json()
    assert listed[0]["summary"]["by_category"] == EXPECTED["by_category"]
