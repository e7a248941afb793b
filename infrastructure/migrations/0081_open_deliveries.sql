-- Deliveries that have not ended (issue 14), written in the append's own transaction like
-- open_runs: the sweep finds a delivery whose job failed for good (pending or delivering, no
-- live job) without waiting for a read model, and queues it again.
CREATE TABLE open_deliveries (
    run_id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'delivering')),
    updated_at timestamptz NOT NULL
);
CREATE INDEX open_deliveries_updated ON open_deliveries (updated_at);

-- Deliveries already open when this migration runs: the last delivery event of each run.
DO $$
BEGIN
    IF to_regclass('export_service_events') IS NOT NULL THEN
        INSERT INTO open_deliveries (run_id, org_id, status, updated_at)
        SELECT last.originator_id, r.org_id,
               CASE WHEN last.topic LIKE '%.DeliveryQueued' OR last.topic LIKE '%.DeliveryRetryRequested'
                    THEN 'pending' ELSE 'delivering' END,
               now() - interval '1 hour'
        FROM (SELECT DISTINCT ON (originator_id) originator_id, topic
              FROM export_service_events
              WHERE topic LIKE '%:ExportRun.Delivery%' OR topic LIKE '%:ExportRun.LinesPosted'
              ORDER BY originator_id, originator_version DESC) AS last
        JOIN export_runs r ON r.run_id = last.originator_id
        WHERE last.topic NOT LIKE '%.DeliveryCompleted' AND last.topic NOT LIKE '%.DeliveryFailed'
        ON CONFLICT DO NOTHING;
    END IF;
END $$;
