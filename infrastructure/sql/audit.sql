-- The audit chain check, chain heads and evidence bundles (infrastructure/audit.py,
-- audit_heads.py, evidence.py). `{events}` is the events table (filled in with psycopg.sql).

-- name: chain_with_rows
-- The organisation's chain in order, each link beside the event row it was computed from
-- (no row: the event was removed).
SELECT c.seq, c.notification_id, c.originator_id, c.originator_version, c.link,
       e.notification_id AS e_notification_id, e.originator_id AS e_originator_id,
       e.originator_version AS e_originator_version, e.topic, e.state
FROM audit_chain c LEFT JOIN {events} e ON e.notification_id = c.notification_id
WHERE c.org_id = %(org_id)s ORDER BY c.seq

-- name: unchained
-- Event rows at or below the chain's end that no link covers (inserted afterwards).
SELECT e.notification_id, e.originator_id, e.originator_version, e.state
FROM {events} e
WHERE e.notification_id <= (SELECT coalesce(max(notification_id), 0) FROM audit_chain)
  AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.notification_id = e.notification_id)
ORDER BY e.notification_id

-- name: chained_orgs
SELECT DISTINCT org_id FROM audit_chain ORDER BY org_id

-- name: head
SELECT seq, link FROM audit_chain WHERE org_id = %(org_id)s ORDER BY seq DESC LIMIT 1

-- name: run_rows
-- One run's events exactly as stored.
SELECT notification_id, originator_id, originator_version, topic, state
FROM {events} WHERE originator_id = %(run_id)s ORDER BY originator_version

-- name: run_links
SELECT c.seq, c.notification_id, c.originator_version, c.link, p.link AS prev_link
FROM audit_chain c LEFT JOIN audit_chain p ON p.org_id = c.org_id AND p.seq = c.seq - 1
WHERE c.org_id = %(org_id)s AND c.originator_id = %(run_id)s ORDER BY c.seq
