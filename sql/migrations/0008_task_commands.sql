-- 0008_task_commands: approvers' and finance commands: decide and delegate a task, record a payment,
-- record a closing document, close. Same contract as 0007 (right, stage, invoice lock then task lock,
-- one audit row, a work item and pg_notify).

SET LOCAL ROLE invoiceflow_owner;

CREATE FUNCTION invoiceflow_private.lock_task(p_task_id bigint) RETURNS invoiceflow.task
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_invoice_id bigint;
    v_task invoiceflow.task;
BEGIN
    IF p_task_id IS NULL THEN
        PERFORM invoiceflow_private.invalid('p_task_id', 'is required');
    END IF;
    SELECT t.invoice_id INTO v_invoice_id FROM invoiceflow.task AS t WHERE t.id = p_task_id;
    IF v_invoice_id IS NULL OR NOT invoiceflow_private.invoice_visible(v_invoice_id) THEN
        RAISE EXCEPTION 'task % does not exist or is not visible to you', p_task_id USING ERRCODE = 'IF007';
    END IF;
    -- Invoice first, then the task: the lock order of every command.
    PERFORM invoiceflow_private.lock_invoice(v_invoice_id);
    SELECT * INTO STRICT v_task FROM invoiceflow.task AS t WHERE t.id = p_task_id FOR UPDATE;
    RETURN v_task;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.lock_task(bigint) IS
    'Locks a task''s invoice, then the task, and returns the task as re-read after the wait; IF007 if not visible.';

CREATE FUNCTION invoiceflow_private.task_authority(p_invoice invoiceflow.invoice, p_task invoiceflow.task, p_me bigint)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- Returns for whom the caller acts (NULL: for themselves or for the task's own acting_for).
    IF p_task.assignee_id = p_me THEN
        RETURN p_task.acting_for_id;
    END IF;
    IF invoiceflow_private.substitution_covers(p_task.assignee_id, p_invoice.invoice_type_id) THEN
        RETURN p_task.assignee_id;
    END IF;
    RAISE EXCEPTION 'not allowed: task % is assigned to someone else and you are not their current deputy', p_task.id
        USING ERRCODE = 'IF002';
END
$$;
COMMENT ON FUNCTION invoiceflow_private.task_authority(invoiceflow.invoice, invoiceflow.task, bigint) IS
    'Whether the caller may act on the task (its assignee, or the assignee''s deputy right now for this invoice type); '
    'returns for whom they act. IF002 otherwise.';

CREATE FUNCTION invoiceflow.decide_task(p_task_id bigint, p_decision text, p_comment text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_me bigint := invoiceflow_private.require_person();
    v_invoice invoiceflow.invoice;
    v_task invoiceflow.task;
    v_for bigint;
    v_cancelled jsonb := '[]';
    v_stage invoiceflow.invoice_stage;
BEGIN
    IF p_decision IS NULL OR p_decision NOT IN ('approve', 'approve_with_remarks', 'reject') THEN
        PERFORM invoiceflow_private.invalid('p_decision', 'must be approve, approve_with_remarks or reject');
    END IF;
    IF p_decision <> 'approve' AND btrim(coalesce(p_comment, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_comment', 'is required to reject or to approve with remarks');
    END IF;
    v_task := invoiceflow_private.lock_task(p_task_id);
    v_invoice := invoiceflow_private.lock_invoice(v_task.invoice_id);
    IF v_task.outcome IS NOT NULL THEN
        RAISE EXCEPTION 'task % was already decided (%) at %', p_task_id, v_task.outcome, v_task.decided_at
            USING ERRCODE = 'IF006';
    END IF;
    v_for := invoiceflow_private.task_authority(v_invoice, v_task, v_me);
    IF v_task.kind <> 'approve' THEN
        RAISE EXCEPTION 'task % is a % task: it is completed by its own command, not decided', p_task_id, v_task.kind
            USING ERRCODE = 'IF003';
    END IF;
    IF v_invoice.stage <> 'approval' THEN
        RAISE EXCEPTION 'invoice % is %, not in approval', v_invoice.id, v_invoice.stage USING ERRCODE = 'IF003';
    END IF;
    IF v_invoice.initiator_id IN (v_me, v_for) THEN
        RAISE EXCEPTION 'separation of duties: the initiator of invoice % may not approve it, not even as a substitute',
            v_invoice.id USING ERRCODE = 'IF005';
    END IF;
    UPDATE invoiceflow.task AS t SET
        outcome = CASE p_decision WHEN 'approve' THEN 'approved' WHEN 'approve_with_remarks' THEN 'approved_with_remarks'
                                  ELSE 'rejected' END::invoiceflow.task_outcome,
        decided_at = now(), decided_by = v_me, decided_for_id = v_for, comment = nullif(btrim(p_comment), '')
    WHERE t.id = p_task_id;
    v_stage := v_invoice.stage;
    IF p_decision = 'reject' THEN
        -- A rejection returns the invoice to its initiator at once; the other open approvals are moot.
        v_cancelled := invoiceflow_private.cancel_open_tasks(v_invoice.id, 'closed by the rejection of task ' || p_task_id);
        UPDATE invoiceflow.invoice AS i SET stage = 'rejected' WHERE i.id = v_invoice.id;
        v_stage := 'rejected';
    END IF;
    PERFORM invoiceflow_private.audit(v_invoice.id, 'task', p_task_id, p_decision,
        jsonb_build_object('outcome', NULL, 'stage', v_invoice.stage),
        jsonb_build_object('outcome', p_decision, 'stage', v_stage, 'step_key', v_task.step_key, 'cancelled_tasks', v_cancelled),
        nullif(btrim(p_comment), ''), v_for);
    PERFORM invoiceflow_private.enqueue_work(v_invoice.id, CASE WHEN p_decision = 'reject' THEN 'rejected' ELSE 'task_decided' END);
END
$$;
COMMENT ON FUNCTION invoiceflow.decide_task(bigint, text, text) IS
    'Decides an open approval task: approve, approve_with_remarks (comment required) or reject (comment required; the invoice '
    'goes back to its initiator as rejected). The assignee or their current deputy. IF006 when already decided (the loser of '
    'a race), IF005 for the initiator, IF003 outside approval.';

CREATE FUNCTION invoiceflow.delegate_task(p_task_id bigint, p_to_employee_id bigint, p_comment text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_me bigint := invoiceflow_private.require_person();
    v_invoice invoiceflow.invoice;
    v_task invoiceflow.task;
    v_for bigint;
    v_new bigint;
BEGIN
    IF btrim(coalesce(p_comment, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_comment', 'is required: say why you delegate');
    END IF;
    IF p_to_employee_id IS NULL OR NOT EXISTS (
        SELECT FROM invoiceflow.employee AS e WHERE e.id = p_to_employee_id AND e.active) THEN
        PERFORM invoiceflow_private.invalid('p_to_employee_id', 'unknown or inactive employee');
    END IF;
    v_task := invoiceflow_private.lock_task(p_task_id);
    v_invoice := invoiceflow_private.lock_invoice(v_task.invoice_id);
    IF v_task.outcome IS NOT NULL THEN
        RAISE EXCEPTION 'task % was already decided (%)', p_task_id, v_task.outcome USING ERRCODE = 'IF006';
    END IF;
    v_for := invoiceflow_private.task_authority(v_invoice, v_task, v_me);
    IF p_to_employee_id IN (v_me, v_task.assignee_id) THEN
        PERFORM invoiceflow_private.invalid('p_to_employee_id', 'delegate to someone else than the task''s holder');
    END IF;
    IF p_to_employee_id = v_invoice.initiator_id THEN
        RAISE EXCEPTION 'separation of duties: a task on invoice % may not be delegated to its initiator', v_invoice.id
            USING ERRCODE = 'IF005';
    END IF;
    UPDATE invoiceflow.task AS t SET outcome = 'delegated', decided_at = now(), decided_by = v_me, decided_for_id = v_for,
        comment = btrim(p_comment)
    WHERE t.id = p_task_id;
    INSERT INTO invoiceflow.task (invoice_id, step_key, kind, assignee_id, delegated_from_task_id, due_at)
    VALUES (v_invoice.id, v_task.step_key, v_task.kind, p_to_employee_id, p_task_id, v_task.due_at)
    RETURNING id INTO v_new;
    PERFORM invoiceflow_private.audit(v_invoice.id, 'task', p_task_id, 'delegate',
        jsonb_build_object('assignee_id', v_task.assignee_id),
        jsonb_build_object('assignee_id', p_to_employee_id, 'new_task_id', v_new), btrim(p_comment), v_for);
    PERFORM invoiceflow_private.enqueue_work(v_invoice.id, 'task_delegated');
    RETURN v_new;
END
$$;
COMMENT ON FUNCTION invoiceflow.delegate_task(bigint, bigint, text) IS
    'Hands an open task to another employee with a required comment; returns the new task''s id. Never to the initiator (IF005).';

CREATE FUNCTION invoiceflow_private.holds_finance_function(p_subdivision_ids bigint[], p_functions text[]) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT invoiceflow_private.my_finance_subdivision_ids(p_functions) OPERATOR(pg_catalog.&&) p_subdivision_ids
$$;
COMMENT ON FUNCTION invoiceflow_private.holds_finance_function(bigint[], text[]) IS
    'Whether the caller currently holds one of these finance functions in one of these subdivisions.';

CREATE FUNCTION invoiceflow_private.holds_open_task(p_invoice invoiceflow.invoice, p_kind invoiceflow.task_kind) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT FROM invoiceflow.task AS t
                   WHERE t.invoice_id OPERATOR(pg_catalog.=) p_invoice.id AND t.kind OPERATOR(pg_catalog.=) p_kind
                     AND t.outcome IS NULL
                     AND invoiceflow_private.substitution_covers(t.assignee_id, p_invoice.invoice_type_id))
$$;
COMMENT ON FUNCTION invoiceflow_private.holds_open_task(invoiceflow.invoice, invoiceflow.task_kind) IS
    'Whether the caller (or the person they substitute for right now) holds an open task of this kind on the invoice.';

CREATE FUNCTION invoiceflow.record_payment(
    p_invoice_id bigint, p_amount_minor bigint, p_paid_on date, p_reference text, p_currency text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_me bigint := invoiceflow_private.require_person();
    v_invoice invoiceflow.invoice := invoiceflow_private.lock_invoice(p_invoice_id);
    v_id bigint;
    v_paid bigint;
    v_done jsonb := '[]';
    v_stage invoiceflow.invoice_stage := v_invoice.stage;
BEGIN
    IF v_invoice.stage <> 'payment' THEN
        RAISE EXCEPTION 'invoice % is %: payments are recorded in the payment stage', p_invoice_id, v_invoice.stage
            USING ERRCODE = 'IF003';
    END IF;
    IF NOT (invoiceflow_private.holds_finance_function(ARRAY[v_invoice.paying_subdivision_id], '{treasurer,accountant}')
            OR invoiceflow_private.holds_open_task(v_invoice, 'pay')) THEN
        RAISE EXCEPTION 'not allowed: you are neither a treasurer or accountant of the paying subdivision nor hold its pay task'
            USING ERRCODE = 'IF002';
    END IF;
    IF p_amount_minor IS NULL OR p_amount_minor <= 0 THEN
        PERFORM invoiceflow_private.invalid('p_amount_minor', 'must be a positive number of minor units');
    END IF;
    IF p_paid_on IS NULL OR p_paid_on > current_date THEN
        PERFORM invoiceflow_private.invalid('p_paid_on', 'is required and may not lie in the future');
    END IF;
    IF btrim(coalesce(p_reference, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_reference', 'is required (the payment order number)');
    END IF;
    -- The payment_guard trigger enforces the sum, the currency and separation of duties (IF010, IF001, IF005).
    INSERT INTO invoiceflow.payment (invoice_id, paid_on, reference, amount_minor, currency, recorded_by)
    VALUES (p_invoice_id, p_paid_on, btrim(p_reference), p_amount_minor, coalesce(p_currency, v_invoice.currency), v_me)
    RETURNING id INTO v_id;
    SELECT sum(p.amount_minor) INTO v_paid FROM invoiceflow.payment AS p WHERE p.invoice_id = p_invoice_id;
    IF v_paid = v_invoice.amount_minor THEN
        WITH done AS (
            UPDATE invoiceflow.task AS t SET outcome = 'done', decided_at = now(), decided_by = v_me
            WHERE t.invoice_id = p_invoice_id AND t.kind = 'pay' AND t.outcome IS NULL RETURNING t.id)
        SELECT coalesce(jsonb_agg(done.id), '[]') INTO v_done FROM done;
        UPDATE invoiceflow.invoice AS i SET stage = 'closing_documents' WHERE i.id = p_invoice_id;
        v_stage := 'closing_documents';
    END IF;
    PERFORM invoiceflow_private.audit(p_invoice_id, 'payment', v_id, 'pay',
        jsonb_build_object('paid_minor', v_paid - p_amount_minor, 'stage', v_invoice.stage),
        jsonb_build_object('amount_minor', p_amount_minor, 'paid_minor', v_paid, 'paid_on', p_paid_on,
                           'reference', btrim(p_reference), 'stage', v_stage, 'completed_tasks', v_done));
    PERFORM invoiceflow_private.enqueue_work(p_invoice_id, CASE WHEN v_stage = 'closing_documents' THEN 'paid' ELSE 'partially_paid' END);
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow.record_payment(bigint, bigint, date, text, text) IS
    'Records a (partial) payment in the payment stage, by a treasurer/accountant of the paying subdivision or the pay task''s '
    'holder; when payments reach the amount the invoice moves to closing_documents. IF010 over the amount, IF005 for the '
    'initiator or an approver.';

CREATE FUNCTION invoiceflow.record_closing_document(
    p_invoice_id bigint, p_kind text, p_number text, p_document_date date
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_me bigint := invoiceflow_private.require_person();
    v_invoice invoiceflow.invoice := invoiceflow_private.lock_invoice(p_invoice_id);
    v_id bigint;
BEGIN
    IF v_invoice.stage NOT IN ('payment', 'closing_documents') THEN
        RAISE EXCEPTION 'invoice % is %: closing documents are recorded once it is approved', p_invoice_id, v_invoice.stage
            USING ERRCODE = 'IF003';
    END IF;
    IF NOT (v_invoice.initiator_id = v_me
            OR invoiceflow_private.holds_finance_function(
                   ARRAY[v_invoice.paying_subdivision_id, v_invoice.receiving_subdivision_id],
                   '{document_clerk,accountant,chief_accountant,payroll}')
            OR invoiceflow_private.holds_open_task(v_invoice, 'collect_documents')) THEN
        RAISE EXCEPTION 'not allowed: only the initiator, the collector or a document clerk/accountant of the subdivision'
            USING ERRCODE = 'IF002';
    END IF;
    IF p_kind IS NULL OR p_kind NOT IN ('upd', 'act', 'invoice_factura', 'torg12', 'bank_register', 'customs_declaration',
                                        'cmr', 'expense_report', 'other') THEN
        PERFORM invoiceflow_private.invalid('p_kind', 'must be one of upd, act, invoice_factura, torg12, bank_register, '
            'customs_declaration, cmr, expense_report, other');
    END IF;
    IF btrim(coalesce(p_number, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_number', 'is required');
    END IF;
    IF p_document_date IS NULL OR p_document_date > current_date + 1 THEN
        PERFORM invoiceflow_private.invalid('p_document_date', 'is required and may not lie in the future');
    END IF;
    INSERT INTO invoiceflow.closing_document (invoice_id, kind, number, document_date, recorded_by)
    VALUES (p_invoice_id, p_kind, btrim(p_number), p_document_date, v_me) RETURNING id INTO v_id;
    PERFORM invoiceflow_private.audit(p_invoice_id, 'closing_document', v_id, 'record_document', NULL,
        jsonb_build_object('kind', p_kind, 'number', btrim(p_number), 'document_date', p_document_date));
    PERFORM invoiceflow_private.enqueue_work(p_invoice_id, 'document_recorded');
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow.record_closing_document(bigint, text, text, date) IS
    'Records a closing document (kind, number, date) for an approved invoice: by its initiator, the collector, or a document '
    'clerk/accountant of either subdivision. Returns its id.';

CREATE FUNCTION invoiceflow.close_invoice(p_invoice_id bigint, p_comment text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_me bigint := invoiceflow_private.require_person();
    v_invoice invoiceflow.invoice := invoiceflow_private.lock_invoice(p_invoice_id);
    v_done jsonb;
BEGIN
    IF v_invoice.stage <> 'closing_documents' THEN
        RAISE EXCEPTION 'invoice % is %: only an invoice collecting closing documents can be closed', p_invoice_id,
            v_invoice.stage USING ERRCODE = 'IF003';
    END IF;
    IF NOT (invoiceflow_private.holds_finance_function(
                ARRAY[v_invoice.paying_subdivision_id], '{document_clerk,accountant,chief_accountant,payroll}')
            OR invoiceflow_private.holds_open_task(v_invoice, 'collect_documents')) THEN
        RAISE EXCEPTION 'not allowed: only a document clerk/accountant of the paying subdivision or the collector closes it'
            USING ERRCODE = 'IF002';
    END IF;
    IF NOT EXISTS (SELECT FROM invoiceflow.closing_document AS d WHERE d.invoice_id = p_invoice_id) THEN
        RAISE EXCEPTION 'invoice % has no closing document recorded yet', p_invoice_id USING ERRCODE = 'IF003';
    END IF;
    WITH done AS (
        UPDATE invoiceflow.task AS t SET outcome = 'done', decided_at = now(), decided_by = v_me
        WHERE t.invoice_id = p_invoice_id AND t.outcome IS NULL RETURNING t.id)
    SELECT coalesce(jsonb_agg(done.id), '[]') INTO v_done FROM done;
    UPDATE invoiceflow.invoice AS i SET stage = 'closed' WHERE i.id = p_invoice_id;
    PERFORM invoiceflow_private.audit(p_invoice_id, 'invoice', p_invoice_id, 'close',
        jsonb_build_object('stage', v_invoice.stage), jsonb_build_object('stage', 'closed', 'completed_tasks', v_done),
        nullif(btrim(p_comment), ''));
    PERFORM invoiceflow_private.enqueue_work(p_invoice_id, 'closed');
END
$$;
COMMENT ON FUNCTION invoiceflow.close_invoice(bigint, text) IS
    'Closes an invoice whose closing documents are in (at least one recorded); open collection tasks are completed.';

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
             WHERE p.pronamespace = 'invoiceflow'::regnamespace
               AND p.proname IN ('decide_task', 'delegate_task', 'record_payment', 'record_closing_document', 'close_invoice')
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO invoiceflow_employee', f);
    END LOOP;
END
$$;

RESET ROLE;
