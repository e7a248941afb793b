-- What the sweep and the scheduler read (infrastructure/upkeep.py): the guard rows of open runs
-- (`open_runs`, `running_syncs`, written with the events), the job queue and the schedules;
-- never the read models, which may lag.

-- name: running_export_runs
SELECT run_id FROM open_runs WHERE kind = 'export_run' AND status = 'running'
ORDER BY created_at

-- name: orphaned_pending_export_runs
-- Pending runs older than `older` seconds with no queued or running job.
SELECT r.run_id FROM open_runs r
WHERE r.kind = 'export_run' AND r.status = 'pending'
  AND r.created_at < now() - make_interval(secs => %(older)s)
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.task_name = %(task)s
                    AND j.args ->> 'run_id' = r.run_id::text
                    AND j.status IN ('todo', 'doing'))

-- name: open_bufdir_exports
SELECT a.run_id,
       a.created_at < now() - make_interval(secs => %(timeout)s) AS timed_out,
       EXISTS (SELECT 1 FROM procrastinate_jobs j
               WHERE j.task_name = %(task)s AND j.args ->> 'export_id' = a.run_id::text
                 AND j.status IN ('todo', 'doing')) AS has_job,
       a.status
FROM open_runs a
WHERE a.kind = 'bufdir_export'
  AND (a.updated_at < now() - make_interval(secs => %(idle)s)
       OR a.created_at < now() - make_interval(secs => %(timeout)s))
ORDER BY a.created_at

-- name: running_syncs
SELECT run_id, export_run_id FROM running_syncs WHERE running ORDER BY started_at

-- name: due_candidates
-- Every schedule with its last scheduled start (both written in the events' transactions).
SELECT s.org_id, s.integration_type, s.cron, s.timezone, s.period, s.configured_at,
       (SELECT k.scheduled_for FROM scheduled_sync_starts k
        WHERE k.org_id = s.org_id AND k.integration_type = s.integration_type
        ORDER BY k.scheduled_for DESC LIMIT 1) AS last_scheduled_for
FROM sync_schedules s ORDER BY s.org_id, s.integration_type
