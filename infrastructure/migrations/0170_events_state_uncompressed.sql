-- A run's ClaimsTaken events hold up to 5 000 claims each, about 1 MB of JSON. PostgreSQL's
-- default storage compresses such a value (pglz) while the append holds the events table's
-- lock, at some 70 MB/s: a third of a second of a 100 000-claim take went to it (measured on
-- the export benchmark). Stored as they are, still out of line in the TOAST table, those
-- events take about twice the disk and no CPU; events under 2 kB were never compressed.
-- Events already stored keep their form (PostgreSQL reads both).
ALTER TABLE export_service_events ALTER COLUMN state SET STORAGE EXTERNAL;
