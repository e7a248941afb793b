-- Group commit: appends that arrive together in one process are written in one transaction
-- (one commit, one WAL flush, one hold of the events table's lock), yet each is still refused
-- on its own when one of its guards fails.
--
-- Phase 1, per append, in its own subtransaction: its statements (queued jobs, guard rows, the
-- remembered answer), bound on the client. A failing statement undoes that append's statements
-- only, and the append is reported as refused with the SQLSTATE and constraint of the failure.
-- Phase 2, once: the events table's lock (taken only after every guard has run, as a single
-- append does, so a guard waiting on another transaction never waits while holding the lock),
-- the events of the appends that were not refused in one INSERT, in their order, and the
-- NOTIFY. A failure there (two appends of one aggregate version) aborts the whole group: the
-- caller then writes each append on its own.
CREATE OR REPLACE FUNCTION export_service_append_group(
    statements text[],
    statement_owner int[],
    appends int,
    event_owner int[],
    event_ids uuid[],
    event_versions bigint[],
    event_topics text[],
    event_states bytea[]
) RETURNS TABLE (append_no int, event_id uuid, event_version bigint, event_position bigint,
                 refused_state text, refused_constraint text)
LANGUAGE plpgsql AS $$
DECLARE
    a int;
    s int;
    refused int[] := '{}';
    failed_state text;
    failed_constraint text;
BEGIN
    FOR a IN 1 .. appends LOOP
        BEGIN
            FOR s IN 1 .. coalesce(array_length(statements, 1), 0) LOOP
                IF statement_owner[s] = a THEN
                    EXECUTE statements[s];
                END IF;
            END LOOP;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS failed_state = RETURNED_SQLSTATE,
                                    failed_constraint = CONSTRAINT_NAME;
            refused := refused || a;
            RETURN QUERY SELECT a, NULL::uuid, NULL::bigint, NULL::bigint, failed_state,
                                nullif(failed_constraint, '');
        END;
    END LOOP;
    IF EXISTS (SELECT FROM unnest(event_owner) AS o(owner) WHERE o.owner <> ALL (refused)) THEN
        LOCK TABLE export_service_events IN EXCLUSIVE MODE;
        RETURN QUERY
            INSERT INTO export_service_events AS ev
                (originator_id, originator_version, topic, state)
            SELECT e.id, e.version, e.topic, e.state
            FROM unnest(event_owner, event_ids, event_versions, event_topics, event_states)
                WITH ORDINALITY AS e(owner, id, version, topic, state, ord)
            WHERE e.owner <> ALL (refused)
            ORDER BY e.ord
            RETURNING NULL::int, ev.originator_id, ev.originator_version::bigint,
                      ev.notification_id::bigint, NULL::text, NULL::text;
        PERFORM pg_notify('export_service_events', '');
    END IF;
END
$$;
