-- Read-only views for analysts, in their own schema. The analytics_reader role (created by
-- `export-service analytics-role`) gets USAGE on this schema and SELECT on these views only;
-- the views run with their owner's rights, so the role needs nothing on the public tables.
-- Claimant ids and free-text descriptions are left out on purpose (personal data).
CREATE SCHEMA IF NOT EXISTS analytics;

CREATE VIEW analytics.export_runs AS
SELECT run_id, org_id, period_start, period_end, target, status, record_count,
       file ->> 'sha256' AS file_sha256,
       (file ->> 'size_bytes')::bigint AS file_size_bytes,
       error ->> 'code' AS error_code,
       created_at, completed_at
FROM public.export_runs;

CREATE VIEW analytics.claims_exported AS
SELECT r.org_id, r.run_id, c.id AS claim_id, c.expense_date,
       (c.approved_at AT TIME ZONE 'Europe/Oslo')::date AS approved_day,
       c.category, c.amount, c.currency,
       e.target, e.period_start, e.period_end, e.completed_at
FROM public.claim_reservations r
JOIN public.claims c ON c.org_id = r.org_id AND c.id = r.claim_id
JOIN public.export_runs e ON e.run_id = r.run_id AND e.org_id = r.org_id
WHERE e.status = 'completed';

-- Later migrations add, in this schema and in the same style:
--   analytics.sync_run_log    over the sync run log read model (no personal data)
--   analytics.bufdir_exports  over the Bufdir report read model
-- Views created by the database owner are granted to the analytics role automatically
-- (ALTER DEFAULT PRIVILEGES in infrastructure/analytics.py); others need an explicit GRANT.
