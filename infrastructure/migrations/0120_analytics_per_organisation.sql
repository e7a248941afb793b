-- Analysts see their own organisation only (issue 18).
--
-- The rows of the analytics views now come from one SECURITY DEFINER function that reads the
-- private source views below and keeps the rows of the organisation mapped to the session's login
-- role (`session_user`). The analyst's own query never touches a table of the service, so:
--   * no qual of theirs (a leaky function, an error, a NOTICE) is ever evaluated on another
--     organisation's row: the function boundary is a barrier that even LEAKPROOF cannot cross;
--   * EXPLAIN shows a function scan with a fixed estimate, never estimates from the tables'
--     statistics (which cover every organisation), and pg_stats shows them nothing;
--   * the filter depends on no setting and not on current_user, which SET ROLE and a
--     SECURITY DEFINER context change; session_user changes only through SET SESSION
--     AUTHORIZATION, which needs a superuser.
-- A login without a mapping sees no row. Schema analytics_access is the owner's alone: analysts
-- have no USAGE on it, so they can neither read nor change the mapping.
CREATE SCHEMA analytics_access;
REVOKE ALL ON SCHEMA analytics_access FROM PUBLIC;

-- Which organisation each analyst login may read. Keyed by the role's oid, not its name: a role
-- dropped without `--revoke` and created again under the same name gets nothing.
CREATE TABLE analytics_access.analysts (
    role_oid oid PRIMARY KEY,
    role_name name NOT NULL,
    org_id uuid,
    all_organisations boolean NOT NULL DEFAULT false,
    created_role boolean NOT NULL DEFAULT false,
    granted_at timestamptz NOT NULL DEFAULT now(),
    granted_by name NOT NULL DEFAULT session_user,
    CONSTRAINT analysts_one_scope CHECK ((org_id IS NULL) = all_organisations)
);

-- The unfiltered sources: the definitions of migrations 0021 and 0042, now private.
CREATE VIEW analytics_access.export_runs AS
SELECT run_id, org_id, period_start, period_end, target, status, record_count,
       file ->> 'sha256' AS file_sha256,
       (file ->> 'size_bytes')::bigint AS file_size_bytes,
       error ->> 'code' AS error_code,
       created_at, completed_at
FROM public.export_runs;

CREATE VIEW analytics_access.claims_exported AS
SELECT r.org_id, r.run_id, c.id AS claim_id, c.expense_date,
       (c.approved_at AT TIME ZONE 'Europe/Oslo')::date AS approved_day,
       c.category, c.amount, c.currency,
       e.target, e.period_start, e.period_end, e.completed_at
FROM public.claim_reservations r
JOIN public.claims c ON c.org_id = r.org_id AND c.id = r.claim_id
JOIN public.export_runs e ON e.run_id = r.run_id AND e.org_id = r.org_id
WHERE e.status = 'completed';

CREATE VIEW analytics_access.sync_run_log AS
SELECT id AS sync_run_id, org_id, integration_type, status, triggered_by, started_at, ended_at,
       records_processed, records_failed, duration_seconds, scheduled_for, drift_seconds,
       drift_flagged, export_run_id, error_message IS NOT NULL AS has_error, false AS archived
FROM public.sync_run_log
UNION ALL
SELECT id, org_id, integration_type, status, triggered_by, started_at, ended_at,
       records_processed, records_failed, duration_seconds, scheduled_for, drift_seconds,
       drift_flagged, export_run_id, error_message IS NOT NULL, true
FROM public.sync_run_log_archive;

CREATE VIEW analytics_access.bufdir_exports AS
SELECT export_id, org_id, period_start, period_end, format, include_attachments,
       config_version, status, row_count, file_size_bytes, created_at, updated_at,
       jsonb_array_length(status_history) AS steps
FROM public.bufdir_audit_log;

-- The rows of one source view (named by its row type) that the session's login may read.
CREATE FUNCTION analytics_access.rows_of(source anyelement) RETURNS SETOF anyelement
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    src regclass;
    scope record;
BEGIN
    SELECT c.oid::regclass INTO src
    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
    WHERE c.reltype = pg_typeof(source)
      AND c.relnamespace = 'analytics_access'::regnamespace AND c.relkind = 'v'
      AND a.attname = 'org_id' AND a.atttypid = 'uuid'::regtype AND NOT a.attisdropped;
    IF src IS NULL THEN
        RAISE EXCEPTION 'not an analytics source: %', pg_typeof(source);
    END IF;
    SELECT a.org_id, a.all_organisations INTO scope
    FROM analytics_access.analysts a
    WHERE a.role_oid = (SELECT r.oid FROM pg_roles r WHERE r.rolname = session_user);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF scope.all_organisations THEN
        RAISE LOG 'analytics: role % read % of all organisations', session_user, src;
        RETURN QUERY EXECUTE format('SELECT * FROM %s', src);
    ELSE
        -- The organisation as a literal: planned for it, so its own index range is read.
        RETURN QUERY EXECUTE format('SELECT * FROM %s WHERE org_id = %L', src, scope.org_id);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION analytics_access.rows_of(anyelement) FROM PUBLIC;

-- The published views keep their names, columns and grants; only their rows are filtered.
CREATE OR REPLACE VIEW analytics.export_runs WITH (security_barrier) AS
SELECT * FROM analytics_access.rows_of(NULL::analytics_access.export_runs);

CREATE OR REPLACE VIEW analytics.claims_exported WITH (security_barrier) AS
SELECT * FROM analytics_access.rows_of(NULL::analytics_access.claims_exported);

CREATE OR REPLACE VIEW analytics.sync_run_log WITH (security_barrier) AS
SELECT * FROM analytics_access.rows_of(NULL::analytics_access.sync_run_log);

CREATE OR REPLACE VIEW analytics.bufdir_exports WITH (security_barrier) AS
SELECT * FROM analytics_access.rows_of(NULL::analytics_access.bufdir_exports);

-- A view added later follows the same two steps: its source in analytics_access, and in
-- analytics `SELECT * FROM analytics_access.rows_of(NULL::analytics_access.<source>)` WITH
-- (security_barrier). tests/integration/test_analytics_coverage.py fails for any other view.

-- Every relation in schema analytics that does not follow that form, and why. Covered: a
-- security_barrier view with org_id whose rule reads no relation and calls no function of ours
-- but rows_of.
CREATE FUNCTION analytics_access.uncovered_views() RETURNS TABLE (view_name text, problem text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH rel AS (
    SELECT c.oid, c.relkind, format('%I.%I', n.nspname, c.relname) AS name,
           coalesce('security_barrier=true' = ANY (c.reloptions), false) AS barrier,
           EXISTS (SELECT 1 FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attname = 'org_id'
                     AND a.atttypid = 'uuid'::regtype AND NOT a.attisdropped) AS has_org,
           -- Any relation the rule reads (directly, in a join, a subquery or a CTE) is a range
           -- table entry with its oid; PostgreSQL 15 also lists the view itself.
           EXISTS (SELECT 1 FROM pg_rewrite w,
                          regexp_matches(w.ev_action::text, ':relid (\d+)', 'g') m
                   WHERE w.ev_class = c.oid AND m[1]::oid <> c.oid) AS reads_relation,
           -- Functions of ours it calls (built-in ones run with the analyst's own rights).
           (SELECT array_agg(DISTINCT d.refobjid)
            FROM pg_rewrite w JOIN pg_depend d
              ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
            WHERE w.ev_class = c.oid AND d.refclassid = 'pg_proc'::regclass) AS calls,
           -- Row types it names that are not those of a source in analytics_access.
           EXISTS (SELECT 1 FROM pg_rewrite w JOIN pg_depend d
                     ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                   WHERE w.ev_class = c.oid AND d.refclassid = 'pg_type'::regclass
                     AND NOT EXISTS (SELECT 1 FROM pg_class s WHERE s.reltype = d.refobjid
                          AND s.relnamespace = 'analytics_access'::regnamespace))
             AS foreign_source
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'analytics' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
)
SELECT name, CASE
    WHEN relkind <> 'v' THEN 'not a view'
    WHEN NOT barrier THEN 'not security_barrier'
    WHEN NOT has_org THEN 'no org_id uuid column'
    WHEN foreign_source THEN 'a source outside analytics_access'
    ELSE 'reads more than analytics_access.rows_of'
  END
FROM rel
WHERE relkind <> 'v' OR NOT barrier OR NOT has_org
   OR reads_relation OR foreign_source
   OR calls IS DISTINCT FROM ARRAY['analytics_access.rows_of(anyelement)'::regprocedure::oid]
ORDER BY 1
$$;

-- Grants each mapped analyst what it needs: the covered views and nothing else in analytics.
-- `export-service analytics-role` calls it; a migration that adds a view calls it too.
CREATE PROCEDURE analytics_access.publish()
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    analyst regrole;
    rel record;
BEGIN
    FOR analyst IN
        SELECT a.role_oid::regrole FROM analytics_access.analysts a
        WHERE EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = a.role_oid)
    LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA analytics TO %s', analyst);
        EXECUTE format('GRANT EXECUTE ON FUNCTION analytics_access.rows_of(anyelement) TO %s',
                       analyst);
        FOR rel IN
            SELECT format('%I.%I', n.nspname, c.relname) AS name,
                   EXISTS (SELECT 1 FROM analytics_access.uncovered_views() u
                           WHERE u.view_name = format('%I.%I', n.nspname, c.relname)) AS bad
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'analytics' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        LOOP
            IF rel.bad THEN
                EXECUTE format('REVOKE ALL ON %s FROM %s', rel.name, analyst);
            ELSE
                EXECUTE format('GRANT SELECT ON %s TO %s', rel.name, analyst);
            END IF;
        END LOOP;
    END LOOP;
END
$$;
REVOKE ALL ON PROCEDURE analytics_access.publish() FROM PUBLIC;
