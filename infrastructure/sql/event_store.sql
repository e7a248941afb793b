-- Statements of one append (infrastructure/event_store.py). They are bound on the client and
-- sent together as one query: one round trip per append, whatever it carries.

-- name: defer_job
-- Jobs first: a guard violation must surface as the guard's own error, not the queue's.
-- The row procrastinate's own defer function (procrastinate_defer_jobs_v1) writes, inserted
-- directly: the call (a PL/pgSQL function, an array of its composite type, a CTE) cost the
-- server about a third of the job's time, 0.045 ms of each append. The queue's triggers
-- (its NOTIFY, its event row) fire as they do for the function's INSERT.
-- tests/integration/test_queued_jobs.py compares the two rows column by column.
INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args,
                                scheduled_at)
VALUES (%(queue)s, %(task)s, 0, NULL, NULL, %(args)s, NULL)

-- name: remember_response
UPDATE idempotency_keys SET status_code = %(status_code)s, response = %(body)s,
    completed_at = now() WHERE org_id = %(org_id)s AND key = %(key)s

-- name: lock_events
-- Appends are serialised so notification ids commit in order (readers never skip a gap that
-- fills later); SELECTs are not blocked.
LOCK TABLE export_service_events IN EXCLUSIVE MODE

-- name: notify
NOTIFY export_service_events

-- name: insert_events
INSERT INTO export_service_events (originator_id, originator_version, topic, state)
VALUES {values}
RETURNING notification_id

-- name: insert_event
-- An append's one event (the usual case), prepared on each connection.
INSERT INTO export_service_events (originator_id, originator_version, topic, state)
VALUES (%(id)s, %(version)s, %(topic)s, %(state)s)
RETURNING notification_id

-- name: prepared_here
-- The append statements prepared on this connection (infrastructure/prepared.py).
SELECT name FROM pg_prepared_statements WHERE starts_with(name, 'export_service_')

-- name: event_values
(%s, %s, %s, %s)

-- name: aggregate_events
-- One aggregate's events up to a version, without the payload of the topics whose facts are
-- the event itself and change no state (a run's ClaimsTaken): they are never decoded on a read.
SELECT originator_version, topic,
       CASE WHEN topic = ANY(%(unread)s::text[]) THEN NULL ELSE state END AS state
FROM export_service_events
WHERE originator_id = %(id)s AND (%(version)s::bigint IS NULL OR originator_version <= %(version)s)
ORDER BY originator_version

-- name: overlapping_run
-- The run already holding part of a requested period (the guard's own table), read after the
-- append was refused so the refusal can name it.
SELECT run_id FROM export_run_periods
WHERE org_id = %(org_id)s AND period && daterange(%(start)s, %(end)s, '[]')
ORDER BY run_id LIMIT 1

-- name: held_periods
-- Every period an organisation's active runs hold, as [first day, day after the last): read once
-- for all the refusals of one group commit, each of which picks the run overlapping its own.
SELECT run_id, lower(period) AS first_day, upper(period) AS after_last_day
FROM export_run_periods WHERE org_id = %(org_id)s ORDER BY run_id

-- name: aggregate_stream
-- One aggregate's events with their payloads, in order, for a server-side cursor.
SELECT originator_id, originator_version, topic, state
FROM export_service_events
WHERE originator_id = %(id)s
ORDER BY originator_version

-- name: append_group
-- Appends that arrived together, in one transaction (the function is in migration 0180): each
-- append's statements in a subtransaction of their own, then the jobs of those not refused in
-- one call, then their events.
SELECT append_no, event_id, event_version, event_position, refused_state, refused_constraint
FROM export_service_append_group(%(statements)s::text[], %(owners)s::int[], %(appends)s::int,
    %(queue)s::text, %(job_owners)s::int[], %(job_tasks)s::text[], %(job_args)s::jsonb[],
    %(event_owners)s::int[], %(ids)s::uuid[], %(versions)s::bigint[], %(topics)s::text[],
    %(states)s::bytea[])
