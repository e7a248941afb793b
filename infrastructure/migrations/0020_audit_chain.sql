-- Per-organisation hash chain over the event log, written by the audit_chain projection.
-- Each link commits to the stored bytes of one event and to the link before it, so changing,
-- removing or slipping in an event row is found by recomputing (infrastructure/audit.py).
CREATE TABLE audit_chain (
    org_id uuid NOT NULL,
    seq bigint NOT NULL,
    notification_id bigint NOT NULL UNIQUE,
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    link text NOT NULL,
    PRIMARY KEY (org_id, seq)
);

-- The chain is append-only: rewriting it would hide tampering with the events it covers.
-- (A superuser can still disable this; auditors should also keep copies of the head hash.)
CREATE FUNCTION audit_chain_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_chain is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_chain_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_chain_append_only();

CREATE TRIGGER audit_chain_no_truncate
    BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_append_only();
