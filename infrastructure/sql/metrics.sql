-- Gauges read when /metrics is scraped (infrastructure/metrics.py): counts over every
-- organisation, from the read models, the delivery connections and the job queue.

-- name: export_runs_by_status
SELECT status, count(*) FROM export_runs GROUP BY 1

-- name: sync_runs_by_status
SELECT status, count(*) FROM sync_run_log GROUP BY 1

-- name: bufdir_exports_by_status
SELECT status, count(*) FROM bufdir_audit_log GROUP BY 1

-- name: connections_by_health
SELECT target, CASE WHEN health_ok IS NULL THEN 'unknown' WHEN health_ok THEN 'ok'
       ELSE 'failing' END, count(*)
FROM delivery_connections WHERE (settings->>'enabled')::boolean GROUP BY 1, 2

-- name: late_corrections
SELECT count(*) FROM late_corrections

-- name: queue_depth
SELECT task_name, status::text, count(*) FROM procrastinate_jobs
WHERE status IN ('todo', 'doing') GROUP BY 1, 2

-- name: oldest_due
-- A job's deferral time is its `deferred` event; a job scheduled for later is not waiting yet.
SELECT coalesce(extract(epoch FROM now() - min(greatest(e.at, coalesce(j.scheduled_at, e.at)))), 0)
FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'
WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
