"""A Bufdir export's activities that did not count, row by row and grouped by reason, read back
from the stored report (the reasons per activity come from the fixture's hand-written comments)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from bootstrap import Services
from interfaces.http.auth import Role
from tests.integration.bufdir_helpers import get_export, put_activities, request_export
from tests.integration.conftest import Tokens, drain_queue
from tests.integration.test_bufdir_counting import FIXTURE

#: Reason → activity ids, from the comments beside FIXTURE (not computed by the code).
BY_HAND = {
    "not_a_counting_type": ["akt-00013"],
    "invalid_municipality": ["akt-00014"],
    "not_in_person": ["akt-00010", "akt-00011"],
    "too_few_participants": ["akt-00002"],
    "too_short": ["akt-00003", "akt-00005", "akt-00007"],
}


def not_counted(client: TestClient, org: Tokens, export_id: str, role: Role = Role.AUDITOR,
                **params: Any) -> Any:
    return client.get(f"/v1/orgs/{org.org_id}/bufdir-exports/{export_id}/not-counted",
                      headers=org.header(role), params=params)


@pytest.mark.parametrize(("fmt", "attachments"), [("xlsx", False), ("csv", False), ("csv", True)])
def test_rows_not_counted_are_grouped_by_reason_as_the_file_has_them(
    client: TestClient, services: Services, org: Tokens, fmt: str, attachments: bool
) -> None:
    assert put_activities(client, org, FIXTURE).status_code == 200
    export_id = request_export(client, org, fmt=fmt, attachments=attachments)
    drain_queue(services)
    assert get_export(client, org, export_id)["status"] == "completed"
    # Changed after the export: the page still shows what the report says.
    changed = {**FIXTURE[1], "participants": 9}
    assert put_activities(client, org, [changed]).status_code == 200

    response = not_counted(client, org, export_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert {r: sorted(row["id"] for row in g["rows"]) for r, g in body["by_reason"].items()
            } == BY_HAND
    assert {r: g["total"] for r, g in body["by_reason"].items()} == {
        r: len(ids) for r, ids in BY_HAND.items()}
    assert list(body["by_reason"]) == list(BY_HAND)  # the reasons' own order
    headers = {c["source"]: c["header"] for c in body["columns"]}
    assert headers["participants"] == "Deltakere" and headers["date"] == "Dato"
    few = body["by_reason"]["too_few_participants"]["rows"][0]
    assert few["participants"] == "2" and few["date"] == "01.02.2024"
    assert few["not_counted_explanation"] == "for få deltakere"


def test_the_limit_keeps_every_reason_counted(client: TestClient, services: Services,
                                              org: Tokens) -> None:
    assert put_activities(client, org, FIXTURE).status_code == 200
    export_id = request_export(client, org)
    drain_queue(services)
    body = not_counted(client, org, export_id, Role.ANALYST, limit=1).json()
    assert body["by_reason"]["too_short"]["total"] == 3
    assert len(body["by_reason"]["too_short"]["rows"]) == 1
    assert not_counted(client, org, export_id, limit=0).status_code == 422


def test_not_before_completion_and_never_for_another_organisation(
    client: TestClient, services: Services, org: Tokens
) -> None:
    assert put_activities(client, org, FIXTURE).status_code == 200
    export_id = request_export(client, org)
    waiting = not_counted(client, org, export_id)
    assert waiting.status_code == 409 and waiting.json()["code"] == "report_not_ready"
    drain_queue(services)
    assert not_counted(client, org, str(uuid4())).status_code == 404
    other = Tokens(uuid4())
    response = client.get(f"/v1/orgs/{other.org_id}/bufdir-exports/{export_id}/not-counted",
                          headers=other.header(Role.ADMIN))
    assert response.status_code == 404 and export_id not in response.text
    empty = request_export(client, org, start="2030-01-01", end="2030-01-31")
    drain_queue(services)
    assert not_counted(client, org, empty).json()["by_reason"] == {}
