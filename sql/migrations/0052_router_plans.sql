-- 0052_router_plans: the router's per-step SQL with plans cached for the session.
--
-- Measured with track_functions (scripts/bench routing's workload): daemon_routing_state spent 6 ms of its own
-- per call and daemon_invoice_mail_facts 3 ms, nearly all of it planning. A LANGUAGE sql function that is not
-- inlined (SECURITY DEFINER and SET search_path prevent inlining) is planned again on every call; PL/pgSQL
-- keeps its statements' plans for the session. So daemon_routing_state becomes PL/pgSQL returning the same
-- JSON (epoch_us written out, for the same reason), and daemon_apply_routing reads the mail recipients and
-- the invoice's mail facts with its own (cached) queries instead of calling the two SQL functions of 0041;
-- the result is unchanged.
--
-- "New counterparty" (nothing ever paid to it) scanned every invoice for each step, as no index leads from a
-- counterparty to its invoices outside the duplicate checks' partial indexes: 0.7 ms per step at 600 invoices,
-- growing with the registry. invoice_counterparty_idx lets the planner start from whichever side is smaller.

SET LOCAL ROLE invoiceflow_owner;

CREATE INDEX invoice_counterparty_idx ON invoiceflow.invoice (counterparty_id) WHERE counterparty_id IS NOT NULL;
COMMENT ON INDEX invoiceflow.invoice_counterparty_idx IS
    'A counterparty''s invoices: the router''s "new counterparty" test (was anything ever paid to it?) per step.';

CREATE OR REPLACE FUNCTION invoiceflow.daemon_routing_state(p_invoice_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (
    -- The route is the pinned version, or the type's current one while the invoice is not pinned yet.
    -- "New counterparty": nothing was ever paid to it before (on another invoice).
    SELECT pg_catalog.jsonb_build_object(
        'now', (EXTRACT(epoch FROM pg_catalog.now()) OPERATOR(pg_catalog.*) 1000000)::bigint,
        'invoiceID', i.id,
        'type', t.code,
        'stage', i.stage,
        'pinnedVersion', i.route_version,
        'amountMinor', i.amount_minor,
        'currency', i.currency,
        'prepaymentPercent', CASE WHEN i.prepayment THEN coalesce(i.prepayment_percent, 100) ELSE 0 END,
        'urgent', i.urgent,
        'customs', i.customs,
        'outsideBudget', i.outside_budget,
        'goodsReceived', i.goods_received,
        'intercompany', i.receiving_subdivision_id IS NOT NULL,
        'newCounterparty', i.counterparty_id IS NOT NULL AND NOT EXISTS (
            SELECT FROM invoiceflow.payment AS p JOIN invoiceflow.invoice AS o ON o.id OPERATOR(pg_catalog.=) p.invoice_id
            WHERE o.counterparty_id OPERATOR(pg_catalog.=) i.counterparty_id AND o.id OPERATOR(pg_catalog.<>) i.id),
        'initiator', i.initiator_id,
        'initiatorDepartment', i.initiator_department_id,
        'payingSubdivision', i.paying_subdivision_id,
        'receivingSubdivision', i.receiving_subdivision_id,
        'roundStartedAt', (EXTRACT(epoch FROM i.stage_changed_at) OPERATOR(pg_catalog.*) 1000000)::bigint,
        'paidOn', (SELECT pg_catalog.max(p.paid_on) FROM invoiceflow.payment AS p
                   WHERE p.invoice_id OPERATOR(pg_catalog.=) i.id),
        'route', (SELECT v.body FROM invoiceflow.route_version AS v
                  WHERE v.invoice_type_id OPERATOR(pg_catalog.=) i.invoice_type_id
                    AND (i.route_version IS NULL OR v.version OPERATOR(pg_catalog.=) i.route_version)
                  ORDER BY v.version DESC LIMIT 1),
        'tasks', coalesce((
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                'id', k.id, 'stepKey', k.step_key, 'kind', k.kind, 'assignee', k.assignee_id,
                'actingFor', k.acting_for_id, 'outcome', k.outcome, 'decidedBy', k.decided_by,
                'decidedFor', k.decided_for_id, 'createdAt', (EXTRACT(epoch FROM k.created_at) OPERATOR(pg_catalog.*) 1000000)::bigint) ORDER BY k.id)
            FROM invoiceflow.task AS k WHERE k.invoice_id OPERATOR(pg_catalog.=) i.id), '[]'))
    FROM invoiceflow.invoice AS i
    JOIN invoiceflow.invoice_type AS t ON t.id OPERATOR(pg_catalog.=) i.invoice_type_id
    WHERE i.id OPERATOR(pg_catalog.=) p_invoice_id);
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_routing_state(bigint) IS
    'Daemon only: what the router needs to decide the next transition of an invoice — its routing facts (customs included), '
    'stage, route (pinned version, else current), every task, the start of the current round and the transaction time. '
    'NULL if unknown.';

CREATE OR REPLACE FUNCTION invoiceflow.daemon_apply_routing(
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
                FROM (SELECT DISTINCT e.id AS employee_id, e.full_name, e.email, e.locale
                      FROM invoiceflow.task AS t
                      CROSS JOIN LATERAL (VALUES (t.assignee_id), (t.acting_for_id)) AS p (id)
                      JOIN invoiceflow.employee AS e ON e.id OPERATOR(pg_catalog.=) p.id
                      WHERE t.id OPERATOR(pg_catalog.=) ANY (v_tasks) AND e.active) AS r), '[]'),
            'invoice', (
                SELECT pg_catalog.jsonb_build_object('invoice_id', i.id, 'number', i.supplier_invoice_number,
                    'counterparty', coalesce(c.name, r.name), 'amount_minor', i.amount_minor, 'currency', i.currency,
                    'purpose', i.purpose, 'initiator', e.full_name, 'paying_subdivision', s.name)
                FROM invoiceflow.invoice AS i
                JOIN invoiceflow.employee AS e ON e.id OPERATOR(pg_catalog.=) i.initiator_id
                JOIN invoiceflow.subdivision AS s ON s.id OPERATOR(pg_catalog.=) i.paying_subdivision_id
                LEFT JOIN invoiceflow.counterparty AS c ON c.id OPERATOR(pg_catalog.=) i.counterparty_id
                LEFT JOIN invoiceflow.subdivision AS r ON r.id OPERATOR(pg_catalog.=) i.receiving_subdivision_id
                WHERE i.id OPERATOR(pg_catalog.=) p_invoice_id));
    END IF;
    RETURN v_result;
END
$$;

RESET ROLE;
