"""Analysts' database roles: each reads the `analytics` views for one organisation only.

The views (migration 0120) return the rows of the organisation mapped to the session's login
role in `analytics_access.analysts`; a login without a mapping sees no row. Run by the database
owner (with CREATEROLE) or a superuser; safe to repeat.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

SCHEMA = "analytics"
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class AnalyticsRoleError(ValueError):
    """The request cannot be granted as asked; the message says why."""


@dataclass(frozen=True)
class Analyst:
    role: str
    org_id: UUID | None  # None: every organisation (all_organisations) or no mapping at all
    all_organisations: bool
    can_login: bool
    exists: bool
    granted_at: datetime | None
    granted_by: str | None

    @property
    def scope(self) -> str:
        if self.all_organisations:
            return "ALL organisations"
        return f"organisation {self.org_id}" if self.org_id else "no organisation: sees no row"


def _check_name(role: str) -> None:
    if not ROLE_NAME.match(role):
        raise AnalyticsRoleError(f"role name {role!r}: use lower-case letters, digits and _")


def _role(conn: psycopg.Connection[Any], role: str) -> tuple[int, bool, bool] | None:
    """(oid, superuser, can login) of the role, None when it does not exist."""
    row = conn.execute(
        "SELECT oid::bigint, rolsuper, rolcanlogin FROM pg_roles WHERE rolname = %s", (role,)
    ).fetchone()
    return (int(row[0]), bool(row[1]), bool(row[2])) if row else None


def _create_or_update(conn: psycopg.Connection[Any], role: str, password: str | None) -> bool:
    """LOGIN with a password when one is given; a new role without one is NOLOGIN. True: created."""
    ident = sql.Identifier(role)
    login = None
    if password:
        # Hashed here (SCRAM, as psql's \password does): the clear text never reaches
        # the server, so no statement log or error report can hold it.
        verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
        login = sql.SQL("LOGIN PASSWORD {}").format(sql.Literal(verifier.decode()))
    if _role(conn, role) is None:
        try:
            conn.execute(
                sql.SQL("CREATE ROLE {} {} NOINHERIT").format(ident, login or sql.SQL("NOLOGIN"))
            )
            return True
        except psycopg.errors.DuplicateObject:
            pass  # created concurrently: update it below
    if login is not None:
        conn.execute(sql.SQL("ALTER ROLE {} {}").format(ident, login))
    return False


def _revokes(role: str) -> list[sql.Composed]:
    r, s = sql.Identifier(role), sql.Identifier(SCHEMA)
    return [
        # Nothing in public: tables, sequences, no CREATE (PUBLIC's grants stay as they are).
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(r),
        sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(r),
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(r),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {}").format(r),
        # In analytics only what publish() grants: the covered views, never a later view
        # automatically (an uncovered one would show every organisation).
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, r),
        sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(s, r),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} REVOKE ALL ON TABLES FROM {}").format(s, r),
    ]


def _refuse_direct_readers(conn: psycopg.Connection[Any], role: str) -> None:
    """A role that reads the service's tables or the mapping itself would not be filtered."""
    row = conn.execute(
        "SELECT string_agg(format('%%I.%%I', schemaname, tablename), ', ' ORDER BY tablename) "
        "FROM pg_tables WHERE schemaname IN ('public', 'analytics_access') "
        "AND has_table_privilege(%s, format('%%I.%%I', schemaname, tablename), 'SELECT')",
        (role,),
    ).fetchone()
    if row and row[0]:
        raise AnalyticsRoleError(
            f"role {role} can read the service's tables directly ({row[0]}): it owns them, is a"
            " member of a role that can, or has pg_read_all_data; an organisation filter on the"
            " views would not restrict it"
        )


def create_analytics_role(
    url: str,
    role: str,
    *,
    org_id: UUID | None = None,
    all_organisations: bool = False,
    password: str | None = None,
) -> Analyst:
    """Create (or update) `role` reading the analytics views for `org_id` (or every organisation).

    Updating moves the role to the given scope; it keeps its login and password unless a new
    password is given.
    """
    _check_name(role)
    if (org_id is None) == (not all_organisations):
        raise AnalyticsRoleError("give either --org UUID or --all-organisations")
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute("SELECT to_regclass('analytics_access.analysts')").fetchone()
        if not (found and found[0]):
            raise RuntimeError("the analytics schema is missing: run `export-service migrate`")
        existing = _role(conn, role)
        if existing is not None and existing[1]:
            raise AnalyticsRoleError(f"role {role} is a superuser: it reads everything anyway")
        created = _create_or_update(conn, role, password)
        try:
            with conn.transaction():
                for statement in _revokes(role):
                    conn.execute(statement)
                _refuse_direct_readers(conn, role)
                conn.execute(
                    "INSERT INTO analytics_access.analysts AS a "
                    "(role_oid, role_name, org_id, all_organisations, created_role) "
                    "SELECT oid, rolname, %s, %s, %s FROM pg_roles WHERE rolname = %s "
                    "ON CONFLICT (role_oid) DO UPDATE SET role_name = EXCLUDED.role_name, "
                    "org_id = EXCLUDED.org_id, all_organisations = EXCLUDED.all_organisations, "
                    "created_role = a.created_role OR EXCLUDED.created_role, "
                    "granted_at = now(), granted_by = session_user",
                    (org_id, all_organisations, created, role),
                )
                conn.execute(sql.SQL("ALTER ROLE {} SET search_path = analytics").format(
                    sql.Identifier(role)))
                conn.execute("CALL analytics_access.publish()")
        except Exception:
            if created:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            raise
        analyst = next(a for a in list_analytics_roles(url, conn) if a.role == role)
    if all_organisations:
        log.warning("analytics role %s may read ALL organisations (granted by %s)",
                    role, analyst.granted_by)
    else:
        log.info("analytics role %s reads organisation %s (granted by %s)",
                 role, org_id, analyst.granted_by)
    return analyst


_LIST = """
SELECT coalesce(r.rolname, a.role_name), a.org_id, a.all_organisations,
       coalesce(r.rolcanlogin, false), r.oid IS NOT NULL, a.granted_at, a.granted_by
FROM analytics_access.analysts a LEFT JOIN pg_roles r ON r.oid = a.role_oid
UNION ALL
SELECT DISTINCT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE x.grantee::regrole::text END,
       NULL::uuid, false, coalesce(r.rolcanlogin, false), true, NULL::timestamptz, NULL::name
FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) x
LEFT JOIN pg_roles r ON r.oid = x.grantee
WHERE c.relnamespace = 'analytics'::regnamespace AND x.grantee <> c.relowner
  AND x.grantee NOT IN (SELECT role_oid FROM analytics_access.analysts)
ORDER BY 1
"""


def list_analytics_roles(
    url: str, conn: psycopg.Connection[Any] | None = None
) -> list[Analyst]:
    """Mapped analysts, and roles granted a view in analytics without a mapping (they see no row)."""
    if conn is None:
        with psycopg.connect(url) as own:
            return list_analytics_roles(url, own)
    return [Analyst(str(r[0]), r[1], bool(r[2]), bool(r[3]), bool(r[4]), r[5],
                    None if r[6] is None else str(r[6]))
            for r in conn.execute(_LIST)]


def revoke_analytics_role(url: str, role: str) -> str:
    """Take the role's access away now; drop the role when this command created it.

    Returns what was done, in words. An open session of the role is refused from its next query.
    """
    _check_name(role)
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            mapped = conn.execute(
                "DELETE FROM analytics_access.analysts a WHERE a.role_oid = "
                "(SELECT oid FROM pg_roles WHERE rolname = %(r)s) "
                "OR (a.role_name = %(r)s AND NOT EXISTS "
                "(SELECT 1 FROM pg_roles p WHERE p.oid = a.role_oid)) RETURNING created_role",
                {"r": role},
            ).fetchall()
            if _role(conn, role) is None:
                return f"role {role}: no such role" + (", mapping removed" if mapped else "")
            r, s = sql.Identifier(role), sql.Identifier(SCHEMA)
            # Explicit revokes, not DROP OWNED: PostgreSQL 15 allows that only to its members.
            for statement in [
                sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, r),
                sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(s, r),
                sql.SQL("REVOKE ALL ON FUNCTION analytics_access.rows_of(anyelement) FROM {}")
                .format(r),
                sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} REVOKE ALL ON TABLES FROM {}")
                .format(s, r),
            ]:
                conn.execute(statement)
        log.info("analytics role %s revoked", role)
        if not any(row[0] for row in mapped):
            return f"role {role}: access to the analytics views revoked (role kept)"
        try:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
        except psycopg.errors.DependentObjectsStillExist:
            return f"role {role}: access revoked; role kept (it has privileges elsewhere)"
        return f"role {role}: access revoked and role dropped"
