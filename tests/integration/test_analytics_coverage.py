"""Every view in schema analytics obeys the organisation filter, the four of today and any later."""

from __future__ import annotations

from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from tests.integration.analytics_helpers import Analysts, analysts, analytics_views, seed_org

__all__ = ["analysts"]

PUBLISHED = {"analytics.export_runs", "analytics.claims_exported", "analytics.sync_run_log",
             "analytics.bufdir_exports"}


def uncovered(db_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(db_url) as conn:
        return [(r[0], r[1]) for r in
                conn.execute("SELECT * FROM analytics_access.uncovered_views()")]


def test_every_view_the_migrations_make_is_covered(db_url: str) -> None:
    """Fails when a migration adds a view to schema analytics without the filter."""
    assert set(analytics_views(db_url)) >= PUBLISHED
    assert uncovered(db_url) == []


def test_every_view_shows_an_organisation_its_own_rows_only(
    db_url: str, analysts: Analysts
) -> None:
    """Walks the views the database has (not a list of ours): a new view needs seed rows."""
    mine, other = uuid4(), uuid4()
    seed_org(db_url, mine, runs=2)
    seed_org(db_url, other, runs=3)
    mapped, operator = analysts.login(org_id=mine), analysts.login(all_organisations=True)
    for view in analytics_views(db_url):
        query = sql.SQL("SELECT org_id, count(*) FROM {} GROUP BY 1").format(
            sql.SQL(view))  # quoted by format('%I.%I') in analytics_views
        with analysts.connect(operator) as conn:
            everyone = dict(conn.execute(query).fetchall())
        assert set(everyone) == {mine, other}, (
            f"{view}: add rows for it to tests/integration/analytics_helpers.seed_org")
        with analysts.connect(mapped) as conn:
            assert dict(conn.execute(query).fetchall()) == {mine: everyone[mine]}, view


@pytest.mark.parametrize(("definition", "problem"), [
    ("SELECT org_id, run_id FROM public.export_runs", "not security_barrier"),
    ("SELECT * FROM analytics_access.export_runs", "reads more than analytics_access.rows_of"),
    ("SELECT r.* FROM analytics_access.rows_of(NULL::analytics_access.export_runs) r "
     "WHERE r.run_id IN (SELECT run_id FROM public.export_runs)",
     "reads more than analytics_access.rows_of"),
    ("SELECT run_id FROM analytics_access.rows_of(NULL::analytics_access.export_runs)",
     "no org_id uuid column"),
])
def test_an_uncovered_view_is_named_and_never_granted(
    db_url: str, analysts: Analysts, definition: str, problem: str
) -> None:
    org = uuid4()
    seed_org(db_url, org)
    seed_org(db_url, uuid4())
    role = analysts.login(org_id=org)
    barrier = "" if problem == "not security_barrier" else " WITH (security_barrier)"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"CREATE VIEW analytics.later{barrier} AS {definition}")
        conn.execute("CALL analytics_access.publish()")
    assert uncovered(db_url) == [("analytics.later", problem)]
    with analysts.connect(role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM analytics.later")


def test_a_table_in_analytics_is_uncovered(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE analytics.copied AS SELECT * FROM public.export_runs")
    assert uncovered(db_url) == [("analytics.copied", "not a view")]


def test_a_view_added_the_documented_way_is_published(db_url: str, analysts: Analysts) -> None:
    org, other = uuid4(), uuid4()
    seed_org(db_url, org)
    seed_org(db_url, other)
    role = analysts.login(org_id=org)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE VIEW analytics_access.claims_per_category AS SELECT org_id, "
                     "category, count(*) AS claims FROM public.claims GROUP BY 1, 2")
        conn.execute("CREATE VIEW analytics.claims_per_category WITH (security_barrier) AS "
                     "SELECT * FROM analytics_access.rows_of("
                     "NULL::analytics_access.claims_per_category)")
        conn.execute("CALL analytics_access.publish()")
    assert uncovered(db_url) == []
    with analysts.connect(role) as conn:
        assert conn.execute("SELECT org_id, claims FROM analytics.claims_per_category"
                            ).fetchall() == [(org, 1)]


def test_rows_of_reads_nothing_but_analytics_sources(db_url: str, analysts: Analysts) -> None:
    """Named as uncovered, and even when granted by hand the function refuses other tables."""
    role = analysts.login(org_id=uuid4())
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE VIEW analytics.sneaky WITH (security_barrier) AS "
                     "SELECT * FROM analytics_access.rows_of(NULL::public.claims)")
        conn.execute("CALL analytics_access.publish()")
        assert uncovered(db_url) == [("analytics.sneaky", "a source outside analytics_access")]
        conn.execute(sql.SQL("GRANT SELECT ON analytics.sneaky TO {}").format(
            sql.Identifier(role)))  # granted by hand all the same
    with analysts.connect(role) as conn, pytest.raises(psycopg.errors.RaiseException,
                                                       match="not an analytics source"):
        conn.execute("SELECT * FROM analytics.sneaky")
