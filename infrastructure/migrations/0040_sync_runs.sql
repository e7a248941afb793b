-- Sync runs (issue 6): guard rows written in the event append's transaction, the schedules
-- table kept by the schedule's events, and the sync_run_log read model with its archive.

-- One row per sync run that is pending or running; removed by the run's end event. The partial
-- unique index is what refuses a second running sync of an organisation and integration type.
CREATE TABLE running_syncs (
    run_id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    integration_type text NOT NULL,
    started_at timestamptz,
    running boolean NOT NULL DEFAULT true,
    export_run_id uuid
);
CREATE UNIQUE INDEX running_syncs_one_per_integration
    ON running_syncs (org_id, integration_type) WHERE running;
CREATE INDEX running_syncs_started ON running_syncs (started_at) WHERE running;

-- The idempotency key (organisation, integration, scheduled time) of every scheduled start:
-- a late, repeated or concurrent scheduler tick cannot start the same scheduled sync twice.
CREATE TABLE scheduled_sync_starts (
    key text NOT NULL,
    run_id uuid NOT NULL,
    org_id uuid NOT NULL,
    integration_type text NOT NULL,
    scheduled_for timestamptz NOT NULL,
    CONSTRAINT scheduled_sync_starts_once PRIMARY KEY (key)
);
CREATE INDEX scheduled_sync_starts_last
    ON scheduled_sync_starts (org_id, integration_type, scheduled_for DESC);

-- Current schedules, written by SyncSchedule events in the same transaction (audited).
CREATE TABLE sync_schedules (
    org_id uuid NOT NULL,
    integration_type text NOT NULL,
    schedule_id uuid NOT NULL,
    cron text NOT NULL,
    timezone text NOT NULL,
    period text NOT NULL,
    configured_at timestamptz NOT NULL,
    version integer NOT NULL,
    PRIMARY KEY (org_id, integration_type)
);

-- Read model of sync runs, rebuilt from events by the sync_run_log projection.
CREATE TABLE sync_run_log (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    integration_type text NOT NULL,
    status text NOT NULL
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    triggered_by text NOT NULL CHECK (triggered_by IN ('scheduler', 'manual')),
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    records_processed integer NOT NULL DEFAULT 0,
    records_failed integer NOT NULL DEFAULT 0,
    error_message text,
    duration_seconds double precision,
    scheduled_for timestamptz,
    drift_seconds double precision,
    drift_flagged boolean NOT NULL DEFAULT false,
    export_run_id uuid,
    version integer NOT NULL
);
CREATE INDEX sync_run_log_org_type_started
    ON sync_run_log (org_id, integration_type, started_at DESC);
CREATE INDEX sync_run_log_org_started ON sync_run_log (org_id, started_at DESC);

-- Finished runs older than their organisation's archive cut-off (an event), moved by the
-- projection itself so that a rebuild puts every row where it was.
CREATE TABLE sync_run_log_archive (LIKE sync_run_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE sync_run_log_archive ADD PRIMARY KEY (id);
CREATE INDEX sync_run_log_archive_org_type_started
    ON sync_run_log_archive (org_id, integration_type, started_at DESC);
CREATE INDEX sync_run_log_archive_org_started ON sync_run_log_archive (org_id, started_at DESC);

CREATE TABLE sync_run_log_cutoffs (
    org_id uuid PRIMARY KEY,
    cutoff timestamptz NOT NULL
);
