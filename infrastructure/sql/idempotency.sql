-- Idempotency-Key records per organisation (infrastructure/idempotency.py).

-- name: reserve
-- A new key, or a key whose first request died without an answer `abandoned_after` seconds ago.
INSERT INTO idempotency_keys (org_id, key, fingerprint)
VALUES (%(org_id)s, %(key)s, %(fingerprint)s)
ON CONFLICT (org_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, created_at = now()
WHERE idempotency_keys.status_code IS NULL
  AND idempotency_keys.created_at < now() - make_interval(secs => %(abandoned_after)s)
RETURNING 1

-- name: stored
SELECT fingerprint, status_code, response FROM idempotency_keys
WHERE org_id = %(org_id)s AND key = %(key)s

-- name: finish
UPDATE idempotency_keys SET status_code = %(status_code)s, response = %(body)s, completed_at = now()
WHERE org_id = %(org_id)s AND key = %(key)s AND status_code IS NULL

-- name: abandon
DELETE FROM idempotency_keys WHERE org_id = %(org_id)s AND key = %(key)s AND status_code IS NULL

-- name: purge
DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => %(hours)s)
