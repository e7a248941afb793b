"""Storing a delivery connection: checked when saved, credentials write-only and encrypted,
hosts limited to the allow-list (refused before anything is contacted)."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from bootstrap import Services
from infrastructure.settings import Settings
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens
from tests.integration.delivery_helpers import (
    bc,  # noqa: F401 - fixture
    bc_connection,
    delivery_settings,
    xl,  # noqa: F401 - fixture
    xl_connection,
)
from tests.standins.business_central import BusinessCentral
from tests.standins.xledger import Xledger


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return delivery_settings(tmp_path)


def everything_stored(db_url: str) -> bytes:
    """Every table the service writes, as text: events, connections, their history, jobs."""
    with psycopg.connect(db_url) as conn:
        rows = [
            *conn.execute("SELECT state FROM export_service_events"),
            *conn.execute("SELECT settings::text, credentials FROM delivery_connections"),
            *conn.execute("SELECT settings::text FROM delivery_connection_changes"),
            *conn.execute("SELECT args::text FROM procrastinate_jobs"),
        ]
    return b"".join(bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
                    for row in rows for v in row)


def test_bc_connection_is_checked_stored_encrypted_and_shown_without_secrets(
    client, org: Tokens, bc: tuple[BusinessCentral, str], db_url: str, caplog  # noqa: F811
) -> None:
    standin, url = bc
    answer = client.put(f"/v1/orgs/{org.org_id}/delivery/dynamics",
                        json=bc_connection(standin, url), headers=org.header(Role.ADMIN))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["credentials_set"] is True and body["journal"] == "UTLEGG"
    assert body["health"]["ok"] is True
    assert standin.requests["token"] == 1 and standin.requests["journals"] == 1
    assert standin.client_secret not in answer.text and "credentials" not in body
    shown = client.get(f"/v1/orgs/{org.org_id}/delivery/dynamics", headers=org.header(Role.AUDITOR))
    assert shown.status_code == 200 and standin.client_secret not in shown.text
    stored = everything_stored(db_url)
    assert standin.client_secret.encode() not in stored and b"client_secret" not in stored
    assert standin.client_secret not in caplog.text


def test_xledger_connection_keeps_stored_credentials_when_omitted(
    client, org: Tokens, xl: tuple[Xledger, str], db_url: str  # noqa: F811
) -> None:
    standin, url = xl
    admin = org.header(Role.ADMIN)
    assert client.put(f"/v1/orgs/{org.org_id}/delivery/xledger", json=xl_connection(standin, url),
                      headers=admin).status_code == 200
    again = xl_connection(standin, url, enabled=False)
    del again["credentials"]
    answer = client.put(f"/v1/orgs/{org.org_id}/delivery/xledger", json=again, headers=admin)
    assert answer.status_code == 200 and answer.json()["enabled"] is False
    assert answer.json()["credentials_set"] is True
    assert standin.api_token.encode() not in everything_stored(db_url)


def test_refused_credentials_are_422_naming_credentials_and_nothing_is_stored(
    client, org: Tokens, bc: tuple[BusinessCentral, str]  # noqa: F811
) -> None:
    standin, url = bc
    body = bc_connection(standin, url)
    body["credentials"]["client_secret"] = "wrong-secret-value"
    answer = client.put(f"/v1/orgs/{org.org_id}/delivery/dynamics", json=body,
                        headers=org.header(Role.ADMIN))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "credentials"
    assert "wrong-secret-value" not in answer.text
    assert client.get(f"/v1/orgs/{org.org_id}/delivery/dynamics",
                      headers=org.header(Role.ADMIN)).status_code == 404


def test_unknown_journal_is_422_naming_journal(
    client, org: Tokens, bc: tuple[BusinessCentral, str]  # noqa: F811
) -> None:
    standin, url = bc
    answer = client.put(f"/v1/orgs/{org.org_id}/delivery/dynamics",
                        json=bc_connection(standin, url, journal="FINNESIKKE"),
                        headers=org.header(Role.ADMIN))
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "journal"


@pytest.mark.parametrize(("field", "value"), [
    ("endpoint", "https://169.254.169.254/latest"),
    ("endpoint", "http://internal.example.org"),
    ("token_url", "https://evil.example.com/token"),
    ("endpoint", "https://user:pw@127.0.0.1:1/x"),
])
def test_hosts_outside_the_allow_list_are_refused_before_any_request(
    client, org: Tokens, bc: tuple[BusinessCentral, str], field: str, value: str  # noqa: F811
) -> None:
    standin, url = bc
    answer = client.put(f"/v1/orgs/{org.org_id}/delivery/dynamics",
                        json=bc_connection(standin, url, **{field: value}),
                        headers=org.header(Role.ADMIN))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == field
    assert standin.total_requests == 0


def test_only_admins_store_and_others_cannot_read_another_orgs(
    client, org: Tokens, xl: tuple[Xledger, str]  # noqa: F811
) -> None:
    standin, url = xl
    path = f"/v1/orgs/{org.org_id}/delivery/xledger"
    assert client.put(path, json=xl_connection(standin, url),
                      headers=org.header(Role.COORDINATOR)).status_code == 403
    assert client.get(path, headers=org.header(Role.ANALYST)).status_code == 403
    assert client.put(path, json=xl_connection(standin, url),
                      headers=org.header(Role.ADMIN)).status_code == 200
    other = Tokens(uuid4())
    assert client.get(path, headers=other.header(Role.ADMIN)).status_code == 403


def test_the_health_check_runs_at_most_every_15_minutes(
    services: Services, client, org: Tokens, xl: tuple[Xledger, str]  # noqa: F811
) -> None:
    standin, url = xl
    assert client.put(f"/v1/orgs/{org.org_id}/delivery/xledger", json=xl_connection(standin, url),
                      headers=org.header(Role.ADMIN)).status_code == 200
    before = standin.total_requests
    assert services.app.delivery.check_due() == 0  # checked when saved: next one in 15 minutes
    assert standin.total_requests == before
    with psycopg.connect(services.database_url) as conn:
        conn.execute("UPDATE delivery_connections SET next_check_at = now() - interval '1 s'")
    standin.revoke()
    assert services.app.delivery.check_due() == 1
    assert services.app.delivery.check_due() == 0  # failed: backed off, not checked again now
    shown = client.get(f"/v1/orgs/{org.org_id}/delivery/xledger", headers=org.header(Role.ADMIN))
    assert shown.json()["health"]["ok"] is False
    assert "CredentialsRefused" in shown.json()["health"]["message"]
    assert standin.total_requests == before + 1


def test_overlapping_health_jobs_never_check_one_connection_twice(services: Services) -> None:
    """Two health jobs at once (a slow one and the next minute's) claim disjoint connections."""
    import threading
    from datetime import UTC, datetime

    with psycopg.connect(services.database_url, autocommit=True) as conn:
        for _ in range(40):
            conn.execute("INSERT INTO delivery_connections (org_id, target, settings, credentials, "
                         "configured_by) VALUES (%s, 'xledger', '{\"enabled\": true}', "
                         "'\\x00'::bytea, 'test')", (uuid4(),))
    now = datetime.now(UTC)
    claimed: list[list[tuple[object, str]]] = [[], []]
    start = threading.Barrier(2)

    def claim(slot: int) -> None:
        start.wait()
        for _ in range(3):
            claimed[slot].extend(services.delivery_connections.due_for_health(now))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = claimed[0] + claimed[1]
    assert len(everything) == 40 and len(set(everything)) == 40
    assert services.delivery_connections.due_for_health(now) == []


def test_connection_health_is_in_metrics_without_organisation_ids(
    services: Services, client, org: Tokens, xl: tuple[Xledger, str]  # noqa: F811
) -> None:
    standin, url = xl
    assert client.put(f"/v1/orgs/{org.org_id}/delivery/xledger", json=xl_connection(standin, url),
                      headers=org.header(Role.ADMIN)).status_code == 200
    text = client.get("/metrics").text
    assert 'export_service_delivery_connections{health="ok",target="xledger"} 1.0' in text
    with psycopg.connect(services.database_url) as conn:
        conn.execute("UPDATE delivery_connections SET next_check_at = now() - interval '1 s'")
    standin.revoke()
    assert services.app.delivery.check_due() == 1
    text = client.get("/metrics").text
    assert 'export_service_delivery_connections{health="failing",target="xledger"} 1.0' in text
    assert 'health="ok"' not in text
    assert str(org.org_id) not in text and standin.api_token not in text
