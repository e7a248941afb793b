"""The audit hash chain catches altered, removed and slipped-in event rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bootstrap import Services
from domain.export_run import ExportTarget, RunAlreadyExists
from domain.shared import Actor, Period
from infrastructure.audit import head, verify_all, verify_chain
from infrastructure.projections.audit_chain import chain_link, genesis
from infrastructure.projections.runner import rebuild
from interfaces.cli import app as cli
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens

EVENTS = "export_service_events"


def request_runs(services: Services, org_id: UUID, months: int = 3, first: int = 1) -> list[UUID]:
    actor = Actor("auditor-test", org_id, "corr-1")
    return [
        services.export_runs.request_export(
            org_id, Period(date(2024, m, 1), date(2024, m, 28)), ExportTarget.XLEDGER, actor
        )
        for m in range(first, first + months)
    ]


def catch_up(services: Services) -> None:
    rebuild(services.env, "audit_chain", timeout=30)


def rows_of(db_url: str, org_id: UUID) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            f"SELECT notification_id, originator_id, originator_version FROM {EVENTS} "
            "WHERE convert_from(state, 'UTF8')::jsonb #>> '{actor,org_id}' = %s "
            "ORDER BY notification_id",
            (str(org_id),),
        ).fetchall()


def verify(db_url: str, org_id: UUID) -> Any:
    with psycopg.connect(db_url) as conn:
        return verify_chain(conn, org_id)


def cli_verify(db_url: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["verify", *args], env={"DATABASE_URL": db_url})


@pytest.fixture
def two_orgs(services: Services) -> Iterator[tuple[UUID, UUID]]:
    a, b = uuid4(), uuid4()
    request_runs(services, a)
    request_runs(services, b, months=2)
    request_runs(services, a, months=0)
    catch_up(services)
    yield a, b


def test_untouched_log_verifies_and_links_recompute(
    services: Services, db_url: str, two_orgs: tuple[UUID, UUID]
) -> None:
    a, b = two_orgs
    result = verify(db_url, a)
    assert result.ok and result.events_verified == 3
    with psycopg.connect(db_url) as conn:
        assert head(conn, a) == (3, result.head)
        assert head(conn, uuid4())[0] == 0
        prev = genesis(a)
        for nid, oid, version, topic, state in conn.execute(
            f"SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state "
            f"FROM {EVENTS} e JOIN audit_chain c USING (notification_id) "
            "WHERE c.org_id = %s ORDER BY c.seq",
            (a,),
        ):
            prev = chain_link(prev, nid, oid, version, topic, state)
        assert prev == result.head
        assert [r.ok for r in verify_all(conn)] == [True, True]
    out = cli_verify(db_url)
    assert out.exit_code == 0, out.output
    assert out.output.count("ok: ") == 2
    assert f"ok: 2 events verified, head {verify(db_url, b).head}" in out.output


def test_chain_is_append_only_and_rebuild_only_catches_up(
    services: Services, db_url: str, two_orgs: tuple[UUID, UUID]
) -> None:
    a, _ = two_orgs
    before = verify(db_url, a).head
    with psycopg.connect(db_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE audit_chain SET link = 'x'")
    with pytest.raises(RunAlreadyExists):  # 2024-01 overlaps: refused, nothing appended
        request_runs(services, a, months=1)
    catch_up(services)
    after = verify(db_url, a)
    assert after.ok and after.events_verified == 3 and after.head == before


def test_altered_event_is_found(
    services: Services, db_url: str, two_orgs: tuple[UUID, UUID]
) -> None:
    a, b = two_orgs
    nid, oid, version = rows_of(db_url, a)[1]
    with psycopg.connect(db_url) as conn:
        conn.execute(
            f"UPDATE {EVENTS} SET state = convert_to(replace(convert_from(state, 'UTF8'), "
            "'2024-02-28', '2024-02-29'), 'UTF8') WHERE notification_id = %s",
            (nid,),
        )
    bad = verify(db_url, a)
    assert not bad.ok
    assert bad.first_bad_event.as_dict() == {
        "notification_id": nid, "originator_id": str(oid), "originator_version": version,
        "problem": "altered",
    }
    assert verify(db_url, b).ok
    out = cli_verify(db_url, "--org", str(a))
    assert out.exit_code == 1
    assert f"event {nid}" in out.output and "altered" in out.output
    assert cli_verify(db_url, "--org", str(b)).exit_code == 0
    assert cli_verify(db_url).exit_code == 1


def test_removed_event_is_found(
    services: Services, db_url: str, two_orgs: tuple[UUID, UUID]
) -> None:
    a, _ = two_orgs
    nid, oid, _version = rows_of(db_url, a)[2]
    with psycopg.connect(db_url) as conn:
        conn.execute(f"DELETE FROM {EVENTS} WHERE notification_id = %s", (nid,))
    bad = verify(db_url, a).first_bad_event
    assert (bad.notification_id, bad.originator_id, bad.problem) == (nid, oid, "removed")
    out = cli_verify(db_url, "--org", str(a))
    assert out.exit_code == 1 and "removed" in out.output


def test_inserted_event_is_found(
    services: Services, db_url: str, two_orgs: tuple[UUID, UUID]
) -> None:
    a, _ = two_orgs
    with psycopg.connect(db_url) as conn:
        # Leave a gap of notification ids, then chain later events beyond it.
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{EVENTS}', 'notification_id'), "
            f"(SELECT max(notification_id) FROM {EVENTS}) + 10)"
        )
    request_runs(services, a, months=2, first=4)
    catch_up(services)
    assert verify(db_url, a).ok
    first_nid = rows_of(db_url, a)[0][0]
    with psycopg.connect(db_url) as conn:
        gap = conn.execute(f"SELECT max(notification_id) - 5 FROM {EVENTS}").fetchone()
        assert gap is not None
        forged = uuid4()
        conn.execute(
            f"INSERT INTO {EVENTS} (originator_id, originator_version, topic, state, "
            "notification_id) SELECT %s, originator_version, topic, state, %s "
            f"FROM {EVENTS} WHERE notification_id = %s",
            (forged, gap[0], first_nid),
        )
    bad = verify(db_url, a).first_bad_event
    assert (bad.notification_id, bad.originator_id, bad.problem) == (gap[0], forged, "inserted")
    assert cli_verify(db_url, "--org", str(a)).exit_code == 1


def test_verify_endpoint(
    services: Services, db_url: str, org: Tokens, audit_client: TestClient
) -> None:
    request_runs(services, org.org_id, months=2)
    catch_up(services)
    url = f"/v1/orgs/{org.org_id}/audit/verify"
    assert audit_client.get(url, headers=org.header(Role.COORDINATOR)).status_code == 403
    assert audit_client.get(url, headers=org.header(Role.AUDITOR, org_id=uuid4())).status_code == 403
    answer = audit_client.get(url, headers=org.header(Role.AUDITOR)).json()
    assert answer["ok"] is True and answer["events_verified"] == 2 and len(answer["head"]) == 64
    nid = rows_of(db_url, org.org_id)[0][0]
    with psycopg.connect(db_url) as conn:
        conn.execute(f"DELETE FROM {EVENTS} WHERE notification_id = %s", (nid,))
    answer = audit_client.get(url, headers=org.header(Role.ADMIN)).json()
    assert answer["ok"] is False
    assert answer["first_bad_event"]["notification_id"] == nid
    assert answer["first_bad_event"]["problem"] == "removed"


@pytest.fixture
def audit_client(services: Services) -> Iterator[TestClient]:
    from interfaces.http.routers.audit import router
    from interfaces.server import build_app

    services.extras.setdefault("routers", []).append(router)
    with TestClient(build_app(services, background=False), raise_server_exceptions=False) as c:
        yield c
