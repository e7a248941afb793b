-- Open deliveries (infrastructure/delivery/guards.py, infrastructure/delivery/upkeep.py):
-- guard rows written in the append's own transaction, and what the sweep reads from them.

-- name: delivery_opened
-- A delivery queued, or queued again after it failed.
INSERT INTO open_deliveries (run_id, org_id, status, updated_at)
VALUES (%(run_id)s, %(org_id)s, 'pending', %(at)s)
ON CONFLICT (run_id) DO UPDATE SET status = 'pending', updated_at = EXCLUDED.updated_at

-- name: delivery_moved
UPDATE open_deliveries SET status = %(status)s, updated_at = %(at)s WHERE run_id = %(run_id)s

-- name: delivery_ended
DELETE FROM open_deliveries WHERE run_id = %(run_id)s

-- name: orphaned_deliveries
-- Open deliveries untouched for `older` seconds with no queued or running job: their job
-- failed for good (or was lost); the sweep queues them again.
SELECT d.run_id FROM open_deliveries d
WHERE d.updated_at < now() - make_interval(secs => %(older)s)
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.task_name = %(task)s
                    AND j.args ->> 'run_id' = d.run_id::text
                    AND j.status IN ('todo', 'doing'))
ORDER BY d.updated_at

-- name: requeue_delivery
-- One job per orphaned delivery, even when two sweeps find it at once: the queueing lock
-- refuses a second waiting job with the same lock (procrastinate's unique index).
SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(%(queue)s, %(task)s, 0, NULL, %(lock)s,
    %(args)s, NULL)]::procrastinate_job_to_defer_v1[])
