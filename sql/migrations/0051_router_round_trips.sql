-- 0051_router_round_trips: the router's step in two calls instead of one per write, and the reference
-- data it reads (company structure, working calendar) cached in the daemon between changes.
--
-- A routing step used to cost ten or more round trips (claim, state, org snapshot, calendar, one call
-- per task, note, stage, completion), and the org snapshot was rebuilt and decoded for every item. Now:
--   daemon_next_routing   claims an item and returns its routing state, plus the org snapshot and the
--                         stored calendar only when they changed since the version the caller holds;
--   daemon_apply_routing  writes the whole decision (the same daemon_* functions, in order) and marks
--                         the item done, returning the new tasks and what their mails need.
-- Both run inside the caller's routing transaction, so exactly-once routing is unchanged.
--
-- The version: one counter row, bumped by statement-level triggers on every table the snapshot or the
-- calendar reads. It is transactional, so a router that reads version v in the same statement as the
-- snapshot never caches a snapshot newer or older than v. The snapshot also depends on the clock
-- (assignments and substitutions start and end; the calendar window follows today), so it comes with
-- the moment it stops being valid: the next validity bound after now, or the next Moscow midnight.

SET LOCAL ROLE invoiceflow_owner;

CREATE TABLE invoiceflow_private.routing_reference_version (
    singleton boolean NOT NULL DEFAULT true CONSTRAINT routing_reference_version_pkey PRIMARY KEY
        CONSTRAINT routing_reference_version_singleton CHECK (singleton),
    version bigint NOT NULL
);
COMMENT ON TABLE invoiceflow_private.routing_reference_version IS
    'One row: a counter bumped by every change to the company structure or the working calendar, so the router '
    'rebuilds its cached org snapshot and calendar only when they changed.';
COMMENT ON COLUMN invoiceflow_private.routing_reference_version.version IS
    'Increases with every statement that changes subdivisions, departments, positions, employees, assignments, '
    'substitutions or calendar days.';
INSERT INTO invoiceflow_private.routing_reference_version (version) VALUES (1);
ALTER TABLE invoiceflow_private.routing_reference_version ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoiceflow_private.routing_reference_version FORCE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE invoiceflow_private.routing_reference_version FROM PUBLIC;
CREATE POLICY owner_all ON invoiceflow_private.routing_reference_version AS PERMISSIVE FOR ALL TO invoiceflow_owner
    USING (true) WITH CHECK (true);
COMMENT ON POLICY owner_all ON invoiceflow_private.routing_reference_version IS
    'The owner (NOLOGIN; used only by migrations and definer functions) reads and bumps the counter: FORCE RLS '
    'would otherwise deny it. Nobody else reads it directly.';

CREATE FUNCTION invoiceflow_private.routing_reference_bump() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- Definer: whoever changed the structure (an admin command, a migration, a superuser) bumps the counter,
    -- which nobody else may write.
    UPDATE invoiceflow_private.routing_reference_version SET version = version OPERATOR(pg_catalog.+) 1;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.routing_reference_bump() IS
    'Trigger (per statement): bumps routing_reference_version after a change to what the router caches.';
REVOKE ALL ON FUNCTION invoiceflow_private.routing_reference_bump() FROM PUBLIC;

DO $$
DECLARE
    t regclass;
BEGIN
    FOREACH t IN ARRAY ARRAY['invoiceflow.subdivision', 'invoiceflow.department', 'invoiceflow.position',
                             'invoiceflow.employee', 'invoiceflow.assignment', 'invoiceflow.substitution',
                             'invoiceflow.working_calendar_day']::regclass[] LOOP
        EXECUTE format('CREATE TRIGGER routing_reference_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION invoiceflow_private.routing_reference_bump()', t);
    END LOOP;
END
$$;

CREATE FUNCTION invoiceflow_private.routing_reference_horizon() RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    -- LEAST ignores NULLs: with no bound ahead, the calendar's midnight decides.
    SELECT LEAST(
        (SELECT pg_catalog.min(b.at) FROM (
            SELECT pg_catalog.lower(a.valid) AS at FROM invoiceflow.assignment AS a
            UNION ALL SELECT pg_catalog.upper(a.valid) FROM invoiceflow.assignment AS a
            UNION ALL SELECT pg_catalog.lower(s.valid) FROM invoiceflow.substitution AS s
            UNION ALL SELECT pg_catalog.upper(s.valid) FROM invoiceflow.substitution AS s) AS b
         WHERE b.at OPERATOR(pg_catalog.>) pg_catalog.now()),
        (pg_catalog.date_trunc('day', pg_catalog.now() AT TIME ZONE 'Europe/Moscow') OPERATOR(pg_catalog.+) interval '1 day')
            AT TIME ZONE 'Europe/Moscow')
$$;
COMMENT ON FUNCTION invoiceflow_private.routing_reference_horizon() IS
    'When the org snapshot and calendar window built now stop being valid without any write: the next start or end '
    'of an assignment or substitution, or the next midnight in Moscow (the calendar window moves daily).';
REVOKE ALL ON FUNCTION invoiceflow_private.routing_reference_horizon() FROM PUBLIC;

CREATE FUNCTION invoiceflow.daemon_next_routing(p_worker text, p_reference_version bigint DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_item record;
BEGIN
    SELECT * INTO v_item FROM invoiceflow.daemon_claim_routing(p_worker);
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- One statement, so the version, the snapshot and the calendar come from one database snapshot.
    RETURN (
        SELECT pg_catalog.jsonb_build_object(
            'workItemID', v_item.work_item_id, 'invoiceID', v_item.invoice_id, 'kind', v_item.kind,
            'attempts', v_item.attempts,
            'state', invoiceflow.daemon_routing_state(v_item.invoice_id),
            'reference', CASE WHEN r.version IS DISTINCT FROM p_reference_version THEN pg_catalog.jsonb_build_object(
                'version', r.version,
                'validUntil', invoiceflow_private.epoch_us(invoiceflow_private.routing_reference_horizon()),
                'org', invoiceflow.daemon_org_snapshot(pg_catalog.now()),
                'calendar', invoiceflow.daemon_calendar_exceptions()) END)
        FROM invoiceflow_private.routing_reference_version AS r);
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_next_routing(text, bigint) IS
    'Daemon only: claims one routing work item (as daemon_claim_routing) and returns it with its routing state; adds the '
    'org snapshot, the stored calendar, their version and when they expire unless p_reference_version is current. '
    'NULL when nothing is claimable.';

CREATE FUNCTION invoiceflow.daemon_apply_routing(
    p_work_item_id bigint, p_invoice_id bigint, p_actions jsonb, p_with_mail boolean DEFAULT false
) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_action jsonb;
    v_tasks bigint[] := '{}';
    v_parked boolean := false;
    v_result jsonb;
BEGIN
    IF p_actions IS NULL OR pg_catalog.jsonb_typeof(p_actions) OPERATOR(pg_catalog.<>) 'array' THEN
        PERFORM invoiceflow_private.invalid('p_actions', 'must be a JSON array of actions');
    END IF;
    FOR v_action IN SELECT e.value FROM pg_catalog.jsonb_array_elements(p_actions) AS e LOOP
        IF v_parked THEN
            PERFORM invoiceflow_private.invalid('p_actions', 'nothing may follow park');
        END IF;
        CASE v_action ->> 'op'
            WHEN 'pin' THEN
                PERFORM invoiceflow.daemon_pin_route(p_invoice_id, (v_action ->> 'version')::integer);
            WHEN 'cancel' THEN
                PERFORM invoiceflow.daemon_cancel_task((v_action ->> 'task')::bigint, v_action ->> 'reason');
            WHEN 'task' THEN
                v_tasks := v_tasks OPERATOR(pg_catalog.||) invoiceflow.daemon_create_task(
                    p_invoice_id, v_action ->> 'step', v_action ->> 'kind', (v_action ->> 'assignee')::bigint,
                    (v_action ->> 'actingFor')::bigint,
                    pg_catalog.to_timestamp(((v_action ->> 'dueAt')::numeric OPERATOR(pg_catalog./) 1000000)::double precision));
            WHEN 'stage' THEN
                PERFORM invoiceflow.daemon_set_stage(p_invoice_id, v_action ->> 'stage');
            WHEN 'note' THEN
                PERFORM invoiceflow.daemon_note_routing(p_invoice_id, v_action ->> 'action', v_action -> 'detail',
                    v_action ->> 'comment');
            WHEN 'park' THEN
                PERFORM invoiceflow.daemon_park_routing(p_work_item_id, v_action ->> 'reason');
                v_parked := true;
            ELSE
                PERFORM invoiceflow_private.invalid('p_actions', pg_catalog.format('unknown action %s', v_action ->> 'op'));
        END CASE;
    END LOOP;
    IF NOT v_parked THEN
        PERFORM invoiceflow.daemon_complete_routing(p_work_item_id);
    END IF;
    v_result := pg_catalog.jsonb_build_object('tasks', pg_catalog.to_jsonb(v_tasks));
    IF p_with_mail AND pg_catalog.cardinality(v_tasks) OPERATOR(pg_catalog.>) 0 THEN
        v_result := v_result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
            'recipients', coalesce((
                SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id', r.employee_id, 'name', r.full_name,
                    'email', r.email, 'locale', r.locale))
                FROM invoiceflow.daemon_mail_recipients(ARRAY(
                    SELECT p.id FROM invoiceflow.task AS t
                    CROSS JOIN LATERAL (VALUES (t.assignee_id), (t.acting_for_id)) AS p (id)
                    WHERE t.id OPERATOR(pg_catalog.=) ANY (v_tasks) AND p.id IS NOT NULL)) AS r), '[]'),
            'invoice', (SELECT pg_catalog.to_jsonb(f) FROM invoiceflow.daemon_invoice_mail_facts(p_invoice_id) AS f));
    END IF;
    RETURN v_result;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_apply_routing(bigint, bigint, jsonb, boolean) IS
    'Daemon only, in the claiming transaction: writes a routing decision — a JSON array of {op: pin|cancel|task|stage|'
    'note|park, ...} applied in order through the daemon_* functions — then marks the work item done unless parked. '
    'Returns {"tasks": [new task ids]} and, with p_with_mail, the recipients (assignees and those they act for) and the '
    'invoice''s mail facts.';

REVOKE ALL ON FUNCTION invoiceflow.daemon_next_routing(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.daemon_next_routing(text, bigint) TO invoiceflow_daemon;
REVOKE ALL ON FUNCTION invoiceflow.daemon_apply_routing(bigint, bigint, jsonb, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.daemon_apply_routing(bigint, bigint, jsonb, boolean) TO invoiceflow_daemon;

RESET ROLE;
