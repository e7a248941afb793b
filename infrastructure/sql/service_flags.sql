-- One-off facts about this installation (infrastructure/service_flags.py).

-- name: is_set
SELECT 1 FROM service_flags WHERE name = %(name)s

-- name: set
INSERT INTO service_flags (name) VALUES (%(name)s) ON CONFLICT DO NOTHING
