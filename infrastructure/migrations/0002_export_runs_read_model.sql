-- Read model of export runs, rebuilt from events by the export_runs projection.
CREATE TABLE export_runs (
    run_id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    period_start date NOT NULL,
    period_end date NOT NULL,
    target text NOT NULL,
    status text NOT NULL,
    record_count integer NOT NULL DEFAULT 0,
    file jsonb,
    error jsonb,
    created_at timestamptz NOT NULL,
    completed_at timestamptz,
    version integer NOT NULL
);
CREATE INDEX export_runs_org_created ON export_runs (org_id, created_at DESC, run_id DESC);
CREATE INDEX export_runs_org_status ON export_runs (org_id, status, created_at DESC);
