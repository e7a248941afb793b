-- One-off facts about this installation, e.g. that the demo data was loaded.
CREATE TABLE service_flags (
    name text PRIMARY KEY,
    set_at timestamptz NOT NULL DEFAULT now()
);
