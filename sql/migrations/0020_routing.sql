-- 0020_routing: what the router needs beyond 0009 — routes stored as immutable, versioned data, an
-- invoice pinned to the version it was submitted with (invariant 10), the router's reads (an org
-- snapshot and an invoice's routing state, which RLS would hide from the daemon), a claim that keeps
-- per-invoice order, and retry/park bookkeeping for work items that fail.
--
-- The router works in ONE transaction per work item: daemon_claim_routing locks the invoice and the
-- item (SKIP LOCKED, so replicas never wait for each other), the router writes tasks, stage and audit
-- rows through the daemon_* functions, and daemon_complete_routing marks the item done before COMMIT.
-- A crash rolls everything back and the item is claimable again at once: exactly-once routing with no
-- lease. Failures are recorded afterwards, in a transaction of their own (daemon_fail_routing).

SET LOCAL ROLE invoiceflow_owner;

CREATE TABLE invoiceflow.route_version (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT route_version_pkey PRIMARY KEY,
    invoice_type_id bigint NOT NULL CONSTRAINT route_version_invoice_type_fkey REFERENCES invoiceflow.invoice_type (id),
    version integer NOT NULL CONSTRAINT route_version_version_positive CHECK (version >= 1),
    body jsonb NOT NULL CONSTRAINT route_version_body_is_object CHECK (jsonb_typeof(body) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by name NOT NULL DEFAULT session_user,
    CONSTRAINT route_version_type_version_key UNIQUE (invoice_type_id, version)
);
COMMENT ON TABLE invoiceflow.route_version IS
    'Routes as data (invariant 10): one immutable row per version of an invoice type''s route; the body is the route in the '
    'file format of docs/routes.md. Editing a route inserts the next version; rows are never updated or deleted.';
COMMENT ON COLUMN invoiceflow.route_version.version IS 'Version number within the type: 1, 2, ...; the highest is current.';
COMMENT ON COLUMN invoiceflow.route_version.body IS 'The route (type, version, name, steps, ...) as docs/routes.md describes it.';
COMMENT ON COLUMN invoiceflow.route_version.created_by IS 'The session user that stored the version (the daemon for the defaults).';

CREATE FUNCTION invoiceflow_private.route_version_refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'route versions are immutable: % refused; store a new version instead', TG_OP USING ERRCODE = 'IF009';
END
$$;
COMMENT ON FUNCTION invoiceflow_private.route_version_refuse_change() IS
    'Trigger: refuses UPDATE, DELETE and TRUNCATE of route versions (IF009); invoices keep pointing at theirs.';
CREATE TRIGGER route_version_refuse_change BEFORE UPDATE OR DELETE ON invoiceflow.route_version
    FOR EACH ROW EXECUTE FUNCTION invoiceflow_private.route_version_refuse_change();
CREATE TRIGGER route_version_refuse_truncate BEFORE TRUNCATE ON invoiceflow.route_version
    FOR EACH STATEMENT EXECUTE FUNCTION invoiceflow_private.route_version_refuse_change();

ALTER TABLE invoiceflow.route_version ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoiceflow.route_version FORCE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE invoiceflow.route_version FROM PUBLIC;
CREATE POLICY owner_all ON invoiceflow.route_version AS PERMISSIVE FOR ALL TO invoiceflow_owner USING (true) WITH CHECK (true);
COMMENT ON POLICY owner_all ON invoiceflow.route_version IS
    'The owner (NOLOGIN; used only by migrations and definer functions) reads and writes every row: FORCE RLS would otherwise deny it.';
GRANT SELECT ON invoiceflow.route_version TO invoiceflow_employee, invoiceflow_auditor, invoiceflow_admin;
CREATE POLICY route_version_read ON invoiceflow.route_version FOR SELECT
    TO invoiceflow_employee, invoiceflow_auditor, invoiceflow_admin
    USING ((SELECT invoiceflow.current_employee_id()) IS NOT NULL
           OR (SELECT invoiceflow_private.caller_is('invoiceflow_auditor'))
           OR (SELECT invoiceflow_private.caller_is('invoiceflow_admin')));
COMMENT ON POLICY route_version_read ON invoiceflow.route_version IS
    'Routes are readable like the company structure: every identified person, auditors and admins.';

-- Parking: after repeated failure, or when nobody can act on a step, a work item stops being claimed
-- (and, being the oldest pending item of its invoice, holds back the invoice's later items) until an
-- administrator retries it. It is never dropped.
ALTER TABLE invoiceflow_private.work_item ADD COLUMN parked_at timestamptz;
COMMENT ON COLUMN invoiceflow_private.work_item.parked_at IS
    'Set when the router gave up on the item (repeated failure, or nobody can act); last_error says why. '
    'retry_parked_routing() clears it.';
CREATE INDEX work_item_parked_idx ON invoiceflow_private.work_item (invoice_id) WHERE parked_at IS NOT NULL;

-- Microseconds since the epoch: the router's Instant (no time zone or format settings involved).
CREATE FUNCTION invoiceflow_private.epoch_us(p_at timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
RETURN (EXTRACT(epoch FROM p_at) OPERATOR(pg_catalog.*) 1000000)::bigint;
COMMENT ON FUNCTION invoiceflow_private.epoch_us(timestamptz) IS 'Microseconds since 1970-01-01 UTC, as the domain core''s Instant.';
REVOKE ALL ON FUNCTION invoiceflow_private.epoch_us(timestamptz) FROM PUBLIC;

CREATE FUNCTION invoiceflow.daemon_install_routes(p_routes jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_route jsonb;
    v_type bigint;
    v_count integer := 0;
    v_id bigint;
BEGIN
    IF jsonb_typeof(p_routes) IS DISTINCT FROM 'array' THEN
        PERFORM invoiceflow_private.invalid('p_routes', 'must be a JSON array of routes');
    END IF;
    FOR v_route IN SELECT r.value FROM jsonb_array_elements(p_routes) AS r LOOP
        SELECT t.id INTO v_type FROM invoiceflow.invoice_type AS t WHERE t.code = v_route ->> 'type';
        IF v_type IS NULL THEN
            PERFORM invoiceflow_private.invalid('p_routes', format('unknown invoice type %L', v_route ->> 'type'));
        END IF;
        -- Only a type without any route gets the default: a deployment's own versions are never touched.
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('invoiceflow.route_version'), v_type::integer);
        CONTINUE WHEN EXISTS (SELECT FROM invoiceflow.route_version AS v WHERE v.invoice_type_id = v_type);
        INSERT INTO invoiceflow.route_version (invoice_type_id, version, body)
        VALUES (v_type, (v_route ->> 'version')::integer, v_route) RETURNING id INTO v_id;
        PERFORM invoiceflow_private.audit(NULL, 'route_version', v_id, 'install_route', NULL,
            jsonb_build_object('type', v_route ->> 'type', 'version', (v_route ->> 'version')::integer));
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_install_routes(jsonb) IS
    'Daemon only, at start: stores each given route as the first version of its type when the type has no route yet '
    '(idempotent; replicas starting together are serialized per type). Returns how many were stored.';

CREATE FUNCTION invoiceflow.daemon_org_snapshot(p_at timestamptz DEFAULT now()) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    -- The shape of the domain core's OrgSnapshot (Codable). Only assignments and substitutions that hold
    -- at p_at are included: the snapshot answers for that moment only. A department is headed by the
    -- department-head position held there (lowest position id first, so ceo before cfo before the
    -- chief accountant); a department without one falls back to head_of_department.
    SELECT pg_catalog.jsonb_build_object(
        'moment', pg_catalog.jsonb_build_object('microsecondsSinceEpoch', invoiceflow_private.epoch_us(p_at)),
        'subdivisions', coalesce((
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                'id', s.id, 'code', s.code, 'name', s.name, 'isHeadOffice', false) ORDER BY s.id)
            FROM invoiceflow.subdivision AS s), '[]'),
        'departments', coalesce((
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                'id', d.id, 'code', pg_catalog.lower(d.name), 'name', d.name, 'subdivision', d.subdivision_id,
                'parent', d.parent_id,
                'headPosition', coalesce((
                    SELECT p.code FROM invoiceflow.assignment AS a
                    JOIN invoiceflow.position AS p ON p.id OPERATOR(pg_catalog.=) a.position_id
                    WHERE a.department_id OPERATOR(pg_catalog.=) d.id AND p.is_department_head
                      AND a.valid OPERATOR(pg_catalog.@>) p_at
                    ORDER BY p.id LIMIT 1), 'head_of_department')) ORDER BY d.id)
            FROM invoiceflow.department AS d), '[]'),
        'assignments', coalesce((
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                'employee', a.employee_id, 'department', a.department_id, 'position', p.code,
                'validity', pg_catalog.jsonb_build_object(
                    'from', pg_catalog.jsonb_build_object('microsecondsSinceEpoch',
                        invoiceflow_private.epoch_us(pg_catalog.lower(a.valid))),
                    'to', CASE WHEN pg_catalog.upper(a.valid) IS NOT NULL THEN pg_catalog.jsonb_build_object(
                        'microsecondsSinceEpoch', invoiceflow_private.epoch_us(pg_catalog.upper(a.valid))) END))
                ORDER BY a.id)
            FROM invoiceflow.assignment AS a
            JOIN invoiceflow.position AS p ON p.id OPERATOR(pg_catalog.=) a.position_id
            JOIN invoiceflow.employee AS e ON e.id OPERATOR(pg_catalog.=) a.employee_id
            WHERE a.valid OPERATOR(pg_catalog.@>) p_at AND e.active), '[]'),
        'substitutions', coalesce((
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                'absent', s.absent_employee_id, 'deputy', s.deputy_employee_id,
                'validity', pg_catalog.jsonb_build_object(
                    'from', pg_catalog.jsonb_build_object('microsecondsSinceEpoch',
                        invoiceflow_private.epoch_us(pg_catalog.lower(s.valid))),
                    'to', pg_catalog.jsonb_build_object('microsecondsSinceEpoch',
                        invoiceflow_private.epoch_us(pg_catalog.upper(s.valid)))),
                'invoiceTypes', pg_catalog.to_jsonb(s.invoice_type_codes)) ORDER BY s.id)
            FROM invoiceflow.substitution AS s
            JOIN invoiceflow.employee AS e ON e.id OPERATOR(pg_catalog.=) s.deputy_employee_id
            WHERE s.valid OPERATOR(pg_catalog.@>) p_at AND e.active), '[]'))
$$;
COMMENT ON FUNCTION invoiceflow.daemon_org_snapshot(timestamptz) IS
    'Daemon only: the company structure as of p_at (subdivisions, departments with their head position, the assignments '
    'and substitutions holding then, active people only) in the JSON shape of the domain core''s OrgSnapshot.';

CREATE FUNCTION invoiceflow.daemon_routing_state(p_invoice_id bigint) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    -- The route is the pinned version, or the type's current one while the invoice is not pinned yet.
    -- "New counterparty": nothing was ever paid to it before (on another invoice).
    SELECT pg_catalog.jsonb_build_object(
        'now', invoiceflow_private.epoch_us(pg_catalog.now()),
        'invoiceID', i.id,
        'type', t.code,
        'stage', i.stage,
        'pinnedVersion', i.route_version,
        'amountMinor', i.amount_minor,
        'currency', i.currency,
        'prepaymentPercent', CASE WHEN i.prepayment THEN coalesce(i.prepayment_percent, 100) ELSE 0 END,
        'urgent', i.urgent,
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
        'roundStartedAt', invoiceflow_private.epoch_us(i.stage_changed_at),
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
                'decidedFor', k.decided_for_id, 'createdAt', invoiceflow_private.epoch_us(k.created_at)) ORDER BY k.id)
            FROM invoiceflow.task AS k WHERE k.invoice_id OPERATOR(pg_catalog.=) i.id), '[]'))
    FROM invoiceflow.invoice AS i
    JOIN invoiceflow.invoice_type AS t ON t.id OPERATOR(pg_catalog.=) i.invoice_type_id
    WHERE i.id OPERATOR(pg_catalog.=) p_invoice_id
$$;
COMMENT ON FUNCTION invoiceflow.daemon_routing_state(bigint) IS
    'Daemon only: what the router needs to decide the next transition of an invoice — its routing facts, stage, route '
    '(pinned version, else current), every task, the start of the current round and the transaction time. NULL if unknown.';

CREATE FUNCTION invoiceflow.daemon_claim_routing(p_worker text, p_scan integer DEFAULT 16)
RETURNS TABLE (work_item_id bigint, invoice_id bigint, kind text, attempts integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_candidate record;
    v_item invoiceflow_private.work_item;
BEGIN
    -- Only the oldest unfinished item of an invoice is a candidate (per-invoice order: a parked or
    -- backing-off item holds back the later ones), and only while nobody holds the invoice: the
    -- invoice row lock, taken first as every command does, is what keeps two routers off one invoice.
    FOR v_candidate IN
        SELECT w.id, w.invoice_id FROM invoiceflow_private.work_item AS w
        WHERE w.done_at IS NULL AND w.parked_at IS NULL AND w.run_after <= pg_catalog.now()
          AND (w.locked_until IS NULL OR w.locked_until < pg_catalog.now())
          AND NOT EXISTS (SELECT FROM invoiceflow_private.work_item AS e
                          WHERE e.invoice_id = w.invoice_id AND e.done_at IS NULL AND e.id < w.id)
        ORDER BY w.id
        LIMIT p_scan
    LOOP
        PERFORM FROM invoiceflow.invoice AS i WHERE i.id = v_candidate.invoice_id FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        -- Re-checked under the invoice lock with a fresh snapshot: another router may have finished
        -- this item, or an earlier one may have appeared to be unfinished, since the scan.
        SELECT * INTO v_item FROM invoiceflow_private.work_item AS w
        WHERE w.id = v_candidate.id AND w.done_at IS NULL AND w.parked_at IS NULL
          AND w.run_after <= pg_catalog.now()
          AND NOT EXISTS (SELECT FROM invoiceflow_private.work_item AS e
                          WHERE e.invoice_id = w.invoice_id AND e.done_at IS NULL AND e.id < w.id)
        FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        UPDATE invoiceflow_private.work_item AS w SET locked_by = p_worker WHERE w.id = v_item.id;
        work_item_id := v_item.id;
        invoice_id := v_item.invoice_id;
        kind := v_item.kind;
        attempts := v_item.attempts;
        RETURN NEXT;
        RETURN;
    END LOOP;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_claim_routing(text, integer) IS
    'Daemon only: claims at most one routing work item for the rest of the caller''s transaction — the oldest unfinished '
    'item of an invoice nobody else holds (invoice then item locked, SKIP LOCKED). Finish it in the same transaction with '
    'daemon_complete_routing or daemon_park_routing; a rollback (or a crash) releases it at once.';

CREATE FUNCTION invoiceflow.daemon_complete_routing(p_work_item_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE invoiceflow_private.work_item AS w
    SET done_at = pg_catalog.now(), last_error = NULL, locked_by = NULL, locked_until = NULL
    WHERE w.id = p_work_item_id AND w.done_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'work item % is not pending', p_work_item_id USING ERRCODE = 'IF006';
    END IF;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_complete_routing(bigint) IS
    'Daemon only: marks a claimed work item done (same transaction as its routing). IF006 if it was already done.';

CREATE FUNCTION invoiceflow.daemon_park_routing(p_work_item_id bigint, p_reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_item invoiceflow_private.work_item;
BEGIN
    UPDATE invoiceflow_private.work_item AS w
    SET parked_at = pg_catalog.now(), last_error = p_reason, locked_by = NULL, locked_until = NULL
    WHERE w.id = p_work_item_id AND w.done_at IS NULL
    RETURNING * INTO v_item;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'work item % is not pending', p_work_item_id USING ERRCODE = 'IF006';
    END IF;
    PERFORM invoiceflow_private.audit(v_item.invoice_id, 'work_item', v_item.id, 'routing_parked', NULL,
        jsonb_build_object('kind', v_item.kind, 'attempts', v_item.attempts), p_reason);
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_park_routing(bigint, text) IS
    'Daemon only: parks a work item for an administrator with the reason (e.g. nobody can act on a step), with an audit row.';

CREATE FUNCTION invoiceflow.daemon_fail_routing(p_work_item_id bigint, p_error text, p_max_attempts integer DEFAULT 8)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_item invoiceflow_private.work_item;
    v_park boolean;
BEGIN
    -- Waits for a router that may have re-claimed the item meanwhile; counting its failure once more is harmless.
    SELECT * INTO v_item FROM invoiceflow_private.work_item AS w WHERE w.id = p_work_item_id FOR UPDATE;
    IF NOT FOUND OR v_item.done_at IS NOT NULL OR v_item.parked_at IS NOT NULL THEN
        RETURN false;
    END IF;
    v_park := v_item.attempts + 1 >= p_max_attempts;
    -- Exponential back-off (2 s, 4 s, ... capped at 10 minutes) with ±20 % jitter so replicas spread out.
    UPDATE invoiceflow_private.work_item AS w SET
        attempts = w.attempts + 1,
        last_error = p_error,
        locked_by = NULL, locked_until = NULL,
        run_after = pg_catalog.now() + pg_catalog.make_interval(secs =>
            LEAST(600.0, pg_catalog.power(2, w.attempts + 1)) * (0.8 + 0.4 * pg_catalog.random())),
        parked_at = CASE WHEN v_park THEN pg_catalog.now() END
    WHERE w.id = p_work_item_id;
    IF v_park THEN
        PERFORM invoiceflow_private.audit(v_item.invoice_id, 'work_item', v_item.id, 'routing_parked', NULL,
            jsonb_build_object('kind', v_item.kind, 'attempts', v_item.attempts + 1), p_error);
    END IF;
    RETURN v_park;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_fail_routing(bigint, text, integer) IS
    'Daemon only, in its own transaction after a failed routing: counts the attempt, records the error and backs off '
    'exponentially; at p_max_attempts the item is parked (with an audit row) instead of dropped. Returns whether it was parked.';

CREATE FUNCTION invoiceflow.daemon_pin_route(p_invoice_id bigint, p_version integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_invoice invoiceflow.invoice;
BEGIN
    SELECT * INTO v_invoice FROM invoiceflow.invoice AS i WHERE i.id = p_invoice_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'invoice % does not exist', p_invoice_id USING ERRCODE = 'IF007';
    END IF;
    IF v_invoice.route_version IS NOT NULL THEN
        RAISE EXCEPTION 'invoice % is already on route version %', p_invoice_id, v_invoice.route_version
            USING ERRCODE = 'IF009';
    END IF;
    IF NOT EXISTS (SELECT FROM invoiceflow.route_version AS v
                   WHERE v.invoice_type_id = v_invoice.invoice_type_id AND v.version = p_version) THEN
        PERFORM invoiceflow_private.invalid('p_version', 'no such route version for the invoice''s type');
    END IF;
    UPDATE invoiceflow.invoice AS i SET route_version = p_version WHERE i.id = p_invoice_id;
    PERFORM invoiceflow_private.audit(p_invoice_id, 'invoice', p_invoice_id, 'pin_route',
        jsonb_build_object('route_version', NULL), jsonb_build_object('route_version', p_version));
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_pin_route(bigint, integer) IS
    'Daemon only: pins an invoice to a route version at its first routing (invariant 10); refuses a second pin (IF009).';

CREATE FUNCTION invoiceflow.daemon_cancel_task(p_task_id bigint, p_reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_task invoiceflow.task;
BEGIN
    SELECT * INTO v_task FROM invoiceflow.task AS t WHERE t.id = p_task_id FOR UPDATE;
    IF NOT FOUND OR v_task.outcome IS NOT NULL THEN
        RAISE EXCEPTION 'task % is not open', p_task_id USING ERRCODE = 'IF006';
    END IF;
    UPDATE invoiceflow.task AS t SET outcome = 'cancelled', decided_at = pg_catalog.now(), comment = p_reason
    WHERE t.id = p_task_id;
    PERFORM invoiceflow_private.audit(v_task.invoice_id, 'task', p_task_id, 'cancel_task',
        jsonb_build_object('outcome', NULL), jsonb_build_object('outcome', 'cancelled', 'step_key', v_task.step_key),
        p_reason);
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_cancel_task(bigint, text) IS
    'Daemon only: closes an open task as cancelled with a reason (e.g. an any-one or quorum step is already decided).';

CREATE FUNCTION invoiceflow.daemon_note_routing(p_invoice_id bigint, p_action text, p_after jsonb, p_comment text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_action IS NULL OR p_action !~ '^route_[a-z_]+$' THEN
        PERFORM invoiceflow_private.invalid('p_action', 'must be route_<something>');
    END IF;
    PERFORM invoiceflow_private.audit(p_invoice_id, 'invoice', p_invoice_id, p_action, NULL, p_after, p_comment);
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_note_routing(bigint, text, jsonb, text) IS
    'Daemon only: an audit row recording a routing decision and why (which step, who was chosen through which selector, '
    'substitution or escalation, who was excluded), e.g. route_step_started.';

CREATE FUNCTION invoiceflow.retry_parked_routing(p_invoice_id bigint) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_count integer;
BEGIN
    PERFORM invoiceflow_private.require_admin();
    UPDATE invoiceflow_private.work_item AS w SET parked_at = NULL, attempts = 0, run_after = pg_catalog.now()
    WHERE w.invoice_id = p_invoice_id AND w.parked_at IS NOT NULL AND w.done_at IS NULL;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count > 0 THEN
        PERFORM invoiceflow_private.audit(p_invoice_id, 'invoice', p_invoice_id, 'retry_routing', NULL,
            jsonb_build_object('work_items', v_count));
        PERFORM pg_catalog.pg_notify('invoiceflow_work', pg_catalog.json_build_object('invoice_id', p_invoice_id)::text);
    END IF;
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION invoiceflow.retry_parked_routing(bigint) IS
    'Admin: makes an invoice''s parked routing work claimable again (after fixing the company structure, say); '
    'returns how many items were released.';

REVOKE ALL ON FUNCTION invoiceflow.retry_parked_routing(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.retry_parked_routing(bigint) TO invoiceflow_admin;
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
             WHERE p.pronamespace = 'invoiceflow'::regnamespace
               AND p.proname IN ('daemon_install_routes', 'daemon_org_snapshot', 'daemon_routing_state',
                                 'daemon_claim_routing', 'daemon_complete_routing', 'daemon_park_routing',
                                 'daemon_fail_routing', 'daemon_pin_route', 'daemon_cancel_task', 'daemon_note_routing')
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO invoiceflow_daemon', f);
    END LOOP;
END
$$;

RESET ROLE;
