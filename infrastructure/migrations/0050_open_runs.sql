-- Runs that have not ended, written in the append's own transaction (guard rows), so the sweep
-- finds stuck and orphaned runs without waiting for a read model to catch up.
CREATE TABLE open_runs (
    run_id uuid PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('export_run', 'bufdir_export')),
    org_id uuid NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX open_runs_kind_status ON open_runs (kind, status);

-- Runs already open when this migration runs (the read models were current at shutdown).
INSERT INTO open_runs (run_id, kind, org_id, status, created_at, updated_at)
SELECT run_id, 'export_run', org_id, status, created_at, created_at
FROM export_runs WHERE status IN ('pending', 'running')
ON CONFLICT DO NOTHING;
INSERT INTO open_runs (run_id, kind, org_id, status, created_at, updated_at)
SELECT export_id, 'bufdir_export', org_id, status, created_at, updated_at
FROM bufdir_audit_log WHERE status NOT IN ('completed', 'completed_empty', 'failed')
ON CONFLICT DO NOTHING;
