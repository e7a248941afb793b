"""The analysts' role reads the analytics views and nothing else."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date
from uuid import uuid4

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from bootstrap import Services
from domain.export_run import ExportTarget
from domain.shared import Actor, Period
from infrastructure.analytics import create_analytics_role, drop_analytics_role

FORBIDDEN = [
    "SELECT * FROM public.claims",
    "SELECT * FROM public.export_service_events",
    "SELECT * FROM public.audit_chain",
    "INSERT INTO public.claims (org_id, id, claimant_id, expense_date, approved_at, category, "
    "amount, currency, description) VALUES (gen_random_uuid(), gen_random_uuid(), 'x', "
    "'2024-01-01', now(), 'reise', 1, 'NOK', 'x')",
    "UPDATE public.export_runs SET status = 'failed'",
    "DELETE FROM public.claim_reservations",
    "DELETE FROM analytics.export_runs",
    "UPDATE analytics.export_runs SET status = 'failed'",
    "CREATE TABLE analytics.mine (x int)",
    "CREATE TABLE public.mine (x int)",
]


@pytest.fixture
def role(db_url: str) -> Iterator[tuple[str, str]]:
    name, password = f"analytics_test_{uuid4().hex[:10]}", secrets.token_urlsafe(16)
    try:
        yield name, password
    finally:
        drop_analytics_role(db_url, name)


def seed(services: Services, db_url: str) -> None:
    """One export run and a claim reserved by it, marked completed in the read model."""
    org_id = uuid4()
    run_id = services.export_runs.request_export(
        org_id, Period(date(2024, 5, 1), date(2024, 5, 31)), ExportTarget.XLEDGER,
        Actor("analyst-test", org_id, "corr"),
    )
    claim_id = uuid4()
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO export_runs (run_id, org_id, period_start, period_end, target, status, "
            "created_at, version) VALUES (%s, %s, '2024-05-01', '2024-05-31', 'xledger', "
            "'completed', now(), 3)",
            (run_id, org_id),
        )
        conn.execute(
            "INSERT INTO claims (org_id, id, claimant_id, expense_date, approved_at, category, "
            "amount, currency, description) VALUES (%s, %s, 'frivillig-1', '2024-05-02', "
            "'2024-05-03T10:00:00+02:00', 'reise', 120.50, 'NOK', 'Tog')",
            (org_id, claim_id),
        )
        conn.execute(
            "INSERT INTO claim_reservations (org_id, claim_id, run_id) VALUES (%s, %s, %s)",
            (org_id, claim_id, run_id),
        )


def test_role_reads_views_only(
    services: Services, db_url: str, role: tuple[str, str]
) -> None:
    name, password = role
    seed(services, db_url)
    assert create_analytics_role(db_url, name, password) == name
    assert create_analytics_role(db_url, name, password) == name  # idempotent
    with psycopg.connect(make_conninfo(db_url, user=name, password=password),
                         autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (name,)
        assert conn.execute("SELECT count(*) FROM analytics.export_runs").fetchone() == (1,)
        row = conn.execute(
            "SELECT category, amount::text, currency FROM claims_exported"
        ).fetchone()
        assert row == ("reise", "120.50", "NOK")
        for statement in FORBIDDEN:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_role_without_password_cannot_log_in(db_url: str, role: tuple[str, str]) -> None:
    name, _ = role
    create_analytics_role(db_url, name)
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
            "WHERE rolname = %s",
            (name,),
        ).fetchone()
    assert row == (False, False, False, False)


def test_views_added_later_are_readable(
    db_url: str, role: tuple[str, str]
) -> None:
    name, password = role
    create_analytics_role(db_url, name, password)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE VIEW analytics.later AS SELECT 1 AS one")
    with psycopg.connect(make_conninfo(db_url, user=name, password=password)) as conn:
        assert conn.execute("SELECT one FROM analytics.later").fetchone() == (1,)


def test_bad_role_name_is_refused(db_url: str) -> None:
    with pytest.raises(ValueError, match="role name"):
        create_analytics_role(db_url, 'x"; DROP TABLE claims; --')


def test_cli_creates_the_role(db_url: str, role: tuple[str, str]) -> None:
    from typer.testing import CliRunner

    from interfaces.cli import app as cli

    name, password = role
    out = CliRunner().invoke(
        cli, ["analytics-role", "--role", name],
        env={"DATABASE_URL": db_url, "EXPORT_SERVICE_ANALYTICS_PASSWORD": password},
    )
    assert out.exit_code == 0, out.output
    with psycopg.connect(make_conninfo(db_url, user=name, password=password)) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.export_runs").fetchone() == (0,)
