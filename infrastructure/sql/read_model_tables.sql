-- What every read model's tables share (infrastructure/projections/base.py); `{table}` is one
-- of the read model's own tables (class constants), filled in with psycopg.sql.

-- name: empty
-- A rebuild starts from empty tables.
DELETE FROM {table}
