-- Corrections of claims that an export run already holds: accepted but never applied. Kept so
-- the organisation (dashboard) and the operator (/metrics) see how many arrived too late.
CREATE TABLE late_corrections (
    org_id uuid NOT NULL,
    claim_id uuid NOT NULL,
    run_id uuid NOT NULL,
    changed text[] NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX late_corrections_org ON late_corrections (org_id, received_at);
