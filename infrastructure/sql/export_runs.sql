-- Statements of the export_runs projection (infrastructure/projections/export_runs.py), one
-- per event type. Each update applies only to a row older than its event (`version <`), so an
-- event is never applied twice. The delivery object is the one `ExportRun.delivery` holds.

-- name: requested
INSERT INTO export_runs (run_id, org_id, period_start, period_end, target, status,
    record_count, created_at, version)
VALUES (%(run_id)s, %(org_id)s, %(period_start)s, %(period_end)s, %(target)s, 'pending', 0,
    %(at)s, %(version)s)
ON CONFLICT (run_id) DO NOTHING

-- name: started
UPDATE export_runs SET status = 'running', record_count = %(record_count)s,
    version = %(version)s
WHERE run_id = %(run_id)s AND version < %(version)s

-- name: claims_taken
-- The claims are the event itself (read when the file is written); the row only moves on.
UPDATE export_runs SET version = %(version)s
WHERE run_id = %(run_id)s AND version < %(version)s

-- name: completed
UPDATE export_runs SET status = 'completed', record_count = %(record_count)s, file = %(file)s,
    completed_at = %(at)s, version = %(version)s
WHERE run_id = %(run_id)s AND version < %(version)s

-- name: failed
UPDATE export_runs SET status = 'failed', error = %(error)s, completed_at = %(at)s,
    version = %(version)s
WHERE run_id = %(run_id)s AND version < %(version)s

-- name: delivery_queued
UPDATE export_runs SET delivery = jsonb_build_object('status', 'pending', 'attempts', 0,
    'lines_total', NULL, 'lines_posted', 0, 'last_error', NULL, 'delivered_at', NULL),
    version = %(version)s
WHERE run_id = %(run_id)s AND version < %(version)s

-- name: delivery_started
-- A first start or a resume: one more attempt; lines already in the ledger count as posted.
UPDATE export_runs SET delivery = delivery || jsonb_build_object('status', 'delivering',
    'attempts', (delivery->>'attempts')::int + 1, 'lines_total', %(lines_total)s::int,
    'lines_posted', %(already_present)s::int),
    version = %(version)s
WHERE run_id = %(run_id)s AND version < %(version)s

-- name: lines_posted
UPDATE export_runs SET delivery = delivery || jsonb_build_object('lines_posted',
    (delivery->>'lines_posted')::int + %(count)s::int),
    version = %(version)s
WHERE run_id = %(run_id)s AND version < %(version)s

-- name: delivery_completed
UPDATE export_runs SET delivery = delivery || jsonb_build_object('status', 'delivered',
    'delivered_at', %(at)s::text, 'last_error', NULL, 'lines_posted', delivery->'lines_total'),
    version = %(version)s
WHERE run_id = %(run_id)s AND version < %(version)s

-- name: delivery_failed
-- `lines_total` stays as it was unless the failure names it.
UPDATE export_runs SET delivery = delivery || jsonb_build_object('status', 'failed',
    'last_error', %(last_error)s::jsonb,
    'lines_total', coalesce(to_jsonb(%(lines_total)s::int), delivery->'lines_total')),
    version = %(version)s
WHERE run_id = %(run_id)s AND version < %(version)s

-- name: delivery_retry_requested
UPDATE export_runs SET delivery = delivery || jsonb_build_object('status', 'pending'),
    version = %(version)s
WHERE run_id = %(run_id)s AND version < %(version)s
