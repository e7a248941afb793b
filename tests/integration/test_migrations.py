"""Migrations are versioned and idempotent, and /readyz waits for them."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from infrastructure.migrations import all_migrations, is_up_to_date, migrate

SCHEMA = """
SELECT table_name, column_name, data_type, is_nullable, column_default
FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), '', ''
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT tablename, indexname, indexdef, '', '' FROM pg_indexes WHERE schemaname = 'public'
ORDER BY 1, 2, 3
"""


def schema(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(SCHEMA).fetchall()


def test_migrate_twice_changes_nothing(empty_db_url: str) -> None:
    assert not is_up_to_date(empty_db_url)
    applied = migrate(empty_db_url)
    assert applied == [name for _, name, _ in all_migrations()]
    before = schema(empty_db_url)
    assert migrate(empty_db_url) == []
    assert schema(empty_db_url) == before
    assert is_up_to_date(empty_db_url)


def test_fresh_database_matches_the_test_template(empty_db_url: str, db_url: str) -> None:
    migrate(empty_db_url)
    assert schema(empty_db_url) == schema(db_url)


def test_period_guard_is_an_exclusion_constraint(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        (definition,) = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conname = 'export_run_periods_no_overlap'"
        ).fetchone() or ("",)
    assert definition == "EXCLUDE USING gist (org_id WITH =, period WITH &&)"


def test_readyz_is_503_until_migrated(empty_db_url: str, settings) -> None:  # type: ignore[no-untyped-def]
    from bootstrap import bootstrap, readiness_of
    from interfaces.http.app import create_app

    services = bootstrap(settings, database_url=empty_db_url)
    try:
        app = create_app(services.app, readiness_of(empty_db_url), jwt_secret=services.jwt_secret)
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code == 503
            migrate(empty_db_url)
            assert client.get("/readyz").status_code == 200
    finally:
        services.close()


def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    from bootstrap import readiness_of

    ok, reason = readiness_of("postgresql://nobody@127.0.0.1:1/none")()
    assert (ok, reason) == (False, "database unreachable")


def test_event_payloads_are_stored_uncompressed_on_a_fresh_database(empty_db_url: str) -> None:
    """0170 changes the library's events table: a fresh database creates it before our files,
    so the change holds there too (a run's ClaimsTaken events skip pglz inside the append)."""
    migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        (storage,) = conn.execute(
            "SELECT attstorage FROM pg_attribute "
            "WHERE attrelid = 'export_service_events'::regclass AND attname = 'state'"
        ).fetchone() or ("",)
        conn.execute("INSERT INTO export_service_events (originator_id, originator_version, "
                     "topic, state) VALUES (gen_random_uuid(), 1, 't', %s)", (b"{}" * 50_000,))
        (compression,) = conn.execute(
            "SELECT pg_column_compression(state) FROM export_service_events WHERE topic = 't'"
        ).fetchone() or ("?",)
    assert (storage, compression) == ("e", None)
