-- Analysts' database roles (infrastructure/analytics.py). `{role}` and `{schema}` are
-- identifiers and `{verifier}` a SCRAM verifier literal, all filled in with psycopg.sql.

-- name: role
SELECT oid::bigint, rolsuper, rolcanlogin FROM pg_roles WHERE rolname = %(role)s

-- name: create_role_login
CREATE ROLE {role} LOGIN PASSWORD {verifier} NOINHERIT

-- name: create_role_nologin
CREATE ROLE {role} NOLOGIN NOINHERIT

-- name: set_login
ALTER ROLE {role} LOGIN PASSWORD {verifier}

-- name: revoke_public_tables
-- Nothing in public: tables, sequences, no CREATE (PUBLIC's grants stay as they are).
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}

-- name: revoke_public_sequences
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}

-- name: revoke_public_create
REVOKE CREATE ON SCHEMA public FROM {role}

-- name: revoke_public_defaults
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {role}

-- name: revoke_views
-- In analytics only what publish() grants: the covered views, never a later view
-- automatically (an uncovered one would show every organisation).
REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}

-- name: revoke_create
REVOKE CREATE ON SCHEMA {schema} FROM {role}

-- name: revoke_defaults
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {role}

-- name: revoke_schema
REVOKE ALL ON SCHEMA {schema} FROM {role}

-- name: revoke_rows_of
REVOKE ALL ON FUNCTION analytics_access.rows_of(anyelement) FROM {role}

-- name: direct_readers
-- The service's tables (and the mapping) the role can read directly, named; NULL when none.
SELECT string_agg(format('%%I.%%I', schemaname, tablename), ', ' ORDER BY tablename)
FROM pg_tables WHERE schemaname IN ('public', 'analytics_access')
AND has_table_privilege(%(role)s, format('%%I.%%I', schemaname, tablename), 'SELECT')

-- name: mapping_exists
SELECT to_regclass('analytics_access.analysts')

-- name: map_role
INSERT INTO analytics_access.analysts AS a
    (role_oid, role_name, org_id, all_organisations, created_role)
SELECT oid, rolname, %(org_id)s, %(all)s, %(created)s FROM pg_roles WHERE rolname = %(role)s
ON CONFLICT (role_oid) DO UPDATE SET role_name = EXCLUDED.role_name,
    org_id = EXCLUDED.org_id, all_organisations = EXCLUDED.all_organisations,
    created_role = a.created_role OR EXCLUDED.created_role,
    granted_at = now(), granted_by = session_user

-- name: search_path
ALTER ROLE {role} SET search_path = analytics

-- name: publish
CALL analytics_access.publish()

-- name: drop_role_if_exists
DROP ROLE IF EXISTS {role}

-- name: drop_role
DROP ROLE {role}

-- name: list
-- Mapped analysts, and roles granted a view in analytics without a mapping (they see no row).
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

-- name: unmap_role
-- The role's mapping, also one left behind by a role dropped outside this command.
DELETE FROM analytics_access.analysts a
WHERE a.role_oid = (SELECT oid FROM pg_roles WHERE rolname = %(role)s)
   OR (a.role_name = %(role)s AND NOT EXISTS (SELECT 1 FROM pg_roles p WHERE p.oid = a.role_oid))
RETURNING created_role
