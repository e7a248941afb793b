-- Statements of the export_runs projection (infrastructure/projections/export_runs.py). A page
-- of the log is folded per run in memory: the runs it touches are read once (`rows_of`), and
-- their final rows written back, new runs by one COPY (`copy_new`), the others by one statement
-- (`upsert`). The delivery object is the one `ExportRun.delivery` holds.

-- name: rows_of
SELECT run_id, org_id, period_start, period_end, target, status, record_count, file, error,
       created_at, completed_at, delivery, version
FROM export_runs WHERE run_id = ANY(%(ids)s::uuid[])

-- name: copy_new
-- Runs the table does not have yet (binary COPY, columns in this order).
COPY export_runs (run_id, org_id, period_start, period_end, target, status, record_count, file,
    error, created_at, completed_at, delivery, version) FROM STDIN (FORMAT BINARY)

-- name: upsert
-- Runs the table had: one row per run, each column a parallel array. A row only replaces an older one
-- (`version <`), so writing the same page twice changes nothing.
INSERT INTO export_runs (run_id, org_id, period_start, period_end, target, status,
    record_count, file, error, created_at, completed_at, delivery, version)
SELECT * FROM unnest(%(run_id)s::uuid[], %(org_id)s::uuid[], %(period_start)s::date[],
    %(period_end)s::date[], %(target)s::text[], %(status)s::text[], %(record_count)s::int[],
    %(file)s::jsonb[], %(error)s::jsonb[], %(created_at)s::timestamptz[],
    %(completed_at)s::timestamptz[], %(delivery)s::jsonb[], %(version)s::int[])
ON CONFLICT (run_id) DO UPDATE SET org_id = EXCLUDED.org_id,
    period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,
    target = EXCLUDED.target, status = EXCLUDED.status, record_count = EXCLUDED.record_count,
    file = EXCLUDED.file, error = EXCLUDED.error, created_at = EXCLUDED.created_at,
    completed_at = EXCLUDED.completed_at, delivery = EXCLUDED.delivery,
    version = EXCLUDED.version
WHERE export_runs.version < EXCLUDED.version
