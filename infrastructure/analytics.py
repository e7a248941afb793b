"""The analysts' database role: read the `analytics` views, nothing else.

The views (migration 0021) run with their owner's rights, so the role needs no privilege on the
tables behind them. Run by the database owner (with CREATEROLE) or a superuser; safe to repeat.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

SCHEMA = "analytics"
DEFAULT_ROLE = "analytics_reader"
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _role_exists(conn: psycopg.Connection[Any], role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def _create_or_update(conn: psycopg.Connection[Any], role: str, password: str | None) -> None:
    """LOGIN with a password when one is given; a new role without one is NOLOGIN."""
    ident = sql.Identifier(role)
    login = sql.SQL("LOGIN PASSWORD {}").format(sql.Literal(password)) if password else None
    if not _role_exists(conn, role):
        try:
            conn.execute(
                sql.SQL("CREATE ROLE {} {} NOINHERIT").format(ident, login or sql.SQL("NOLOGIN"))
            )
            return
        except psycopg.errors.DuplicateObject:
            pass  # created concurrently: update it below
    if login is not None:
        conn.execute(sql.SQL("ALTER ROLE {} {}").format(ident, login))


def _grants(role: str) -> list[sql.Composed]:
    r, s = sql.Identifier(role), sql.Identifier(SCHEMA)
    return [
        # Nothing in public: tables, sequences, no CREATE (PUBLIC's grants stay as they are).
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(r),
        sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(r),
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(r),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {}").format(r),
        # Read the analytics views, now and those added later by the same owner.
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, r),
        sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(s, r),
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, r),
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(s, r),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(s, r),
        # Unqualified names find the views (PUBLIC's usage of schema public is not touched).
        sql.SQL("ALTER ROLE {} SET search_path = analytics").format(r),
    ]


def create_analytics_role(url: str, role: str = DEFAULT_ROLE, password: str | None = None) -> str:
    """Create (or bring up to date) `role` with SELECT on the analytics views only; returns it.

    An existing role keeps its login and password unless a new password is given.
    """
    if not ROLE_NAME.match(role):
        raise ValueError(f"role name {role!r}: use lower-case letters, digits and _")
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (SCHEMA,)).fetchone()
        if not (exists and exists[0]):
            raise RuntimeError("schema analytics is missing: run `export-service migrate` first")
        _create_or_update(conn, role, password)
        with conn.transaction():
            for statement in _grants(role):
                conn.execute(statement)
    return role


def drop_analytics_role(url: str, role: str = DEFAULT_ROLE) -> None:
    """Remove the role's privileges in this database and the role (if no other database uses it)."""
    with psycopg.connect(url, autocommit=True) as conn:
        if not _role_exists(conn, role):
            return
        r, s = sql.Identifier(role), sql.Identifier(SCHEMA)
        # Explicit revokes, not DROP OWNED: PostgreSQL 15 allows that only to the role's members.
        with conn.transaction():
            conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, r))
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(s, r))
            conn.execute(
                sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} REVOKE ALL ON TABLES FROM {}")
                .format(s, r)
            )
        conn.execute(sql.SQL("DROP ROLE {}").format(r))
