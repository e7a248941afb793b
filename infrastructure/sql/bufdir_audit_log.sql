-- The bufdir_audit_log read model (infrastructure/projections/bufdir_audit_log.py): one row per
-- Bufdir export, each status appended to status_history. An update applies only to a row older
-- than the event's version, so a page applied twice changes nothing.

-- name: insert_export
INSERT INTO bufdir_audit_log (export_id, org_id, period_start, period_end, format,
                              include_attachments, config_version, status, row_count,
                              file_size_bytes, file, error_message, status_history, created_at,
                              updated_at, version)
VALUES (%(id)s, %(org)s, %(start)s, %(end)s, %(format)s, %(attachments)s, %(config_version)s,
        'initialised', 0, NULL, NULL, NULL, %(entry)s, %(at)s, %(at)s, %(version)s)
ON CONFLICT (export_id) DO NOTHING

-- name: enter_step
UPDATE bufdir_audit_log
SET status = %(status)s, status_history = status_history || %(entry)s, updated_at = %(at)s,
    version = %(version)s
WHERE export_id = %(id)s AND version < %(version)s

-- name: complete
UPDATE bufdir_audit_log
SET status = %(status)s, status_history = status_history || %(entry)s, updated_at = %(at)s,
    row_count = %(n)s, file = %(file)s, file_size_bytes = %(size)s, summary = %(summary)s,
    version = %(version)s
WHERE export_id = %(id)s AND version < %(version)s

-- name: complete_empty
UPDATE bufdir_audit_log
SET status = %(status)s, status_history = status_history || %(entry)s, updated_at = %(at)s,
    row_count = 0, version = %(version)s
WHERE export_id = %(id)s AND version < %(version)s

-- name: fail
UPDATE bufdir_audit_log
SET status = %(status)s, status_history = status_history || %(entry)s, updated_at = %(at)s,
    error_message = %(message)s, version = %(version)s
WHERE export_id = %(id)s AND version < %(version)s
