-- The sync_run_log read model (infrastructure/projections/sync_run_log.py): the projection's
-- writes, its archival to sync_run_log_archive, and the SyncRunLog port's reads.

-- name: latest
-- The most recent run of each integration type: a loose index scan finds the types, a lateral
-- join takes each one's newest row; both walk (org_id, integration_type, started_at DESC).
WITH RECURSIVE types AS (
    (SELECT integration_type FROM sync_run_log WHERE org_id = %(org)s
     ORDER BY integration_type LIMIT 1)
    UNION ALL
    SELECT (SELECT s.integration_type FROM sync_run_log s
            WHERE s.org_id = %(org)s AND s.integration_type > t.integration_type
            ORDER BY s.integration_type LIMIT 1)
    FROM types t WHERE t.integration_type IS NOT NULL
)
SELECT r.* FROM types t CROSS JOIN LATERAL (
    SELECT id, org_id, integration_type, status, triggered_by, started_at, ended_at,
           records_processed, records_failed, error_message, duration_seconds, scheduled_for,
           drift_seconds, drift_flagged, export_run_id, version
    FROM sync_run_log l
    WHERE l.org_id = %(org)s AND l.integration_type = t.integration_type
    ORDER BY l.started_at DESC LIMIT 1
) r
WHERE t.integration_type IS NOT NULL
ORDER BY r.integration_type

-- name: history
SELECT id, org_id, integration_type, status, triggered_by, started_at, ended_at,
       records_processed, records_failed, error_message, duration_seconds, scheduled_for,
       drift_seconds, drift_flagged, export_run_id, version, false AS archived
FROM sync_run_log
WHERE org_id = %(org)s AND (%(type)s::text IS NULL OR integration_type = %(type)s)
ORDER BY started_at DESC, id DESC LIMIT %(limit)s

-- name: history_with_archive
-- The newest `limit` of both tables: each side is cut to `limit` first (index-driven).
SELECT * FROM (
    (SELECT id, org_id, integration_type, status, triggered_by, started_at, ended_at,
            records_processed, records_failed, error_message, duration_seconds, scheduled_for,
            drift_seconds, drift_flagged, export_run_id, version, false AS archived
     FROM sync_run_log
     WHERE org_id = %(org)s AND (%(type)s::text IS NULL OR integration_type = %(type)s)
     ORDER BY started_at DESC, id DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT id, org_id, integration_type, status, triggered_by, started_at, ended_at,
            records_processed, records_failed, error_message, duration_seconds, scheduled_for,
            drift_seconds, drift_flagged, export_run_id, version, true AS archived
     FROM sync_run_log_archive
     WHERE org_id = %(org)s AND (%(type)s::text IS NULL OR integration_type = %(type)s)
     ORDER BY started_at DESC, id DESC LIMIT %(limit)s)
) both_tables
ORDER BY started_at DESC, id DESC LIMIT %(limit)s

-- name: orgs_with_runs_before
SELECT DISTINCT org_id FROM sync_run_log
WHERE status IN ('completed', 'failed', 'cancelled') AND started_at < %(cutoff)s
ORDER BY org_id

-- name: insert_run
INSERT INTO sync_run_log (id, org_id, integration_type, status, triggered_by, started_at,
                          ended_at, records_processed, records_failed, error_message,
                          duration_seconds, scheduled_for, drift_seconds, drift_flagged,
                          export_run_id, version)
VALUES (%(id)s, %(org)s, %(type)s, %(status)s, %(triggered_by)s, %(at)s,
        NULL, 0, 0, NULL, NULL, %(scheduled_for)s, %(drift_seconds)s, %(drift_flagged)s,
        NULL, %(version)s)
ON CONFLICT (id) DO NOTHING

-- name: link_export_run
UPDATE sync_run_log SET export_run_id = %(export_run_id)s, version = %(version)s
WHERE id = %(id)s AND version < %(version)s

-- name: end_run
UPDATE sync_run_log
SET status = %(status)s, ended_at = %(at)s, records_processed = %(n)s, records_failed = %(f)s,
    error_message = %(message)s,
    duration_seconds = extract(epoch FROM %(at)s - started_at)::double precision,
    version = %(version)s
WHERE id = %(id)s AND version < %(version)s

-- name: archive_ended_run
-- Move the run, once finished, to the archive if it started before its organisation's cut-off.
WITH moved AS (
    DELETE FROM sync_run_log l USING sync_run_log_cutoffs c
    WHERE c.org_id = l.org_id AND l.started_at < c.cutoff
      AND l.status IN ('completed', 'failed', 'cancelled') AND l.id = %(id)s
    RETURNING l.*
)
INSERT INTO sync_run_log_archive (id, org_id, integration_type, status, triggered_by, started_at,
                                  ended_at, records_processed, records_failed, error_message,
                                  duration_seconds, scheduled_for, drift_seconds, drift_flagged,
                                  export_run_id, version)
SELECT id, org_id, integration_type, status, triggered_by, started_at, ended_at,
       records_processed, records_failed, error_message, duration_seconds, scheduled_for,
       drift_seconds, drift_flagged, export_run_id, version
FROM moved

-- name: advance_cutoff
-- A cut-off only moves forward.
INSERT INTO sync_run_log_cutoffs (org_id, cutoff) VALUES (%(org)s, %(at)s)
ON CONFLICT (org_id) DO UPDATE SET cutoff = greatest(sync_run_log_cutoffs.cutoff, EXCLUDED.cutoff)

-- name: archive_ended_runs_of_org
-- Move the organisation's finished runs that started before its cut-off to the archive.
WITH moved AS (
    DELETE FROM sync_run_log l USING sync_run_log_cutoffs c
    WHERE c.org_id = l.org_id AND l.started_at < c.cutoff
      AND l.status IN ('completed', 'failed', 'cancelled') AND l.org_id = %(org)s
    RETURNING l.*
)
INSERT INTO sync_run_log_archive (id, org_id, integration_type, status, triggered_by, started_at,
                                  ended_at, records_processed, records_failed, error_message,
                                  duration_seconds, scheduled_for, drift_seconds, drift_flagged,
                                  export_run_id, version)
SELECT id, org_id, integration_type, status, triggered_by, started_at, ended_at,
       records_processed, records_failed, error_message, duration_seconds, scheduled_for,
       drift_seconds, drift_flagged, export_run_id, version
FROM moved
