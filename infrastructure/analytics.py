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

from infrastructure.sql import queries
from infrastructure.sql.composed import query

log = logging.getLogger(__name__)

SCHEMA = "analytics"
SQL = queries("analytics")
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
    row = conn.execute(SQL["role"], {"role": role}).fetchone()
    return (int(row[0]), bool(row[1]), bool(row[2])) if row else None


def _create_or_update(conn: psycopg.Connection[Any], role: str, password: str | None) -> bool:
    """LOGIN with a password when one is given; a new role without one is NOLOGIN. True: created."""
    verifier = None
    if password:
        # Hashed here (SCRAM, as psql's \password does): the clear text never reaches
        # the server, so no statement log or error report can hold it.
        scram = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
        verifier = sql.Literal(scram.decode())
    if _role(conn, role) is None:
        try:
            if verifier is None:
                conn.execute(query("analytics", "create_role_nologin", role=role))
            else:
                conn.execute(query("analytics", "create_role_login", role=role, verifier=verifier))
            return True
        except psycopg.errors.DuplicateObject:
            pass  # created concurrently: update it below
    if verifier is not None:
        conn.execute(query("analytics", "set_login", role=role, verifier=verifier))
    return False


#: Run before a role is mapped: it reads nothing but the views publish() grants it.
REVOKES = ("revoke_public_tables", "revoke_public_sequences", "revoke_public_create",
           "revoke_public_defaults", "revoke_views", "revoke_create", "revoke_defaults")
#: Run when access is revoked. Explicit revokes, not DROP OWNED: PostgreSQL 15 allows that
#: only to the role's members.
REVOKES_ON_REVOKE = ("revoke_views", "revoke_schema", "revoke_rows_of", "revoke_defaults")


def _revokes(role: str, names: tuple[str, ...] = REVOKES) -> list[sql.Composed]:
    return [query("analytics", name, role=role, schema=SCHEMA) for name in names]


def _refuse_direct_readers(conn: psycopg.Connection[Any], role: str) -> None:
    """A role that reads the service's tables or the mapping itself would not be filtered."""
    row = conn.execute(SQL["direct_readers"], {"role": role}).fetchone()
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
        found = conn.execute(SQL["mapping_exists"]).fetchone()
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
                conn.execute(SQL["map_role"], {"org_id": org_id, "all": all_organisations,
                                               "created": created, "role": role})
                conn.execute(query("analytics", "search_path", role=role))
                conn.execute(SQL["publish"])
        except Exception:
            if created:
                conn.execute(query("analytics", "drop_role_if_exists", role=role))
            raise
        analyst = next(a for a in list_analytics_roles(url, conn) if a.role == role)
    if all_organisations:
        log.warning("analytics role %s may read ALL organisations (granted by %s)",
                    role, analyst.granted_by)
    else:
        log.info("analytics role %s reads organisation %s (granted by %s)",
                 role, org_id, analyst.granted_by)
    return analyst


def list_analytics_roles(
    url: str, conn: psycopg.Connection[Any] | None = None
) -> list[Analyst]:
    """Mapped analysts, and roles granted a view in analytics without a mapping (they see no row)."""
    if conn is None:
        with psycopg.connect(url) as own:
            return list_analytics_roles(url, own)
    return [Analyst(str(r[0]), r[1], bool(r[2]), bool(r[3]), bool(r[4]), r[5],
                    None if r[6] is None else str(r[6]))
            for r in conn.execute(SQL["list"])]


def revoke_analytics_role(url: str, role: str) -> str:
    """Take the role's access away now; drop the role when this command created it.

    Returns what was done, in words. An open session of the role is refused from its next query.
    """
    _check_name(role)
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            mapped = conn.execute(SQL["unmap_role"], {"role": role}).fetchall()
            if _role(conn, role) is None:
                return f"role {role}: no such role" + (", mapping removed" if mapped else "")
            for statement in _revokes(role, REVOKES_ON_REVOKE):
                conn.execute(statement)
        log.info("analytics role %s revoked", role)
        if not any(row[0] for row in mapped):
            return f"role {role}: access to the analytics views revoked (role kept)"
        try:
            conn.execute(query("analytics", "drop_role", role=role))
        except psycopg.errors.DependentObjectsStillExist:
            return f"role {role}: access revoked; role kept (it has privileges elsewhere)"
        return f"role {role}: access revoked and role dropped"
