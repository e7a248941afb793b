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
-- The newest `limit` runs of the hot table and, with `include_archived`, of the archive too:
-- each side is cut to `limit` first (index-driven); the archive's side is skipped otherwise.
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
     WHERE %(include_archived)s AND org_id = %(org)s
       AND (%(type)s::text IS NULL OR integration_type = %(type)s)
     ORDER BY started_at DESC, id DESC LIMIT %(limit)s)
) both_tables
ORDER BY started_at DESC, id DESC LIMIT %(limit)s

-- name: orgs_with_runs_before
SELECT DISTINCT org_id FROM sync_run_log
WHERE status IN ('completed', 'failed', 'cancelled') AND started_at < %(cutoff)s
ORDER BY org_id

-- The projection's statements: a page is folded in memory (rows of the runs it touches and the
-- cut-offs of their organisations read once), then written with one statement per table.

-- name: rows_of
SELECT id, org_id, integration_type, status, triggered_by, started_at, ended_at,
       records_processed, records_failed, error_message, duration_seconds, scheduled_for,
       drift_seconds, drift_flagged, export_run_id, version
FROM sync_run_log WHERE id = ANY(%(ids)s::uuid[])

-- name: cutoffs_of
SELECT org_id, cutoff FROM sync_run_log_cutoffs WHERE org_id = ANY(%(orgs)s::uuid[])

-- name: copy_new_runs
-- Runs the table does not have yet (binary COPY, columns in this order).
COPY sync_run_log (id, org_id, integration_type, status, triggered_by, started_at, ended_at,
    records_processed, records_failed, error_message, duration_seconds, scheduled_for,
    drift_seconds, drift_flagged, export_run_id, version) FROM STDIN (FORMAT BINARY)

-- name: copy_archived
-- Runs the page moved to the archive (finished, started before their cut-off).
COPY sync_run_log_archive (id, org_id, integration_type, status, triggered_by, started_at,
    ended_at, records_processed, records_failed, error_message, duration_seconds, scheduled_for,
    drift_seconds, drift_flagged, export_run_id, version) FROM STDIN (FORMAT BINARY)

-- name: upsert_runs
-- Runs the table had, each column a parallel array. A row only replaces an older one
-- (`version <`): the same page written twice changes nothing.
INSERT INTO sync_run_log (id, org_id, integration_type, status, triggered_by, started_at,
                          ended_at, records_processed, records_failed, error_message,
                          duration_seconds, scheduled_for, drift_seconds, drift_flagged,
                          export_run_id, version)
SELECT * FROM unnest(%(id)s::uuid[], %(org_id)s::uuid[], %(integration_type)s::text[],
    %(status)s::text[], %(triggered_by)s::text[], %(started_at)s::timestamptz[],
    %(ended_at)s::timestamptz[], %(records_processed)s::int[], %(records_failed)s::int[],
    %(error_message)s::text[], %(duration_seconds)s::double precision[],
    %(scheduled_for)s::timestamptz[], %(drift_seconds)s::double precision[],
    %(drift_flagged)s::boolean[], %(export_run_id)s::uuid[], %(version)s::int[])
ON CONFLICT (id) DO UPDATE SET org_id = EXCLUDED.org_id,
    integration_type = EXCLUDED.integration_type, status = EXCLUDED.status,
    triggered_by = EXCLUDED.triggered_by, started_at = EXCLUDED.started_at,
    ended_at = EXCLUDED.ended_at, records_processed = EXCLUDED.records_processed,
    records_failed = EXCLUDED.records_failed, error_message = EXCLUDED.error_message,
    duration_seconds = EXCLUDED.duration_seconds, scheduled_for = EXCLUDED.scheduled_for,
    drift_seconds = EXCLUDED.drift_seconds, drift_flagged = EXCLUDED.drift_flagged,
    export_run_id = EXCLUDED.export_run_id, version = EXCLUDED.version
WHERE sync_run_log.version < EXCLUDED.version

-- name: delete_runs
-- Runs of the table the page moved to the archive.
DELETE FROM sync_run_log WHERE id = ANY(%(ids)s::uuid[])

-- name: advance_cutoffs
-- A cut-off only moves forward.
INSERT INTO sync_run_log_cutoffs (org_id, cutoff)
SELECT * FROM unnest(%(orgs)s::uuid[], %(cutoffs)s::timestamptz[])
ON CONFLICT (org_id) DO UPDATE SET cutoff = greatest(sync_run_log_cutoffs.cutoff, EXCLUDED.cutoff)

-- name: archive_ended_runs_of_orgs
-- Move the organisations' finished runs that started before their cut-off to the archive.
WITH moved AS (
    DELETE FROM sync_run_log l USING sync_run_log_cutoffs c
    WHERE c.org_id = l.org_id AND l.started_at < c.cutoff
      AND l.status IN ('completed', 'failed', 'cancelled') AND l.org_id = ANY(%(orgs)s::uuid[])
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
