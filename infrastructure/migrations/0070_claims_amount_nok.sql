-- The NOK amount reimbursed for a claim in another currency: what the ledger posts.
ALTER TABLE claims ADD COLUMN IF NOT EXISTS amount_nok numeric(14, 2);
ALTER TABLE claims ADD CONSTRAINT claims_amount_nok_positive CHECK (amount_nok > 0);
