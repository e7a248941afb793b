-- Delivery connections: settings, encrypted credentials, health, the posting lock
-- (infrastructure/delivery/connections.py).

-- name: save
-- Credentials stay as they are when none are sent (`new_credentials` NULL).
INSERT INTO delivery_connections (org_id, target, settings, credentials, configured_by,
                                  configured_at, next_check_at)
VALUES (%(org_id)s, %(target)s, %(settings)s, %(credentials)s, %(by)s, now(), NULL)
ON CONFLICT (org_id, target) DO UPDATE SET
    settings = EXCLUDED.settings,
    credentials = COALESCE(%(new_credentials)s, delivery_connections.credentials),
    configured_by = EXCLUDED.configured_by,
    configured_at = EXCLUDED.configured_at

-- name: record_change
INSERT INTO delivery_connection_changes (org_id, target, settings, credentials_changed, changed_by)
VALUES (%(org_id)s, %(target)s, %(settings)s, %(changed)s, %(by)s)

-- name: get
SELECT org_id, target, settings, configured_at, configured_by, health_ok, health_at,
       health_message, health_failures, next_check_at
FROM delivery_connections WHERE org_id = %(org_id)s AND target = %(target)s

-- name: credentials
SELECT credentials FROM delivery_connections WHERE org_id = %(org_id)s AND target = %(target)s

-- name: record_health
UPDATE delivery_connections SET health_ok = %(ok)s, health_at = %(at)s,
    health_message = %(message)s, health_failures = %(failures)s, next_check_at = %(next)s
WHERE org_id = %(org_id)s AND target = %(target)s

-- name: due_for_health
-- Claims the connections due: their next check moves on by the interval before anyone checks,
-- so two overlapping health jobs never check one connection twice (record_health then sets
-- the real next check, with backoff after a failure).
UPDATE delivery_connections c SET next_check_at = %(claim_until)s
FROM (SELECT org_id, target FROM delivery_connections
      WHERE (settings->>'enabled')::boolean AND (next_check_at IS NULL OR next_check_at <= %(now)s)
      ORDER BY next_check_at NULLS FIRST LIMIT 100
      FOR UPDATE SKIP LOCKED) AS due
WHERE c.org_id = due.org_id AND c.target = due.target
RETURNING c.org_id, c.target

-- name: health_counts
SELECT target, CASE WHEN health_ok IS NULL THEN 'unknown' WHEN health_ok THEN 'ok'
       ELSE 'failing' END, count(*)
FROM delivery_connections WHERE (settings->>'enabled')::boolean GROUP BY 1, 2

-- name: try_lock
SELECT pg_try_advisory_lock(%(class)s, %(key)s)

-- name: unlock
SELECT pg_advisory_unlock(%(class)s, %(key)s)

-- name: all_credentials
SELECT credentials FROM delivery_connections

-- name: all_credentials_for_update
SELECT org_id, target, credentials FROM delivery_connections FOR UPDATE

-- name: replace_credentials
UPDATE delivery_connections SET credentials = %(credentials)s
WHERE org_id = %(org_id)s AND target = %(target)s
