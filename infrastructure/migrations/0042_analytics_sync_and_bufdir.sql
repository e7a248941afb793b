-- The remaining read models for analysts, in the style of 0021: views over the projection
-- tables, without free text (error messages, descriptions) or file paths.

-- Every sync run, the recent ones (sync_run_log) and the archived ones (older than the
-- organisation's 90-day cut-off) alike; `archived` tells which.
CREATE VIEW analytics.sync_run_log AS
SELECT id AS sync_run_id, org_id, integration_type, status, triggered_by, started_at, ended_at,
       records_processed, records_failed, duration_seconds, scheduled_for, drift_seconds,
       drift_flagged, export_run_id, error_message IS NOT NULL AS has_error, false AS archived
FROM public.sync_run_log
UNION ALL
SELECT id, org_id, integration_type, status, triggered_by, started_at, ended_at,
       records_processed, records_failed, duration_seconds, scheduled_for, drift_seconds,
       drift_flagged, export_run_id, error_message IS NOT NULL, true
FROM public.sync_run_log_archive;

-- Bufdir grant reports and where each one is (or ended) in its pipeline.
CREATE VIEW analytics.bufdir_exports AS
SELECT export_id, org_id, period_start, period_end, format, include_attachments,
       config_version, status, row_count, file_size_bytes, created_at, updated_at,
       jsonb_array_length(status_history) AS steps
FROM public.bufdir_audit_log;
