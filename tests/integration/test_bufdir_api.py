"""Bufdir source data and configuration over HTTP, against a real database."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from bootstrap import Services
from domain.bufdir_config import DEFAULT_CONFIG
from interfaces.http.auth import Role
from tests.integration.bufdir_helpers import PDF, PNG, activity, put_activities
from tests.integration.conftest import Tokens


def stored(services: Services, org: Tokens) -> int:
    with services.pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM activities WHERE org_id = %s",
                           (org.org_id,)).fetchone()
    return int(row[0]) if row else 0


def test_upsert_then_update_by_id(client: TestClient, services: Services, org: Tokens) -> None:
    items = [activity(i) for i in range(3)]
    items.append(activity(3, "2019-06-01", municipality="1201", activity_type="kurs",
                          extra={"course_name": "Mestringskurs"}))
    response = put_activities(client, org, items, Role.SCHEDULER)
    assert response.status_code == 200 and response.json() == {"upserted": 4}
    again = put_activities(client, org, [activity(0, participants=11)])
    assert again.json() == {"upserted": 1}
    assert stored(services, org) == 4
    with services.pool.connection() as conn:
        row = conn.execute("SELECT participants FROM activities WHERE org_id = %s AND id = %s",
                           (org.org_id, "akt-00000")).fetchone()
    assert row is not None and row[0] == 11


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"municipality": "9999"}, "municipality"),
        ({"municipality": "0000"}, "municipality"),
        ({"end_date": "2024-03-04"}, "end_date"),
        ({"contact_mode": "telepathy"}, "contact_mode"),
        ({"contact_mode": 1}, "contact_mode"),
        ({"municipality": "301"}, "municipality"),
        ({"municipality": 301}, "municipality"),
        ({"participants": -1}, "participants"),
        ({"participants": "5"}, "participants"),
        ({"participants": 2.5}, "participants"),
        ({"activity_type": "fotballkamp"}, "activity_type"),
        ({"date": "05.03.2024"}, "date"),
        ({"date": "2024-02-30"}, "date"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"id": ""}, "id"),
        ({"id": "x" * 101}, "id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_one_bad_item_refuses_the_batch_naming_index_and_field(
    client: TestClient, services: Services, org: Tokens, bad: dict[str, Any], field: str
) -> None:
    items = [activity(i) for i in range(5)]
    items[3] = {**items[3], **bad}
    response = put_activities(client, org, items)
    assert response.status_code == 422, response.text
    assert f"activities.3.{field}" in [e["field"] for e in response.json()["errors"]]
    assert stored(services, org) == 0


def test_a_number_that_existed_is_accepted_and_judged_in_the_report(
    client: TestClient, org: Tokens
) -> None:
    """Never existed: refused. Existed, but not on the date (Bergen's 1201 in 2023, Tromsø's
    5401 in 2024): stored as sent, and the report places it (see test_bufdir_counting)."""
    ok = put_activities(client, org, [activity(1, "2019-11-30", municipality="1201"),
                                      activity(2, "2023-01-10", municipality="1201"),
                                      activity(3, "2024-01-02", municipality="5401")])
    assert ok.status_code == 200, ok.text
    never = put_activities(client, org, [activity(4, "2023-01-10", municipality="9998")])
    assert never.status_code == 422
    assert never.json()["errors"][0]["field"] == "activities.0.municipality"


def test_end_date_and_contact_mode_are_stored(client: TestClient, services: Services,
                                              org: Tokens) -> None:
    items = [activity(1, end_date="2024-03-07"),
             activity(2, activity_type="besøk", participants=1, contact_mode="phone")]
    assert put_activities(client, org, items).status_code == 200
    with services.pool.connection() as conn:
        rows = conn.execute("SELECT id, end_date::text, contact_mode FROM activities "
                            "WHERE org_id = %s ORDER BY id", (org.org_id,)).fetchall()
    assert [tuple(r) for r in rows] == [("akt-00001", "2024-03-07", None),
                                        ("akt-00002", None, "phone")]


def test_bad_bodies_and_roles_never_500(client: TestClient, org: Tokens) -> None:
    url = f"/v1/orgs/{org.org_id}/activities"
    h = {**org.header(), "Content-Type": "application/json"}
    for body in (b"{nope", b"[]", b'{"activities": []}', b'{"activities": [1]}', b"null"):
        assert client.put(url, content=body, headers=h).status_code == 422
    for role in (Role.AUDITOR, Role.ANALYST):
        assert put_activities(client, org, [activity(1)], role).status_code == 403
    assert client.put(url, json={"activities": [activity(1)]}).status_code == 401


def attach(client: TestClient, org: Tokens, activity_id: str, name: str, data: bytes) -> Any:
    return client.put(
        f"/v1/orgs/{org.org_id}/activities/{activity_id}/attachments/{name}",
        content=data, headers={**org.header(), "Content-Type": "application/octet-stream"},
    )


def test_attachments(client: TestClient, services: Services, org: Tokens) -> None:
    put_activities(client, org, [activity(1)])
    ok = attach(client, org, "akt-00001", "kvittering.pdf", PDF)
    assert ok.status_code == 201, ok.text
    assert ok.json()["content_type"] == "application/pdf"
    assert attach(client, org, "akt-00001", "bilde.png", PNG).json()["content_type"] == "image/png"
    assert attach(client, org, "akt-00001", "notat.txt", "Møtereferat\n".encode()
                  ).json()["content_type"].startswith("text/plain")
    assert attach(client, org, "akt-00001", "stor.pdf",
                  PDF + b"0" * (10 * 1024 * 1024)).status_code == 413
    for name in ("..", ".env", "a..b.pdf", "a b.pdf", "x" * 101, "æøå.pdf"):
        response = attach(client, org, "akt-00001", name, PDF)
        assert response.status_code in (404, 422), name
        if response.status_code == 422:
            assert response.json()["errors"][0]["field"] == "name"
    for data in (b"MZ\x90\x00" + b"\x00" * 60, b"\x7fELF\x02\x01", b"#!/bin/sh\nrm -rf /\n",
                 b"<html><script>alert(1)</script>", b""):
        response = attach(client, org, "akt-00001", "fil.pdf", data)
        assert response.status_code == 422, data
        assert response.json()["errors"][0]["field"] == "body"
    assert attach(client, org, "ukjent", "kvittering.pdf", PDF).status_code == 404
    other = Tokens(org.org_id.__class__(int=org.org_id.int ^ 1))
    assert attach(client, other, "akt-00001", "kvittering.pdf", PDF).status_code == 404
    with services.pool.connection() as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM activity_attachments WHERE org_id = %s ORDER BY name",
            (org.org_id,))]
    assert names == ["bilde.png", "kvittering.pdf", "notat.txt"]


def test_config_default_then_versions(client: TestClient, org: Tokens) -> None:
    url = f"/v1/orgs/{org.org_id}/bufdir-config"
    default = client.get(url, headers=org.header(Role.AUDITOR)).json()
    assert default["version"] == 0 and "besøk" in default["activity_types"]
    document = DEFAULT_CONFIG.model_dump(mode="json")
    document["activity_types"]["samling"] = {"label": "Samling", "category": None}
    assert client.put(url, json=document, headers=org.header(Role.COORDINATOR)).status_code == 403
    first = client.put(url, json=document, headers=org.header(Role.ADMIN))
    assert first.status_code == 200 and first.json()["version"] == 1
    same = client.put(url, json=document, headers=org.header(Role.ADMIN))
    assert same.json()["version"] == 1
    document["name"] = "Egen"
    assert client.put(url, json=document, headers=org.header(Role.ADMIN)).json()["version"] == 2
    assert client.get(url, headers=org.header()).json()["name"] == "Egen"
    # The new type is accepted for activities now.
    assert put_activities(client, org, [activity(1, activity_type="samling")]).status_code == 200
    broken = {**document, "columns": [{"header": "X", "source": "nope"}]}
    assert client.put(url, json=broken, headers=org.header(Role.ADMIN)).status_code == 422
    assert client.put(url, json={"name": "x"}, headers=org.header(Role.ADMIN)).status_code == 422
