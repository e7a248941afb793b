-- Activity records for Bufdir reporting (source data), their attachments, and the
-- bufdir_audit_log read model rebuilt from BufdirExport events by its projection.
CREATE TABLE activities (
    org_id uuid NOT NULL,
    id text NOT NULL,
    date date NOT NULL,
    activity_type text NOT NULL,
    participants integer NOT NULL,
    municipality char(4) NOT NULL,
    description text NOT NULL,
    duration_minutes integer,
    extra jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    CONSTRAINT activities_participants_not_negative CHECK (participants >= 0),
    CONSTRAINT activities_duration_positive CHECK (duration_minutes IS NULL OR duration_minutes > 0),
    CONSTRAINT activities_municipality_digits CHECK (municipality ~ '^[0-9]{4}$')
);
CREATE INDEX activities_org_date ON activities (org_id, date, id);

CREATE TABLE activity_attachments (
    org_id uuid NOT NULL,
    activity_id text NOT NULL,
    name text NOT NULL,
    storage_path text NOT NULL,
    content_type text NOT NULL,
    size_bytes bigint NOT NULL,
    sha256 text NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, activity_id, name),
    FOREIGN KEY (org_id, activity_id) REFERENCES activities (org_id, id) ON DELETE CASCADE
);

CREATE TABLE bufdir_audit_log (
    export_id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    period_start date NOT NULL,
    period_end date NOT NULL,
    format text NOT NULL,
    include_attachments boolean NOT NULL,
    config_version integer NOT NULL,
    status text NOT NULL,
    row_count integer NOT NULL DEFAULT 0,
    file_size_bytes bigint,
    file jsonb,
    error_message text,
    status_history jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX bufdir_audit_log_org_created ON bufdir_audit_log (org_id, created_at DESC);
CREATE INDEX bufdir_audit_log_open ON bufdir_audit_log (updated_at)
    WHERE status NOT IN ('completed', 'completed_empty', 'failed');
