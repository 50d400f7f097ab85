-- 0050_customs: a customs payment (duties, fees) is a flag of a logistics_customs invoice. Its route
-- (DefaultRoutes.logisticsCustoms, SCENARIOS.md type 5) asks the CFO alone, the same day, skips the CEO,
-- and pays at once, outside payment days. The flag is content: fixed once submitted (invariant 8), set
-- by the initiator when registering (create_invoice) or editing a draft (edit_draft), and read by the
-- router (daemon_routing_state).
--
-- create_invoice and edit_draft gain a trailing parameter. An overload would make every call that names
-- its parameters but not p_customs ambiguous, so the old versions are dropped and recreated with the
-- same grants; positional and named calls written for 0007 keep working.

SET LOCAL ROLE invoiceflow_owner;

ALTER TABLE invoiceflow.invoice ADD COLUMN customs boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN invoiceflow.invoice.customs IS
    'A customs payment (logistics_customs only): approved by the CFO alone and paid at once, outside payment days.';

CREATE OR REPLACE FUNCTION invoiceflow_private.invoice_guard_content() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF OLD.stage <> 'draft'::invoiceflow.invoice_stage
       AND (NEW.invoice_type_id, NEW.paying_subdivision_id, NEW.counterparty_id, NEW.receiving_subdivision_id,
            NEW.initiator_id, NEW.initiator_department_id, NEW.supplier_invoice_number, NEW.supplier_invoice_date,
            NEW.amount_minor, NEW.currency, NEW.vat_minor, NEW.purpose, NEW.due_date, NEW.prepayment,
            NEW.prepayment_percent, NEW.urgent, NEW.outside_budget, NEW.goods_received, NEW.confidential, NEW.created_at,
            NEW.customs)
           IS DISTINCT FROM
           (OLD.invoice_type_id, OLD.paying_subdivision_id, OLD.counterparty_id, OLD.receiving_subdivision_id,
            OLD.initiator_id, OLD.initiator_department_id, OLD.supplier_invoice_number, OLD.supplier_invoice_date,
            OLD.amount_minor, OLD.currency, OLD.vat_minor, OLD.purpose, OLD.due_date, OLD.prepayment,
            OLD.prepayment_percent, OLD.urgent, OLD.outside_budget, OLD.goods_received, OLD.confidential, OLD.created_at,
            OLD.customs)
    THEN
        RAISE EXCEPTION 'invoice % is %: its content is immutable; return it for rework first', OLD.id, OLD.stage
            USING ERRCODE = 'IF009';
    END IF;
    IF NEW.stage IS DISTINCT FROM OLD.stage THEN
        NEW.stage_changed_at := now();
    END IF;
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.invoice_guard_content() IS
    'Trigger: refuses content changes to an invoice outside draft (IF009), bumps version, stamps stage changes.';

DROP FUNCTION invoiceflow.create_invoice(text, bigint, text, date, bigint, text, bigint, bigint, text, bigint, date,
    boolean, smallint, boolean, boolean, boolean);
DROP FUNCTION invoiceflow.edit_draft(bigint, integer, text, date, bigint, bigint, text, date, bigint, boolean, smallint,
    boolean, boolean, boolean);

CREATE FUNCTION invoiceflow.create_invoice(
    p_invoice_type text,
    p_paying_subdivision_id bigint,
    p_supplier_invoice_number text,
    p_supplier_invoice_date date,
    p_amount_minor bigint,
    p_purpose text,
    p_counterparty_id bigint DEFAULT NULL,
    p_receiving_subdivision_id bigint DEFAULT NULL,
    p_currency text DEFAULT 'RUB',
    p_vat_minor bigint DEFAULT 0,
    p_due_date date DEFAULT NULL,
    p_prepayment boolean DEFAULT false,
    p_prepayment_percent smallint DEFAULT NULL,
    p_urgent boolean DEFAULT false,
    p_outside_budget boolean DEFAULT false,
    p_goods_received boolean DEFAULT false,
    p_customs boolean DEFAULT false
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_me bigint := invoiceflow_private.require_person();
    v_type invoiceflow.invoice_type;
    v_department bigint;
    v_invoice invoiceflow.invoice;
BEGIN
    SELECT * INTO v_type FROM invoiceflow.invoice_type AS t WHERE t.code = p_invoice_type;
    IF NOT FOUND THEN
        PERFORM invoiceflow_private.invalid('p_invoice_type', format('unknown invoice type %L', p_invoice_type));
    END IF;
    IF p_paying_subdivision_id IS NULL OR NOT EXISTS (
        SELECT FROM invoiceflow.subdivision AS s WHERE s.id = p_paying_subdivision_id) THEN
        PERFORM invoiceflow_private.invalid('p_paying_subdivision_id', 'unknown subdivision');
    END IF;
    -- The initiator asks their own subdivision to pay; the department is kept for "head of the initiator's department".
    SELECT a.department_id INTO v_department FROM invoiceflow.assignment AS a
    WHERE a.employee_id = v_me AND a.subdivision_id = p_paying_subdivision_id AND a.valid @> now()
    ORDER BY lower(a.valid) DESC, a.id LIMIT 1;
    IF v_department IS NULL THEN
        RAISE EXCEPTION 'not allowed: you hold no current assignment in the paying subdivision %', p_paying_subdivision_id
            USING ERRCODE = 'IF002', COLUMN = 'p_paying_subdivision_id';
    END IF;
    IF num_nonnulls(p_counterparty_id, p_receiving_subdivision_id) <> 1 THEN
        PERFORM invoiceflow_private.invalid('p_counterparty_id', 'give exactly one of p_counterparty_id and p_receiving_subdivision_id');
    END IF;
    IF p_counterparty_id IS NOT NULL AND NOT EXISTS (SELECT FROM invoiceflow.counterparty AS c WHERE c.id = p_counterparty_id) THEN
        PERFORM invoiceflow_private.invalid('p_counterparty_id', 'unknown counterparty');
    END IF;
    IF p_receiving_subdivision_id IS NOT NULL AND (p_receiving_subdivision_id = p_paying_subdivision_id OR NOT EXISTS (
        SELECT FROM invoiceflow.subdivision AS s WHERE s.id = p_receiving_subdivision_id)) THEN
        PERFORM invoiceflow_private.invalid('p_receiving_subdivision_id', 'unknown subdivision, or the paying subdivision itself');
    END IF;
    IF (v_type.code = 'intercompany') <> (p_receiving_subdivision_id IS NOT NULL) THEN
        PERFORM invoiceflow_private.invalid('p_receiving_subdivision_id',
            'intercompany invoices, and only they, are paid to another subdivision');
    END IF;
    IF btrim(coalesce(p_supplier_invoice_number, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_supplier_invoice_number', 'is required');
    END IF;
    IF p_supplier_invoice_date IS NULL OR p_supplier_invoice_date > current_date + 1 THEN
        PERFORM invoiceflow_private.invalid('p_supplier_invoice_date', 'is required and may not lie in the future');
    END IF;
    IF p_amount_minor IS NULL OR p_amount_minor <= 0 THEN
        PERFORM invoiceflow_private.invalid('p_amount_minor', 'must be a positive number of minor units');
    END IF;
    IF p_currency IS NULL OR p_currency !~ '^[A-Z]{3}$' THEN
        PERFORM invoiceflow_private.invalid('p_currency', 'must be an ISO 4217 code such as RUB');
    END IF;
    IF p_vat_minor IS NULL OR p_vat_minor < 0 OR p_vat_minor > p_amount_minor THEN
        PERFORM invoiceflow_private.invalid('p_vat_minor', 'must be between 0 and the amount');
    END IF;
    IF btrim(coalesce(p_purpose, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_purpose', 'is required');
    END IF;
    IF p_prepayment_percent IS NOT NULL AND (NOT coalesce(p_prepayment, false) OR p_prepayment_percent NOT BETWEEN 1 AND 100) THEN
        PERFORM invoiceflow_private.invalid('p_prepayment_percent', 'must be 1..100 and needs p_prepayment');
    END IF;
    IF coalesce(p_customs, false) AND v_type.code <> 'logistics_customs' THEN
        PERFORM invoiceflow_private.invalid('p_customs', 'only a logistics_customs invoice can be a customs payment');
    END IF;

    v_invoice.counterparty_id := p_counterparty_id;
    v_invoice.receiving_subdivision_id := p_receiving_subdivision_id;
    v_invoice.supplier_invoice_number := p_supplier_invoice_number;
    v_invoice.supplier_invoice_date := p_supplier_invoice_date;
    v_invoice.amount_minor := p_amount_minor;
    PERFORM invoiceflow_private.check_duplicate(v_invoice);

    BEGIN
        INSERT INTO invoiceflow.invoice (invoice_type_id, confidential, paying_subdivision_id, counterparty_id,
            receiving_subdivision_id, initiator_id, initiator_department_id, supplier_invoice_number, supplier_invoice_date,
            amount_minor, currency, vat_minor, purpose, due_date, prepayment, prepayment_percent, urgent, outside_budget,
            goods_received, customs)
        VALUES (v_type.id, v_type.confidential, p_paying_subdivision_id, p_counterparty_id, p_receiving_subdivision_id,
            v_me, v_department, btrim(p_supplier_invoice_number), p_supplier_invoice_date, p_amount_minor, p_currency,
            p_vat_minor, btrim(p_purpose), p_due_date, coalesce(p_prepayment, false), p_prepayment_percent,
            coalesce(p_urgent, false), coalesce(p_outside_budget, false), coalesce(p_goods_received, false),
            coalesce(p_customs, false))
        RETURNING * INTO v_invoice;
    EXCEPTION WHEN unique_violation THEN
        -- A concurrent creation won the race between our check and our insert.
        RAISE EXCEPTION 'duplicate invoice: the same receiver, supplier invoice number and date or amount as an existing invoice'
            USING ERRCODE = 'IF004', COLUMN = 'p_supplier_invoice_number';
    END;
    PERFORM invoiceflow_private.audit(v_invoice.id, 'invoice', v_invoice.id, 'create', NULL,
        invoiceflow_private.invoice_content(v_invoice));
    PERFORM invoiceflow_private.enqueue_work(v_invoice.id, 'created');
    RETURN v_invoice.id;
END
$$;
COMMENT ON FUNCTION invoiceflow.create_invoice(text, bigint, text, date, bigint, text, bigint, bigint, text, bigint, date,
    boolean, smallint, boolean, boolean, boolean, boolean) IS
    'Creates a draft invoice of the caller (the initiator) and returns its id. Give a counterparty, or for an intercompany '
    'invoice the receiving subdivision. Errors: IF001 (field named), IF002 (no assignment in the paying subdivision), IF004. '
    'p_customs (logistics_customs only): a customs payment — CFO only, paid at once (SCENARIOS.md type 5).';

CREATE FUNCTION invoiceflow.edit_draft(
    p_invoice_id bigint,
    p_expected_version integer DEFAULT NULL,
    p_supplier_invoice_number text DEFAULT NULL,
    p_supplier_invoice_date date DEFAULT NULL,
    p_amount_minor bigint DEFAULT NULL,
    p_vat_minor bigint DEFAULT NULL,
    p_purpose text DEFAULT NULL,
    p_due_date date DEFAULT NULL,
    p_counterparty_id bigint DEFAULT NULL,
    p_prepayment boolean DEFAULT NULL,
    p_prepayment_percent smallint DEFAULT NULL,
    p_urgent boolean DEFAULT NULL,
    p_outside_budget boolean DEFAULT NULL,
    p_goods_received boolean DEFAULT NULL,
    p_customs boolean DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_me bigint := invoiceflow_private.require_person();
    v_old invoiceflow.invoice := invoiceflow_private.lock_invoice(p_invoice_id);
    v_new invoiceflow.invoice;
BEGIN
    IF v_old.initiator_id <> v_me THEN
        RAISE EXCEPTION 'not allowed: only the initiator edits invoice %', p_invoice_id USING ERRCODE = 'IF002';
    END IF;
    IF v_old.stage <> 'draft' THEN
        RAISE EXCEPTION 'invoice % is %: only a draft can be edited (return it for rework first)', p_invoice_id, v_old.stage
            USING ERRCODE = 'IF003';
    END IF;
    PERFORM invoiceflow_private.check_version(v_old, p_expected_version);
    IF p_supplier_invoice_number IS NOT NULL AND btrim(p_supplier_invoice_number) = '' THEN
        PERFORM invoiceflow_private.invalid('p_supplier_invoice_number', 'may not be blank');
    END IF;
    IF p_supplier_invoice_date > current_date + 1 THEN
        PERFORM invoiceflow_private.invalid('p_supplier_invoice_date', 'may not lie in the future');
    END IF;
    IF p_amount_minor <= 0 THEN
        PERFORM invoiceflow_private.invalid('p_amount_minor', 'must be a positive number of minor units');
    END IF;
    IF p_vat_minor < 0 OR p_vat_minor > coalesce(p_amount_minor, v_old.amount_minor) THEN
        PERFORM invoiceflow_private.invalid('p_vat_minor', 'must be between 0 and the amount');
    END IF;
    IF p_purpose IS NOT NULL AND btrim(p_purpose) = '' THEN
        PERFORM invoiceflow_private.invalid('p_purpose', 'may not be blank');
    END IF;
    IF p_customs AND NOT EXISTS (SELECT FROM invoiceflow.invoice_type AS t
                                 WHERE t.id = v_old.invoice_type_id AND t.code = 'logistics_customs') THEN
        PERFORM invoiceflow_private.invalid('p_customs', 'only a logistics_customs invoice can be a customs payment');
    END IF;
    IF p_counterparty_id IS NOT NULL AND (v_old.counterparty_id IS NULL
        OR NOT EXISTS (SELECT FROM invoiceflow.counterparty AS c WHERE c.id = p_counterparty_id)) THEN
        PERFORM invoiceflow_private.invalid('p_counterparty_id', 'unknown counterparty, or an intercompany invoice');
    END IF;
    v_new := v_old;
    v_new.supplier_invoice_number := coalesce(btrim(p_supplier_invoice_number), v_old.supplier_invoice_number);
    v_new.supplier_invoice_date := coalesce(p_supplier_invoice_date, v_old.supplier_invoice_date);
    v_new.amount_minor := coalesce(p_amount_minor, v_old.amount_minor);
    v_new.counterparty_id := coalesce(p_counterparty_id, v_old.counterparty_id);
    PERFORM invoiceflow_private.check_duplicate(v_new);
    IF v_new.vat_minor > v_new.amount_minor AND p_vat_minor IS NULL THEN
        PERFORM invoiceflow_private.invalid('p_vat_minor', 'the VAT would exceed the new amount');
    END IF;
    BEGIN
        UPDATE invoiceflow.invoice AS i SET
            supplier_invoice_number = v_new.supplier_invoice_number,
            supplier_invoice_date = v_new.supplier_invoice_date,
            amount_minor = v_new.amount_minor,
            vat_minor = coalesce(p_vat_minor, i.vat_minor),
            purpose = coalesce(btrim(p_purpose), i.purpose),
            due_date = coalesce(p_due_date, i.due_date),
            counterparty_id = v_new.counterparty_id,
            prepayment = coalesce(p_prepayment, i.prepayment),
            prepayment_percent = CASE WHEN coalesce(p_prepayment, i.prepayment)
                                      THEN coalesce(p_prepayment_percent, i.prepayment_percent) END,
            urgent = coalesce(p_urgent, i.urgent),
            outside_budget = coalesce(p_outside_budget, i.outside_budget),
            goods_received = coalesce(p_goods_received, i.goods_received),
            customs = coalesce(p_customs, i.customs)
        WHERE i.id = p_invoice_id
        RETURNING * INTO v_new;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'duplicate invoice: the same receiver, supplier invoice number and date or amount as an existing invoice'
            USING ERRCODE = 'IF004', COLUMN = 'p_supplier_invoice_number';
    END;
    PERFORM invoiceflow_private.audit(p_invoice_id, 'invoice', p_invoice_id, 'edit',
        invoiceflow_private.invoice_content(v_old), invoiceflow_private.invoice_content(v_new));
    PERFORM invoiceflow_private.enqueue_work(p_invoice_id, 'edited');
    RETURN v_new.version;
END
$$;
COMMENT ON FUNCTION invoiceflow.edit_draft(bigint, integer, text, date, bigint, bigint, text, date, bigint, boolean, smallint,
    boolean, boolean, boolean, boolean) IS
    'Changes fields of the caller''s draft (NULL = unchanged) and returns the new version. IF003 unless draft, IF006 on a stale '
    'p_expected_version, IF004 if the change makes it a duplicate.';


REVOKE ALL ON FUNCTION invoiceflow.create_invoice(text, bigint, text, date, bigint, text, bigint, bigint, text, bigint, date,
    boolean, smallint, boolean, boolean, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.create_invoice(text, bigint, text, date, bigint, text, bigint, bigint, text, bigint,
    date, boolean, smallint, boolean, boolean, boolean, boolean) TO invoiceflow_employee;
REVOKE ALL ON FUNCTION invoiceflow.edit_draft(bigint, integer, text, date, bigint, bigint, text, date, bigint, boolean,
    smallint, boolean, boolean, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.edit_draft(bigint, integer, text, date, bigint, bigint, text, date, bigint, boolean,
    smallint, boolean, boolean, boolean, boolean) TO invoiceflow_employee;

CREATE OR REPLACE FUNCTION invoiceflow.daemon_routing_state(p_invoice_id bigint) RETURNS jsonb
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
    '(pinned version, else current), every task, the start of the current round and the transaction time. NULL if unknown. Since 0050 with the customs flag.';


RESET ROLE;
