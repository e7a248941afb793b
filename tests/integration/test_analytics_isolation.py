"""No way around the organisation filter: the tricks an analyst would try, against the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import sql

from tests.integration.analytics_helpers import Analysts, analysts, seed_org

__all__ = ["analysts"]


@dataclass
class Two:
    mine: UUID
    other: UUID
    role: str  # reads `mine`
    other_role: str  # reads `other`


@pytest.fixture
def two(db_url: str, analysts: Analysts) -> Iterator[Two]:
    mine, other = uuid4(), uuid4()
    seed_org(db_url, mine, runs=2)
    seed_org(db_url, other, runs=5)
    yield Two(mine, other, analysts.login(org_id=mine), analysts.login(org_id=other))


def seen(conn: psycopg.Connection[Any]) -> set[UUID]:
    rows = conn.execute(
        "SELECT org_id FROM analytics.export_runs UNION SELECT org_id FROM analytics.claims_exported"
        " UNION SELECT org_id FROM analytics.sync_run_log UNION SELECT org_id FROM"
        " analytics.bufdir_exports"
    ).fetchall()
    return {r[0] for r in rows}


def test_settings_and_roles_do_not_widen_the_view(
    db_url: str, analysts: Analysts, two: Two
) -> None:
    with analysts.connect(two.role, autocommit=True) as conn:
        for statement in [
            f"SET analytics.org_id = '{two.other}'",
            f"SET app.org_id = '{two.other}'",
            f"SELECT set_config('analytics.org', '{two.other}', false)",
            "SET search_path = pg_temp, public, analytics",
            "RESET ROLE",
            "RESET SESSION AUTHORIZATION",
        ]:
            conn.execute(statement)
            assert seen(conn) == {two.mine}, statement
        assert conn.execute("SELECT current_setting('analytics.org_id')").fetchone() == (
            str(two.other),)
        for refused in [f"SET ROLE {two.other_role}",
                        f"SET SESSION AUTHORIZATION {two.other_role}"]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(refused)
        assert seen(conn) == {two.mine}


def test_the_login_decides_not_the_current_role(db_url: str, analysts: Analysts, two: Two) -> None:
    # Even a member of the other organisation's role reads its own organisation after SET ROLE:
    # the filter keys on session_user, which only a superuser can change.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT {} TO {}").format(
            sql.Identifier(two.other_role), sql.Identifier(two.role)))
    with analysts.connect(two.role, autocommit=True) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(two.other_role)))
        assert conn.execute("SELECT current_user").fetchone() == (two.other_role,)
        assert seen(conn) == {two.mine}
    # A session that is not an analyst's login sees nothing through SET ROLE either.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(two.role)))
        assert seen(conn) == set()


def test_the_mapping_and_the_filter_are_out_of_reach(
    db_url: str, analysts: Analysts, two: Two
) -> None:
    with analysts.connect(two.role, autocommit=True) as conn:
        for statement in [
            "SELECT * FROM analytics_access.analysts",
            f"UPDATE analytics_access.analysts SET org_id = '{two.other}'",
            "INSERT INTO analytics_access.analysts (role_oid, role_name, all_organisations) "
            "SELECT oid, rolname, true FROM pg_roles WHERE rolname = current_user",
            "SELECT * FROM analytics_access.export_runs",
            "SELECT * FROM analytics_access.rows_of(NULL::analytics_access.export_runs)",
            "CALL analytics_access.publish()",
            "SELECT * FROM analytics_access.uncovered_views()",
            "CREATE VIEW analytics.mine AS SELECT 1 AS one",
            "ALTER VIEW analytics.export_runs RESET (security_barrier)",
            "CREATE OR REPLACE VIEW analytics.export_runs AS SELECT 1 AS one",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # Own objects in pg_temp shadow nothing: the views were bound to their objects when made.
        conn.execute("CREATE TEMP TABLE analysts (role_oid oid, org_id uuid)")
        conn.execute("CREATE FUNCTION pg_temp.rows_of(anyelement) RETURNS SETOF anyelement "
                     "LANGUAGE sql AS 'SELECT $1'")
        conn.execute("SET search_path = pg_temp, analytics")
        assert seen(conn) == {two.mine}


def test_leaky_functions_see_only_visible_rows(db_url: str, analysts: Analysts, two: Two) -> None:
    notices: list[str] = []
    with analysts.connect(two.role, autocommit=True) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        # Cheap (so a planner would like to run it first), noisy and failing on other rows.
        conn.execute(
            "CREATE FUNCTION pg_temp.peek(org uuid, what text) RETURNS boolean LANGUAGE plpgsql "
            f"COST 0.0000001 AS $$ BEGIN RAISE NOTICE 'saw % %', org, what; "
            f"IF org <> '{two.mine}' THEN RAISE EXCEPTION 'other organisation %', org; END IF; "
            "RETURN true; END $$"
        )
        for view, col in [("export_runs", "status"), ("claims_exported", "amount"),
                          ("sync_run_log", "status"), ("bufdir_exports", "status")]:
            conn.execute(sql.SQL("SELECT * FROM analytics.{} WHERE pg_temp.peek(org_id, {}::text)")
                         .format(sql.Identifier(view), sql.Identifier(col))).fetchall()
    assert notices and all(n.startswith(f"saw {two.mine} ") for n in notices)
    assert len(notices) == 2 + 2 + 2 + 1  # exactly the visible rows


def test_pg_stats_show_nothing_of_the_tables(db_url: str, analysts: Analysts, two: Two) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
        assert conn.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'export_runs'"
                            ).fetchone() != (0,)  # the owner has statistics; the analyst not
    with analysts.connect(two.role, autocommit=True) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_stats WHERE schemaname IN "
            "('public', 'analytics', 'analytics_access')").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_stats_ext").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM pg_statistic")


QUERIES = [
    "SELECT * FROM analytics.export_runs",
    "SELECT * FROM analytics.export_runs WHERE status = 'completed'",
    "SELECT * FROM analytics.claims_exported WHERE category = 'reise'",
    "SELECT org_id, count(*) FROM analytics.claims_exported GROUP BY 1",
    "SELECT * FROM analytics.sync_run_log WHERE org_id <> '00000000-0000-0000-0000-000000000000'",
    "SELECT * FROM analytics.bufdir_exports WHERE status = 'completed'",
]


def plans(analysts: Analysts, role: str, analyze: bool = False) -> list[Any]:
    options = "ANALYZE, COSTS, TIMING OFF, SUMMARY OFF, FORMAT JSON" if analyze else "FORMAT JSON"
    with analysts.connect(role, autocommit=True) as conn:
        out = []
        for q in QUERIES:
            row = conn.execute(f"EXPLAIN ({options}) {q}").fetchone()
            assert row is not None
            plan = row[0] if not isinstance(row[0], str) else json.loads(row[0])
            out.append(plan)
        return out


def estimates(plan: Any) -> list[tuple[str, float]]:
    """Each node's type and estimated rows, depth first."""
    node = plan[0]["Plan"] if isinstance(plan, list) else plan
    found = [(node["Node Type"], node["Plan Rows"])]
    for child in node.get("Plans", []):
        found += estimates(child)
    return found


def actual(plan: Any) -> list[float]:
    node = plan[0]["Plan"] if isinstance(plan, list) else plan
    return [node["Actual Rows"]] + [r for c in node.get("Plans", []) for r in actual(c)]


def test_explain_estimates_do_not_follow_other_organisations_data(
    db_url: str, analysts: Analysts, two: Two
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    before, before_run = plans(analysts, two.role), plans(analysts, two.role, analyze=True)
    assert all(t != "Seq Scan" and t != "Index Scan" for p in before for t, _ in estimates(p))
    seed_org(db_url, two.other, runs=300)  # much more of the other organisation, and statistics
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    assert [estimates(p) for p in plans(analysts, two.role)] == [estimates(p) for p in before]
    assert [actual(p) for p in plans(analysts, two.role, analyze=True)] == [
        actual(p) for p in before_run]
    # The other organisation's analyst sees its growth: the data did change.
    with analysts.connect(two.other_role) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.export_runs").fetchone() == (305,)
