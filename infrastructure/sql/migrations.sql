-- The migration ledger (infrastructure/migrations/__init__.py): which migration was applied
-- when and with which checksum, written under an advisory lock so parallel starts wait.

-- name: lock
SELECT pg_advisory_lock(%(lock_id)s)

-- name: unlock
SELECT pg_advisory_unlock(%(lock_id)s)

-- name: create_ledger
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- name: ledger_exists
SELECT to_regclass('schema_migrations') IS NOT NULL

-- name: applied
SELECT version, name, checksum, applied_at FROM schema_migrations

-- name: record
INSERT INTO schema_migrations (version, name, checksum)
VALUES (%(version)s, %(name)s, %(checksum)s)
