-- Approved expense claims (infrastructure/claims.py): the import's upsert, late corrections,
-- and the claims an export run may take.

-- name: upsert
-- New and changed claims, a batch in one statement (arrays, one per column).
INSERT INTO claims (org_id, id, claimant_id, expense_date, approved_at, category, amount,
                    currency, description, amount_nok)
SELECT %(org_id)s, * FROM unnest(%(ids)s::uuid[], %(claimants)s::text[], %(expense)s::date[],
                               %(approved)s::timestamptz[], %(categories)s::text[],
                               %(amounts)s::numeric[], %(currencies)s::text[], %(descr)s::text[],
                               %(amounts_nok)s::numeric[])
ON CONFLICT (org_id, id) DO UPDATE SET
    claimant_id = EXCLUDED.claimant_id, expense_date = EXCLUDED.expense_date,
    approved_at = EXCLUDED.approved_at, category = EXCLUDED.category, amount = EXCLUDED.amount,
    currency = EXCLUDED.currency, description = EXCLUDED.description,
    amount_nok = EXCLUDED.amount_nok, imported_at = now()

-- name: stored
-- The stored claims of a batch, locked for this transaction, with the run that holds each.
SELECT c.id, c.claimant_id, c.expense_date, c.approved_at, c.category, c.amount, c.currency,
       c.description, c.amount_nok, r.run_id
FROM claims c LEFT JOIN claim_reservations r ON r.org_id = c.org_id AND r.claim_id = c.id
WHERE c.org_id = %(org_id)s AND c.id = ANY(%(ids)s::uuid[])
FOR UPDATE OF c

-- name: record_late
-- A correction that arrived after an export run took the claim: kept, not applied.
INSERT INTO late_corrections (org_id, claim_id, run_id, changed)
VALUES (%(org_id)s, %(claim_id)s, %(run_id)s, %(changed)s)

-- name: late_count
SELECT count(*) FROM late_corrections WHERE %(org_id)s::uuid IS NULL OR org_id = %(org_id)s

-- name: candidates
-- Claims approved (Oslo date) in the period, plus late ones: approved before the period on a
-- day that a completed run already covered. None that any active or completed run holds.
SELECT c.id, c.claimant_id, c.expense_date, c.approved_at, c.category, c.amount::text AS amount,
       c.currency, c.description, c.amount_nok::text AS amount_nok,
       (c.approved_at AT TIME ZONE 'Europe/Oslo')::date < %(start)s AS late
FROM claims c
WHERE c.org_id = %(org_id)s
  AND NOT EXISTS (SELECT 1 FROM claim_reservations r
                  WHERE r.org_id = c.org_id AND r.claim_id = c.id)
  AND (
    (c.approved_at AT TIME ZONE 'Europe/Oslo')::date BETWEEN %(start)s AND %(end)s
    OR (
      (c.approved_at AT TIME ZONE 'Europe/Oslo')::date < %(start)s
      AND EXISTS (SELECT 1 FROM covered_periods p
                  WHERE p.org_id = c.org_id
                    AND p.period @> (c.approved_at AT TIME ZONE 'Europe/Oslo')::date)
    )
  )
ORDER BY c.approved_at, c.id
