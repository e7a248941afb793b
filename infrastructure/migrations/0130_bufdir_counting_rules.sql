-- What the counting rules need from an activity (API contract, "Source data"): the last day of
-- an activity held over several days, and how a one-to-one peer contact took place.
ALTER TABLE activities ADD COLUMN IF NOT EXISTS end_date date;
ALTER TABLE activities ADD COLUMN IF NOT EXISTS contact_mode text;
ALTER TABLE activities DROP CONSTRAINT IF EXISTS activities_end_not_before_start;
ALTER TABLE activities ADD CONSTRAINT activities_end_not_before_start
    CHECK (end_date IS NULL OR end_date >= date);
ALTER TABLE activities DROP CONSTRAINT IF EXISTS activities_contact_mode_known;
ALTER TABLE activities ADD CONSTRAINT activities_contact_mode_known
    CHECK (contact_mode IS NULL OR contact_mode IN ('in_person', 'phone', 'video', 'written'));

-- The counted figures of a completed export, as its Completed event says (rebuilt with it).
ALTER TABLE bufdir_audit_log ADD COLUMN IF NOT EXISTS summary jsonb;
