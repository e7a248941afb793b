-- Delivery by API (issue 14): one connection per organisation and target. Credentials are a
-- Fernet token (never plain text); they are rewritten in place by key rotation, which is why
-- they live here and not in the event log. Health is operational state, checked at most every
-- 15 minutes. Every change of a connection is appended to delivery_connection_changes
-- (without secrets), so an auditor sees who aimed the service where, and when.
CREATE TABLE delivery_connections (
    org_id uuid NOT NULL,
    target text NOT NULL CHECK (target IN ('xledger', 'dynamics')),
    settings jsonb NOT NULL,
    credentials bytea NOT NULL,
    configured_at timestamptz NOT NULL DEFAULT now(),
    configured_by text NOT NULL,
    health_ok boolean,
    health_at timestamptz,
    health_message text,
    health_failures integer NOT NULL DEFAULT 0,
    next_check_at timestamptz,
    PRIMARY KEY (org_id, target)
);
CREATE INDEX delivery_connections_due ON delivery_connections (next_check_at);

CREATE TABLE delivery_connection_changes (
    id bigserial PRIMARY KEY,
    org_id uuid NOT NULL,
    target text NOT NULL,
    settings jsonb NOT NULL,
    credentials_changed boolean NOT NULL,
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_connection_changes_org ON delivery_connection_changes (org_id, target, id);
