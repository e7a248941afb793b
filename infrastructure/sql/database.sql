-- Creating the service's database on a server (infrastructure/database.py).

-- name: database_exists
SELECT 1 FROM pg_database WHERE datname = %(dbname)s

-- name: create_database
CREATE DATABASE {dbname}

-- name: ping
SELECT 1
