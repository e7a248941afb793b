-- The read models the API lists from (the projections write them): newest first, one
-- organisation at a time, index-driven (org_id, created_at DESC).

-- name: export_runs
SELECT run_id, org_id, period_start, period_end, target, status, record_count, file, error,
       created_at, completed_at, version, delivery
FROM export_runs WHERE org_id = %(org_id)s AND (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY created_at DESC, run_id DESC LIMIT %(limit)s

-- name: export_run
-- One run beside the log's last event of that run (the events' primary key, read backwards):
-- the row answers GET only when it has caught up with that event. No row: no such aggregate.
SELECT log.originator_version AS log_version, log.notification_id AS log_position,
       r.run_id, r.org_id, r.period_start, r.period_end, r.target, r.status, r.record_count,
       r.file, r.error, r.created_at, r.completed_at, r.version, r.delivery
FROM (SELECT originator_version, notification_id FROM export_service_events
      WHERE originator_id = %(run_id)s ORDER BY originator_version DESC LIMIT 1) AS log
LEFT JOIN export_runs r ON r.run_id = %(run_id)s AND r.org_id = %(org_id)s

-- name: bufdir_exports
SELECT export_id, status, row_count, file_size_bytes, file, error_message, status_history,
       period_start, period_end, format, include_attachments, config_version, created_at,
       summary
FROM bufdir_audit_log
WHERE org_id = %(org_id)s AND (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY created_at DESC, export_id DESC LIMIT %(limit)s
