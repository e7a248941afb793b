"""Analysts' roles: one organisation each, all organisations only when asked, listed, revoked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from infrastructure.analytics import (
    AnalyticsRoleError,
    create_analytics_role,
    list_analytics_roles,
    revoke_analytics_role,
)
from interfaces.cli import app as cli
from tests.integration.analytics_helpers import Analysts, analysts, seed_org

__all__ = ["analysts"]

VIEWS = ["export_runs", "claims_exported", "sync_run_log", "bufdir_exports"]

FORBIDDEN = [
    "SELECT * FROM public.claims",
    "SELECT * FROM public.export_service_events",
    "SELECT * FROM public.audit_chain",
    "INSERT INTO public.claims (org_id, id, claimant_id, expense_date, approved_at, category, "
    "amount, currency, description) VALUES (gen_random_uuid(), gen_random_uuid(), 'x', "
    "'2024-01-01', now(), 'reise', 1, 'NOK', 'x')",
    "UPDATE public.export_runs SET status = 'failed'",
    "DELETE FROM public.claim_reservations",
    "CREATE TABLE analytics.mine (x int)",
    "CREATE TABLE public.mine (x int)",
]


def orgs_seen(analysts: Analysts, role: str) -> dict[str, dict[UUID, int]]:
    with analysts.connect(role) as conn:
        return {v: {r[0]: r[1] for r in conn.execute(
            sql.SQL("SELECT org_id, count(*) FROM analytics.{} GROUP BY 1").format(
                sql.Identifier(v)))} for v in VIEWS}


def test_org_role_reads_its_organisation_only(db_url: str, analysts: Analysts) -> None:
    hlf, nhf = uuid4(), uuid4()
    seed_org(db_url, hlf, runs=2)
    seed_org(db_url, nhf, runs=3)
    role = analysts.login(org_id=hlf)
    again = create_analytics_role(db_url, role, org_id=hlf)  # idempotent
    assert (again.org_id, again.all_organisations, again.can_login) == (hlf, False, True)
    assert orgs_seen(analysts, role) == {
        "export_runs": {hlf: 2}, "claims_exported": {hlf: 2},
        "sync_run_log": {hlf: 2}, "bufdir_exports": {hlf: 1},
    }
    with analysts.connect(role, autocommit=True) as conn:
        assert conn.execute("SELECT category, amount::text FROM claims_exported "
                            "ORDER BY 1").fetchall() == [("hotell", "120.50"), ("reise", "120.50")]
        for statement in FORBIDDEN:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        for statement in ["DELETE FROM analytics.export_runs",
                          "UPDATE analytics.export_runs SET status = 'failed'"]:
            with pytest.raises((psycopg.errors.InsufficientPrivilege,
                                psycopg.errors.ObjectNotInPrerequisiteState)):
                conn.execute(statement)


def test_updating_moves_the_role_to_the_new_organisation(db_url: str, analysts: Analysts) -> None:
    first, second = uuid4(), uuid4()
    seed_org(db_url, first)
    seed_org(db_url, second)
    role = analysts.login(org_id=first)
    create_analytics_role(db_url, role, org_id=second)
    assert set(orgs_seen(analysts, role)["export_runs"]) == {second}


def test_all_organisations_only_when_asked_and_logged(
    db_url: str, analysts: Analysts, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = uuid4(), uuid4()
    seed_org(db_url, a)
    seed_org(db_url, b)
    with pytest.raises(AnalyticsRoleError, match="--org UUID or --all-organisations"):
        create_analytics_role(db_url, analysts.name())
    with pytest.raises(AnalyticsRoleError, match="--org UUID or --all-organisations"):
        create_analytics_role(db_url, analysts.name(), org_id=a, all_organisations=True)
    with caplog.at_level(logging.INFO, logger="infrastructure.analytics"):
        role = analysts.login(all_organisations=True)
    assert any(r.levelno == logging.WARNING and role in r.getMessage()
               and "ALL organisations" in r.getMessage() for r in caplog.records)
    assert set(orgs_seen(analysts, role)["claims_exported"]) == {a, b}
    # Each read is written to the server log (LOG level; shown to this client on request).
    logged: list[str] = []
    with analysts.connect(role) as conn:
        conn.add_notice_handler(lambda d: logged.append(d.message_primary or ""))
        conn.execute("SET client_min_messages = log")
        conn.execute("SELECT count(*) FROM analytics.export_runs").fetchone()
    assert logged == [
        f"analytics: role {role} read analytics_access.export_runs of all organisations"
    ]


def test_an_org_role_read_is_not_logged_as_all_organisations(
    db_url: str, analysts: Analysts
) -> None:
    role = analysts.login(org_id=uuid4())
    logged: list[str] = []
    with analysts.connect(role) as conn:
        conn.add_notice_handler(lambda d: logged.append(d.message_primary or ""))
        conn.execute("SET client_min_messages = log")
        conn.execute("SELECT count(*) FROM analytics.export_runs").fetchone()
    assert logged == []


def test_list_and_revoke(db_url: str, analysts: Analysts) -> None:
    org = uuid4()
    seed_org(db_url, org)
    mine, operator = analysts.login(org_id=org), analysts.login(all_organisations=True)
    unmapped = analysts.name()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(unmapped)))
        conn.execute(sql.SQL("GRANT SELECT ON analytics.export_runs TO {}").format(
            sql.Identifier(unmapped)))
    scopes = {a.role: a.scope for a in list_analytics_roles(db_url)}
    assert scopes == {mine: f"organisation {org}", operator: "ALL organisations",
                      unmapped: "no organisation: sees no row"}

    open_session = analysts.connect(mine, autocommit=True)
    try:
        assert open_session.execute("SELECT count(*) FROM export_runs").fetchone() == (1,)
        assert "dropped" in revoke_analytics_role(db_url, mine)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            open_session.execute("SELECT count(*) FROM analytics.export_runs")
    finally:
        open_session.close()
    assert mine not in {a.role for a in list_analytics_roles(db_url)}
    assert revoke_analytics_role(db_url, mine) == f"role {mine}: no such role"


def test_revoking_a_role_it_did_not_create_keeps_the_role(db_url: str, analysts: Analysts) -> None:
    person = analysts.name()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(person), sql.Literal(analysts.password)))
    create_analytics_role(db_url, person, org_id=uuid4())
    assert "role kept" in revoke_analytics_role(db_url, person)
    with analysts.connect(person) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM analytics.export_runs")


def test_a_role_dropped_and_made_again_under_its_name_sees_nothing(
    db_url: str, analysts: Analysts
) -> None:
    org = uuid4()
    seed_org(db_url, org)
    role = analysts.login(org_id=org)
    with psycopg.connect(db_url, autocommit=True) as conn:
        ident = sql.Identifier(role)
        conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
        conn.execute(sql.SQL("DROP ROLE {}").format(ident))  # behind the command's back
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            ident, sql.Literal(analysts.password)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA analytics TO {}").format(ident))
        conn.execute(sql.SQL("GRANT SELECT ON analytics.export_runs TO {}").format(ident))
        conn.execute(sql.SQL(
            "GRANT EXECUTE ON FUNCTION analytics_access.rows_of(anyelement) TO {}").format(ident))
    with analysts.connect(role) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.export_runs").fetchone() == (0,)
    stale = [a for a in list_analytics_roles(db_url) if a.role == role and a.org_id == org]
    assert stale and not stale[0].exists


def test_roles_that_read_the_tables_anyway_are_refused(db_url: str, analysts: Analysts) -> None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT current_user").fetchone()
    assert row is not None
    with pytest.raises(AnalyticsRoleError, match="superuser"):
        create_analytics_role(db_url, str(row[0]), org_id=uuid4())
    reader = analysts.name()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(reader)))
        conn.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(reader)))
    with pytest.raises(AnalyticsRoleError, match="can read the service's tables directly"):
        create_analytics_role(db_url, reader, org_id=uuid4())
    assert reader not in {a.role for a in list_analytics_roles(db_url)}


def test_role_without_password_cannot_log_in(db_url: str, analysts: Analysts) -> None:
    role = analysts.name()
    create_analytics_role(db_url, role, org_id=uuid4())
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls "
            "FROM pg_roles WHERE rolname = %s", (role,),
        ).fetchone()
    assert row == (False, False, False, False, False)


def test_bad_role_name_is_refused(db_url: str) -> None:
    with pytest.raises(AnalyticsRoleError, match="role name"):
        create_analytics_role(db_url, 'x"; DROP TABLE claims; --', org_id=uuid4())


def test_cli_creates_lists_and_revokes(db_url: str, analysts: Analysts) -> None:
    org = uuid4()
    seed_org(db_url, org)
    role, env = analysts.name(), {"DATABASE_URL": db_url,
                                  "EXPORT_SERVICE_ANALYTICS_PASSWORD": analysts.password}
    refused = CliRunner().invoke(cli, ["analytics-role", "--role", role], env=env)
    assert refused.exit_code == 2
    assert "--org UUID or --all-organisations" in refused.output
    out = CliRunner().invoke(cli, ["analytics-role", "--org", str(org), "--role", role], env=env)
    assert out.exit_code == 0, out.output
    assert f"organisation {org}" in out.output
    with analysts.connect(role) as conn:
        assert conn.execute("SELECT count(*), min(org_id::text) FROM analytics.export_runs"
                            ).fetchone() == (1, str(org))
    listed = CliRunner().invoke(cli, ["analytics-role", "--list"], env=env)
    assert f"{role}\torganisation {org}\tlogin" in listed.output
    revoked = CliRunner().invoke(cli, ["analytics-role", "--revoke", role], env=env)
    assert revoked.exit_code == 0 and "dropped" in revoked.output
    assert role not in CliRunner().invoke(cli, ["analytics-role", "--list"], env=env).output


def scram_matches(verifier: str, password: str) -> bool:
    """RFC 5802/7677: the StoredKey in PostgreSQL's verifier is derived from this password."""
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key = keys.split(":")[0]
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt),
                                 int(iterations))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return method == "SCRAM-SHA-256" and hashlib.sha256(client_key).digest() == base64.b64decode(
        stored_key)


def test_the_password_is_stored_as_a_scram_verifier(db_url: str, analysts: Analysts) -> None:
    role = analysts.login(org_id=uuid4())
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                           (role,)).fetchone()
    assert row is not None
    assert scram_matches(row[0], analysts.password)
    assert not scram_matches(row[0], analysts.password + "x")
