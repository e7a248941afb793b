-- Guard tables written in the event append's transaction, and the claims source data.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE export_run_periods (
    run_id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    period daterange NOT NULL,
    CONSTRAINT export_run_periods_no_overlap EXCLUDE USING gist (org_id WITH =, period WITH &&)
);

-- Periods that a completed run exported: claims approved in them and imported later are late.
CREATE TABLE covered_periods (
    run_id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    period daterange NOT NULL
);
CREATE INDEX covered_periods_org ON covered_periods USING gist (org_id, period);

CREATE TABLE claim_reservations (
    org_id uuid NOT NULL,
    claim_id uuid NOT NULL,
    run_id uuid NOT NULL,
    CONSTRAINT claim_reservations_claim_once PRIMARY KEY (org_id, claim_id)
);
CREATE INDEX claim_reservations_run ON claim_reservations (run_id);

CREATE TABLE idempotency_keys (
    org_id uuid NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    status_code integer,
    response jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE claims (
    org_id uuid NOT NULL,
    id uuid NOT NULL,
    claimant_id text NOT NULL,
    expense_date date NOT NULL,
    approved_at timestamptz NOT NULL,
    category text NOT NULL,
    amount numeric(14, 2) NOT NULL,
    currency char(3) NOT NULL,
    description text NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    CONSTRAINT claims_amount_positive CHECK (amount > 0)
);
CREATE INDEX claims_org_approved_day
    ON claims (org_id, ((approved_at AT TIME ZONE 'Europe/Oslo')::date));
