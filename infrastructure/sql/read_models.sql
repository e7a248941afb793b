-- The read models the API lists from (the projections write them): newest first, one
-- organisation at a time, index-driven (org_id, created_at DESC).

-- name: export_runs
SELECT run_id, org_id, period_start, period_end, target, status, record_count, file, error,
       created_at, completed_at, version
FROM export_runs WHERE org_id = %(org_id)s AND (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY created_at DESC, run_id DESC LIMIT %(limit)s

-- name: bufdir_exports
SELECT export_id, status, row_count, file_size_bytes, file, error_message, status_history,
       period_start, period_end, format, include_attachments, config_version, created_at,
       summary
FROM bufdir_audit_log
WHERE org_id = %(org_id)s AND (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY created_at DESC, export_id DESC LIMIT %(limit)s
