-- Queries of the batched projection runner (infrastructure/projections/batching.py).
-- `{tracking}` (the projection's tracking table) and `{events}` are filled in once per runner.

-- name: claim_position
-- Make sure the projection has a tracking row, so the next query can lock it.
INSERT INTO {tracking} (application_name, notification_id) VALUES (%(app)s, 0)
ON CONFLICT (application_name) DO NOTHING

-- name: lock_position
-- One writer per projection at a time: the batch transaction holds this row until it commits,
-- and a runner whose remembered position differs re-reads instead of writing twice.
SELECT notification_id FROM {tracking} WHERE application_name = %(app)s FOR UPDATE

-- name: advance_position
UPDATE {tracking} SET notification_id = %(position)s WHERE application_name = %(app)s

-- name: forget_position
-- A rebuild starts again from the first event.
DELETE FROM {tracking} WHERE application_name = %(app)s

-- name: head
SELECT coalesce(max(notification_id), 0) FROM {events}

-- name: page
-- The next page of the log after the position (one statement, so one snapshot): the rows of the
-- topics the projection handles (all when `every` is true), then one row without a topic that
-- carries the page's last notification id, so the position moves past events nobody handles.
-- Notification ids commit in order (appends hold the events table's EXCLUSIVE lock), so no
-- event below the page's end can appear later.
-- The payload of the topics the projection takes bare (`bare`) is not read at all.
WITH page AS (
    SELECT notification_id, originator_id, originator_version, topic,
           CASE WHEN topic = ANY(%(bare)s::text[]) THEN NULL ELSE state END AS state
    FROM {events}
    WHERE notification_id > %(after)s
    ORDER BY notification_id
    LIMIT %(size)s
)
SELECT notification_id, originator_id, originator_version, topic, state
FROM page WHERE %(every)s OR topic = ANY(%(topics)s::text[])
UNION ALL
SELECT max(notification_id), NULL, NULL, NULL, NULL FROM page HAVING count(*) > 0
ORDER BY notification_id, topic NULLS LAST

-- name: last_links
-- The newest audit link of each organisation the runner has not met yet (then remembered).
SELECT newest.org_id, newest.seq, newest.link
FROM unnest(%(orgs)s::uuid[]) AS o(org_id)
CROSS JOIN LATERAL (
    SELECT a.org_id, a.seq, a.link FROM audit_chain a
    WHERE a.org_id = o.org_id ORDER BY a.seq DESC LIMIT 1
) newest

-- name: copy_links
COPY audit_chain (org_id, seq, notification_id, originator_id, originator_version, link)
FROM STDIN (FORMAT BINARY)

-- name: listen
-- Appends notify on the events table's channel; a runner waits on it when idle.
LISTEN {events}

-- name: tracking_exists
SELECT to_regclass(%(table)s) IS NOT NULL

-- name: position
-- The projection's position (its last event committed), without locking it.
SELECT max(notification_id) FROM {tracking} WHERE application_name = %(app)s
