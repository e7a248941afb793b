-- Activity records and their attachments (infrastructure/activities.py).

-- name: upsert
-- A whole batch in one statement: one array per column.
INSERT INTO activities (org_id, id, date, activity_type, participants, municipality,
                        description, duration_minutes, extra, end_date, contact_mode)
SELECT %(org_id)s, * FROM unnest(%(ids)s::text[], %(dates)s::date[], %(types)s::text[],
                               %(participants)s::int[], %(municipalities)s::text[],
                               %(descr)s::text[], %(durations)s::int[], %(extras)s::jsonb[],
                               %(end_dates)s::date[], %(contact_modes)s::text[])
ON CONFLICT (org_id, id) DO UPDATE SET
    date = EXCLUDED.date, activity_type = EXCLUDED.activity_type,
    participants = EXCLUDED.participants, municipality = EXCLUDED.municipality,
    description = EXCLUDED.description, duration_minutes = EXCLUDED.duration_minutes,
    extra = EXCLUDED.extra, end_date = EXCLUDED.end_date,
    contact_mode = EXCLUDED.contact_mode, updated_at = now()

-- name: exists
SELECT 1 FROM activities WHERE org_id = %(org_id)s AND id = %(id)s

-- name: period
SELECT id, date, activity_type, participants, municipality, description, duration_minutes, extra,
       end_date, contact_mode
FROM activities WHERE org_id = %(org_id)s AND date BETWEEN %(start)s AND %(end)s
ORDER BY date, id

-- name: count_period
SELECT count(*) FROM activities
WHERE org_id = %(org_id)s AND date BETWEEN %(start)s AND %(end)s

-- name: upsert_attachment
INSERT INTO activity_attachments (org_id, activity_id, name, storage_path, content_type,
                                  size_bytes, sha256)
VALUES (%(org_id)s, %(activity_id)s, %(name)s, %(path)s, %(content_type)s, %(size)s, %(sha256)s)
ON CONFLICT (org_id, activity_id, name) DO UPDATE SET
    storage_path = EXCLUDED.storage_path, content_type = EXCLUDED.content_type,
    size_bytes = EXCLUDED.size_bytes, sha256 = EXCLUDED.sha256, uploaded_at = now()

-- name: attachments
SELECT activity_id, name, storage_path FROM activity_attachments
WHERE org_id = %(org_id)s AND activity_id = ANY(%(ids)s) ORDER BY activity_id, name
