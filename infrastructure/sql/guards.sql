-- Guard rows written in the append's own transaction (infrastructure/guards.py,
-- infrastructure/sync_guards.py). The constraints on these tables refuse a second active run.

-- name: open_run
INSERT INTO open_runs (run_id, kind, org_id, status, created_at, updated_at)
VALUES (%(run_id)s, %(kind)s, %(org_id)s, %(status)s, %(at)s, %(at)s)

-- name: run_moved
UPDATE open_runs SET status = %(status)s, updated_at = %(at)s WHERE run_id = %(run_id)s

-- name: run_ended
DELETE FROM open_runs WHERE run_id = %(run_id)s

-- name: take_period
-- The exclusion constraint refuses a period overlapping another active run's. Two racing
-- inserts checked against an exclusion constraint can each wait for the other's row and
-- deadlock; taking the organisation's transaction-level advisory lock first makes them queue.
WITH queued AS (
    SELECT pg_advisory_xact_lock(
        hashtextextended('export_run_periods ' || %(org_id)s::uuid::text, 0))
)
INSERT INTO export_run_periods (run_id, org_id, period)
SELECT %(run_id)s::uuid, %(org_id)s::uuid, daterange(%(start)s::date, %(end)s::date, '[]')
FROM queued

-- name: take_claims
-- The claim ids come as one text, comma-separated (`guards.claim_id_list`): a list of 5 000
-- strings costs the client a regular-expression test per element to be sent as an array.
INSERT INTO claim_reservations (org_id, claim_id, run_id)
SELECT %(org_id)s::uuid, unnest(string_to_array(%(ids)s::text, ',')::uuid[]), %(run_id)s::uuid

-- name: cover_period
INSERT INTO covered_periods (run_id, org_id, period)
SELECT run_id, org_id, period FROM export_run_periods WHERE run_id = %(run_id)s

-- name: free_claims
DELETE FROM claim_reservations WHERE run_id = %(run_id)s

-- name: free_period
DELETE FROM export_run_periods WHERE run_id = %(run_id)s

-- name: scheduled_start
-- Written before the running guard, so a repeated tick fails on the key first.
INSERT INTO scheduled_sync_starts (key, run_id, org_id, integration_type, scheduled_for)
VALUES (%(key)s, %(run_id)s, %(org_id)s, %(type)s, %(at)s)

-- name: sync_started
INSERT INTO running_syncs (run_id, org_id, integration_type, started_at, running)
VALUES (%(run_id)s, %(org_id)s, %(type)s, %(at)s, %(running)s)

-- name: sync_linked
UPDATE running_syncs SET export_run_id = %(export)s WHERE run_id = %(run_id)s

-- name: sync_ended
DELETE FROM running_syncs WHERE run_id = %(run_id)s

-- name: schedule_configured
INSERT INTO sync_schedules (org_id, integration_type, schedule_id, cron, timezone, period,
                            configured_at, version)
VALUES (%(org_id)s, %(type)s, %(id)s, %(cron)s, %(tz)s, %(period)s, %(at)s, %(version)s)
ON CONFLICT (org_id, integration_type) DO UPDATE SET
    cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, period = EXCLUDED.period,
    configured_at = EXCLUDED.configured_at, version = EXCLUDED.version

-- name: schedule_removed
DELETE FROM sync_schedules WHERE org_id = %(org_id)s AND integration_type = %(type)s

-- name: scheduled_start_holder
SELECT run_id FROM scheduled_sync_starts WHERE key = %(key)s

-- name: running_sync_holder
SELECT run_id FROM running_syncs
WHERE org_id = %(org_id)s AND integration_type = %(type)s AND running
