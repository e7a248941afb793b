"""No 500 on any input: what used to reach the database as something it cannot store is a 422
naming the field, and a token with a time that is not a number is a 401."""

from __future__ import annotations

import time
from typing import Any

import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient

from bootstrap import Services
from interfaces.demo import ORGS, demo_settings
from interfaces.http.auth import Role
from tests.integration.conftest import SECRET, Tokens, claim_json


def fields(r: Any) -> list[str]:
    return [e["field"] for e in r.json()["errors"]]


def test_duplicate_claim_ids_name_the_later_index(
    client: TestClient, services: Services, org: Tokens
) -> None:
    first, other = claim_json("2025-01-10"), claim_json("2025-01-11")
    batch = [first, other, {**first, "amount": "5.00"}]
    r = client.put(f"/v1/orgs/{org.org_id}/claims", json={"claims": batch}, headers=org.header())
    assert r.status_code == 422
    assert fields(r) == ["claims.2.id"]
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM claims").fetchone() == (0,)


ACTIVITY = {"id": "a-1", "date": "2025-03-05", "activity_type": "kurs", "participants": 4,
            "municipality": "0301", "description": "Kurs", "duration_minutes": 120}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_anywhere_are_refused(
    client: TestClient, org: Tokens, number: str
) -> None:
    body = ('{"activities": [{"id": "a-1", "date": "2025-03-05", "activity_type": "kurs", '
            '"participants": 4, "municipality": "0301", "description": "Kurs", '
            '"extra": {"hours": ' + number + "}}]}")
    r = client.put(f"/v1/orgs/{org.org_id}/activities", content=body,
                   headers={**org.header(), "content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert fields(r) == ["activities.0.extra.hours"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"approved_at": "0001-01-01T00:00:00+14:00"}, "approved_at"),
        ({"approved_at": "9999-12-31T23:59:59-14:00"}, "approved_at"),
        ({"approved_at": "1899-12-31T23:00:00-02:00"}, None),  # 1900-01-01 in UTC: accepted
        ({"expense_date": "0001-01-01"}, "expense_date"),
        ({"expense_date": "2201-01-01"}, "expense_date"),
    ],
)
def test_dates_outside_1900_to_2200_in_utc_are_refused(
    client: TestClient, org: Tokens, change: dict[str, str], field: str | None
) -> None:
    batch = [{**claim_json("2025-01-10"), **change}]
    r = client.put(f"/v1/orgs/{org.org_id}/claims", json={"claims": batch}, headers=org.header())
    if field is None:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 422, r.text
        assert fields(r) == [f"claims.0.{field}"]


def test_periods_and_as_of_outside_the_range_are_refused(client: TestClient, org: Tokens) -> None:
    r = client.post(f"/v1/orgs/{org.org_id}/export-runs", headers=org.header(),
                    json={"period_start": "0001-01-01", "period_end": "2025-01-31",
                          "target": "xledger"})
    assert r.status_code == 422 and fields(r) == ["period_start"]
    r = client.get(f"/v1/orgs/{org.org_id}/export-runs/{org.org_id}",
                   params={"as_of": "0001-01-01T00:00:00+14:00"}, headers=org.header())
    assert r.status_code == 422 and fields(r) == ["as_of"]


@pytest.mark.parametrize("name", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", ["9999999999", "soon", None, [1], True])
def test_token_times_that_are_not_numbers_are_401(
    client: TestClient, org: Tokens, name: str, value: Any
) -> None:
    now = int(time.time())
    claims = {"sub": "u", "org_id": str(org.org_id), "role": "coordinator", "iat": now - 10,
              "nbf": now - 10, "exp": now + 600, name: value}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    r = client.get(f"/v1/orgs/{org.org_id}/export-runs", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_non_finite_token_time_is_401(client: TestClient, org: Tokens) -> None:
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    payload = '{"sub":"u","org_id":"' + str(org.org_id) + '","role":"coordinator","exp":Infinity}'
    signing = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(payload.encode())
    signature = b64(hmac.new(SECRET.encode(), signing, hashlib.sha256).digest())
    token = (signing + b"." + signature).decode()
    r = client.get(f"/v1/orgs/{org.org_id}/export-runs", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("company_code",), "=cmd|' /C calc'!A0"),
        (("voucher_type",), "@SUM(1)"),
        (("company_code",), "NHF\x00"),
        (("categories", "reise", "tax_code"), "+1"),
        (("categories", "reise", "dimension"), "-2"),
        (("categories", "reise", "tax_code"), "1\x07"),
    ],
)
def test_settings_codes_refuse_control_characters_and_formula_starts(
    client: TestClient, org: Tokens, path: tuple[str, ...], value: str
) -> None:
    settings = demo_settings(ORGS[0])
    target = settings
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    r = client.put(f"/v1/orgs/{org.org_id}/accounting-settings", json=settings,
                   headers=org.header(Role.ADMIN))
    assert r.status_code == 422, r.text
    assert ".".join(path) in fields(r)


@pytest.mark.parametrize("date_format", ["=%d.%m.%Y", "%d.%m.%Y\x00"])
def test_bufdir_date_formats_refuse_control_characters_and_formula_starts(
    client: TestClient, org: Tokens, date_format: str
) -> None:
    url = f"/v1/orgs/{org.org_id}/bufdir-config"
    current = client.get(url, headers=org.header(Role.ADMIN))
    assert current.status_code == 200, current.text
    document = current.json()
    document.pop("version")
    ok = client.put(url, json=document, headers=org.header(Role.ADMIN))
    assert ok.status_code == 200, ok.text  # the document as it is is accepted
    column = next(c for c in document["columns"] if c.get("date_format"))
    column["date_format"] = date_format
    r = client.put(url, json=document, headers=org.header(Role.ADMIN))
    assert r.status_code == 422, r.text
