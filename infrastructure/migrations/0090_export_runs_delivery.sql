-- The export_runs read model answers GET of a run as well as the list: it also holds the
-- delivery to the accounting system (null unless the run's delivery was queued). Its rows are
-- rebuilt from the log (the projection starts again from the first event), because rows
-- written before this migration have no delivery.
ALTER TABLE export_runs ADD COLUMN delivery jsonb;
DELETE FROM export_runs;
DO $$
BEGIN
    IF to_regclass('export_runs_tracking') IS NOT NULL THEN
        DELETE FROM export_runs_tracking;
    END IF;
END
$$;
