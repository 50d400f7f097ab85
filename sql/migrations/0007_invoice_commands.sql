-- 0007_invoice_commands: the initiator's commands (create, edit, attach, comment, submit, resubmit,
-- withdraw, return for rework) and the shared helpers of every command.
--
-- Every command is SECURITY DEFINER (owned by invoiceflow_owner, which alone may write), pins
-- search_path = pg_catalog, pg_temp, qualifies every name, checks the caller's right and the stage,
-- locks the invoice (always the invoice first, then its tasks: one lock order, no deadlocks), writes
-- exactly one audit row, and queues a routing work item with pg_notify, all in the caller's transaction.

SET LOCAL ROLE invoiceflow_owner;

CREATE FUNCTION invoiceflow_private.invalid(p_column text, p_message text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '%: %', p_column, p_message USING ERRCODE = 'IF001', COLUMN = p_column;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.invalid(text, text) IS
    'Raises IF001 with the parameter named in the message and in the COLUMN field.';

CREATE FUNCTION invoiceflow_private.require_person() RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_me bigint := invoiceflow.current_employee_id();
BEGIN
    IF v_me IS NULL THEN
        RAISE EXCEPTION 'not allowed: the caller is not an active employee (session user %)', session_user
            USING ERRCODE = 'IF002';
    END IF;
    -- Auditors never write, neither in their own session nor through the daemon acting for them.
    IF invoiceflow_private.caller_is('invoiceflow_auditor') OR EXISTS (
        SELECT FROM invoiceflow.employee AS e JOIN pg_catalog.pg_roles AS r ON r.rolname = e.login_role
        WHERE e.id = v_me AND pg_catalog.pg_has_role(r.oid, 'invoiceflow_auditor', 'MEMBER')) THEN
        RAISE EXCEPTION 'not allowed: auditors read, they do not write' USING ERRCODE = 'IF002';
    END IF;
    RETURN v_me;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.require_person() IS
    'The acting employee''s id, or IF002 when the caller is nobody or an auditor (read-only).';

CREATE FUNCTION invoiceflow_private.lock_invoice(p_invoice_id bigint) RETURNS invoiceflow.invoice
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_invoice invoiceflow.invoice;
BEGIN
    IF p_invoice_id IS NULL THEN
        PERFORM invoiceflow_private.invalid('p_invoice_id', 'is required');
    END IF;
    SELECT * INTO v_invoice FROM invoiceflow.invoice AS i WHERE i.id = p_invoice_id FOR UPDATE;
    -- Missing and invisible look the same: existence of others' invoices is not disclosed.
    IF NOT FOUND OR NOT invoiceflow_private.invoice_visible(p_invoice_id) THEN
        RAISE EXCEPTION 'invoice % does not exist or is not visible to you', p_invoice_id USING ERRCODE = 'IF007';
    END IF;
    RETURN v_invoice;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.lock_invoice(bigint) IS
    'Locks the invoice FOR UPDATE and returns it; IF007 when it does not exist or the caller may not see it.';

CREATE FUNCTION invoiceflow_private.check_version(p_invoice invoiceflow.invoice, p_expected_version integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_expected_version IS NOT NULL AND p_expected_version <> p_invoice.version THEN
        RAISE EXCEPTION 'invoice % changed meanwhile: version is %, you expected %', p_invoice.id, p_invoice.version,
            p_expected_version USING ERRCODE = 'IF006';
    END IF;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.check_version(invoiceflow.invoice, integer) IS
    'IF006 when the caller works from a stale version of the invoice.';

CREATE FUNCTION invoiceflow_private.invoice_content(p_invoice invoiceflow.invoice) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.to_jsonb(p_invoice) OPERATOR(pg_catalog.-)
        '{version,stage_changed_at,supplier_invoice_number_norm,created_at}'::text[]
$$;
COMMENT ON FUNCTION invoiceflow_private.invoice_content(invoiceflow.invoice) IS 'The invoice as audit before/after values.';

CREATE FUNCTION invoiceflow_private.check_duplicate(p_invoice invoiceflow.invoice) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_earlier bigint;
BEGIN
    SELECT i.id INTO v_earlier FROM invoiceflow.invoice AS i
    WHERE i.id IS DISTINCT FROM p_invoice.id
      AND i.stage <> 'withdrawn'
      AND i.counterparty_id IS NOT DISTINCT FROM p_invoice.counterparty_id
      AND i.receiving_subdivision_id IS NOT DISTINCT FROM p_invoice.receiving_subdivision_id
      AND (i.receiving_subdivision_id IS NULL OR i.paying_subdivision_id = p_invoice.paying_subdivision_id)
      AND i.supplier_invoice_number_norm = invoiceflow.normalize_invoice_number(p_invoice.supplier_invoice_number)
      AND (i.supplier_invoice_date = p_invoice.supplier_invoice_date OR i.amount_minor = p_invoice.amount_minor)
    ORDER BY i.id LIMIT 1;
    IF v_earlier IS NULL THEN
        RETURN;
    END IF;
    -- Name the earlier invoice only to someone who may see it: otherwise the error would leak it.
    IF invoiceflow_private.invoice_visible(v_earlier) THEN
        RAISE EXCEPTION 'duplicate invoice: the same receiver, supplier invoice number and date or amount as invoice %', v_earlier
            USING ERRCODE = 'IF004', COLUMN = 'p_supplier_invoice_number', DETAIL = 'earlier_invoice_id=' || v_earlier;
    ELSE
        RAISE EXCEPTION 'duplicate invoice: the same receiver, supplier invoice number and date or amount as an existing invoice'
            USING ERRCODE = 'IF004', COLUMN = 'p_supplier_invoice_number';
    END IF;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.check_duplicate(invoiceflow.invoice) IS
    'IF004 when a live invoice has the same receiver, normalized supplier number and date or amount; '
    'the earlier invoice is named (message and DETAIL earlier_invoice_id=N) only if the caller may see it.';

CREATE FUNCTION invoiceflow_private.cancel_open_tasks(p_invoice_id bigint, p_reason text) RETURNS jsonb
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH closed AS (
        UPDATE invoiceflow.task AS t SET outcome = 'cancelled', decided_at = pg_catalog.now(), comment = p_reason
        WHERE t.invoice_id OPERATOR(pg_catalog.=) p_invoice_id AND t.outcome IS NULL
        RETURNING t.id)
    SELECT coalesce(pg_catalog.jsonb_agg(closed.id ORDER BY closed.id), '[]'::jsonb) FROM closed
$$;
COMMENT ON FUNCTION invoiceflow_private.cancel_open_tasks(bigint, text) IS
    'Closes every open task of an invoice as cancelled (rejection, withdrawal, return); returns their ids for the audit row.';

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
    p_goods_received boolean DEFAULT false
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
            goods_received)
        VALUES (v_type.id, v_type.confidential, p_paying_subdivision_id, p_counterparty_id, p_receiving_subdivision_id,
            v_me, v_department, btrim(p_supplier_invoice_number), p_supplier_invoice_date, p_amount_minor, p_currency,
            p_vat_minor, btrim(p_purpose), p_due_date, coalesce(p_prepayment, false), p_prepayment_percent,
            coalesce(p_urgent, false), coalesce(p_outside_budget, false), coalesce(p_goods_received, false))
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
    boolean, smallint, boolean, boolean, boolean) IS
    'Creates a draft invoice of the caller (the initiator) and returns its id. Give a counterparty, or for an intercompany '
    'invoice the receiving subdivision. Errors: IF001 (field named), IF002 (no assignment in the paying subdivision), IF004.';

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
    p_goods_received boolean DEFAULT NULL
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
            goods_received = coalesce(p_goods_received, i.goods_received)
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
    boolean, boolean, boolean) IS
    'Changes fields of the caller''s draft (NULL = unchanged) and returns the new version. IF003 unless draft, IF006 on a stale '
    'p_expected_version, IF004 if the change makes it a duplicate.';

CREATE FUNCTION invoiceflow.add_attachment(
    p_invoice_id bigint, p_file_name text, p_media_type text,
    p_content bytea DEFAULT NULL, p_sha256 bytea DEFAULT NULL, p_size_bytes bigint DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_me bigint := invoiceflow_private.require_person();
    v_invoice invoiceflow.invoice := invoiceflow_private.lock_invoice(p_invoice_id);
    v_id bigint;
BEGIN
    IF v_invoice.initiator_id <> v_me THEN
        RAISE EXCEPTION 'not allowed: only the initiator attaches files to invoice %', p_invoice_id USING ERRCODE = 'IF002';
    END IF;
    IF v_invoice.stage <> 'draft' THEN
        RAISE EXCEPTION 'invoice % is %: attachments change only in a draft', p_invoice_id, v_invoice.stage USING ERRCODE = 'IF003';
    END IF;
    IF btrim(coalesce(p_file_name, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_file_name', 'is required');
    END IF;
    IF p_media_type IS NULL OR p_media_type !~ '^[a-z]+/[a-zA-Z0-9.+-]+$' THEN
        PERFORM invoiceflow_private.invalid('p_media_type', 'must be a media type such as application/pdf');
    END IF;
    IF p_content IS NULL AND (p_sha256 IS NULL OR length(p_sha256) <> 32 OR p_size_bytes IS NULL OR p_size_bytes < 0) THEN
        PERFORM invoiceflow_private.invalid('p_sha256', 'without content give the 32-byte SHA-256 and the size');
    END IF;
    IF p_content IS NOT NULL AND p_sha256 IS NOT NULL AND sha256(p_content) <> p_sha256 THEN
        PERFORM invoiceflow_private.invalid('p_sha256', 'does not match the content');
    END IF;
    INSERT INTO invoiceflow.attachment (invoice_id, file_name, media_type, size_bytes, sha256, content, uploaded_by)
    VALUES (p_invoice_id, btrim(p_file_name), p_media_type, coalesce(length(p_content), p_size_bytes),
            coalesce(sha256(p_content), p_sha256), p_content, v_me)
    RETURNING id INTO v_id;
    PERFORM invoiceflow_private.audit(p_invoice_id, 'attachment', v_id, 'attach', NULL,
        jsonb_build_object('file_name', btrim(p_file_name), 'sha256', encode(coalesce(sha256(p_content), p_sha256), 'hex'),
                           'size_bytes', coalesce(length(p_content), p_size_bytes)));
    PERFORM invoiceflow_private.enqueue_work(p_invoice_id, 'edited');
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow.add_attachment(bigint, text, text, bytea, bytea, bigint) IS
    'Attaches a file to the caller''s draft: the content (hash computed here) or its SHA-256 and size. Returns the attachment id.';

CREATE FUNCTION invoiceflow.add_comment(p_invoice_id bigint, p_body text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_me bigint := invoiceflow_private.require_person();
    v_invoice invoiceflow.invoice := invoiceflow_private.lock_invoice(p_invoice_id);
    v_id bigint;
BEGIN
    IF btrim(coalesce(p_body, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_body', 'is required');
    END IF;
    INSERT INTO invoiceflow.invoice_comment (invoice_id, author_id, body) VALUES (v_invoice.id, v_me, btrim(p_body))
    RETURNING id INTO v_id;
    PERFORM invoiceflow_private.audit(v_invoice.id, 'comment', v_id, 'comment', NULL, NULL, btrim(p_body));
    PERFORM invoiceflow_private.enqueue_work(v_invoice.id, 'commented');
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow.add_comment(bigint, text) IS
    'Adds a comment to an invoice the caller can see, at any stage. Returns the comment id.';

CREATE FUNCTION invoiceflow.submit_invoice(p_invoice_id bigint, p_expected_version integer DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_me bigint := invoiceflow_private.require_person();
    v_invoice invoiceflow.invoice := invoiceflow_private.lock_invoice(p_invoice_id);
    v_again boolean := v_invoice.submitted_at IS NOT NULL;
BEGIN
    IF v_invoice.initiator_id <> v_me THEN
        RAISE EXCEPTION 'not allowed: only the initiator submits invoice %', p_invoice_id USING ERRCODE = 'IF002';
    END IF;
    IF v_invoice.stage <> 'draft' THEN
        RAISE EXCEPTION 'invoice % is %: only a draft can be submitted', p_invoice_id, v_invoice.stage USING ERRCODE = 'IF003';
    END IF;
    PERFORM invoiceflow_private.check_version(v_invoice, p_expected_version);
    PERFORM invoiceflow_private.check_duplicate(v_invoice);
    UPDATE invoiceflow.invoice AS i SET stage = 'approval', submitted_at = coalesce(i.submitted_at, now())
    WHERE i.id = p_invoice_id;
    PERFORM invoiceflow_private.audit(p_invoice_id, 'invoice', p_invoice_id, CASE WHEN v_again THEN 'resubmit' ELSE 'submit' END,
        jsonb_build_object('stage', 'draft'), jsonb_build_object('stage', 'approval'));
    PERFORM invoiceflow_private.enqueue_work(p_invoice_id, CASE WHEN v_again THEN 'resubmitted' ELSE 'submitted' END);
END
$$;
COMMENT ON FUNCTION invoiceflow.submit_invoice(bigint, integer) IS
    'Sends the caller''s draft to approval (its content is frozen from now on) and queues routing. A draft that was submitted '
    'before is a resubmission. IF002 unless the initiator, IF003 unless draft, IF004 duplicate, IF006 stale version.';

CREATE FUNCTION invoiceflow.resubmit_invoice(p_invoice_id bigint, p_expected_version integer DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_invoice invoiceflow.invoice := invoiceflow_private.lock_invoice(p_invoice_id);
BEGIN
    IF v_invoice.submitted_at IS NULL THEN
        RAISE EXCEPTION 'invoice % was never submitted: use submit_invoice', p_invoice_id USING ERRCODE = 'IF003';
    END IF;
    PERFORM invoiceflow.submit_invoice(p_invoice_id, p_expected_version);
END
$$;
COMMENT ON FUNCTION invoiceflow.resubmit_invoice(bigint, integer) IS
    'Submits again a draft that was returned for rework; the router then asks again only whom the route requires.';

CREATE FUNCTION invoiceflow.withdraw_invoice(p_invoice_id bigint, p_reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_me bigint := invoiceflow_private.require_person();
    v_invoice invoiceflow.invoice := invoiceflow_private.lock_invoice(p_invoice_id);
    v_cancelled jsonb;
BEGIN
    IF v_invoice.initiator_id <> v_me THEN
        RAISE EXCEPTION 'not allowed: only the initiator withdraws invoice %', p_invoice_id USING ERRCODE = 'IF002';
    END IF;
    IF v_invoice.stage NOT IN ('draft', 'approval', 'rejected') THEN
        RAISE EXCEPTION 'invoice % is %: it can no longer be withdrawn', p_invoice_id, v_invoice.stage USING ERRCODE = 'IF003';
    END IF;
    IF btrim(coalesce(p_reason, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_reason', 'is required');
    END IF;
    v_cancelled := invoiceflow_private.cancel_open_tasks(p_invoice_id, 'invoice withdrawn');
    UPDATE invoiceflow.invoice AS i SET stage = 'withdrawn' WHERE i.id = p_invoice_id;
    PERFORM invoiceflow_private.audit(p_invoice_id, 'invoice', p_invoice_id, 'withdraw',
        jsonb_build_object('stage', v_invoice.stage),
        jsonb_build_object('stage', 'withdrawn', 'cancelled_tasks', v_cancelled), btrim(p_reason));
    PERFORM invoiceflow_private.enqueue_work(p_invoice_id, 'withdrawn');
END
$$;
COMMENT ON FUNCTION invoiceflow.withdraw_invoice(bigint, text) IS
    'The initiator cancels their invoice (draft, approval or rejected) with a reason; open tasks are cancelled.';

CREATE FUNCTION invoiceflow.return_for_rework(p_invoice_id bigint, p_comment text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_me bigint := invoiceflow_private.require_person();
    v_invoice invoiceflow.invoice := invoiceflow_private.lock_invoice(p_invoice_id);
    v_holder boolean;
    v_cancelled jsonb;
BEGIN
    IF v_invoice.stage NOT IN ('approval', 'rejected') THEN
        RAISE EXCEPTION 'invoice % is %: only an invoice in approval or rejected can be returned for rework', p_invoice_id,
            v_invoice.stage USING ERRCODE = 'IF003';
    END IF;
    v_holder := EXISTS (SELECT FROM invoiceflow.task AS t
                        WHERE t.invoice_id = p_invoice_id AND t.outcome IS NULL AND t.kind = 'approve'
                          AND invoiceflow_private.substitution_covers(t.assignee_id, v_invoice.invoice_type_id));
    IF v_invoice.initiator_id <> v_me AND NOT v_holder THEN
        RAISE EXCEPTION 'not allowed: only the initiator or a current approver returns invoice % for rework', p_invoice_id
            USING ERRCODE = 'IF002';
    END IF;
    IF btrim(coalesce(p_comment, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_comment', 'is required: say what to fix');
    END IF;
    v_cancelled := invoiceflow_private.cancel_open_tasks(p_invoice_id, 'returned for rework');
    UPDATE invoiceflow.invoice AS i SET stage = 'draft' WHERE i.id = p_invoice_id;
    PERFORM invoiceflow_private.audit(p_invoice_id, 'invoice', p_invoice_id, 'return_for_rework',
        jsonb_build_object('stage', v_invoice.stage),
        jsonb_build_object('stage', 'draft', 'cancelled_tasks', v_cancelled), btrim(p_comment));
    PERFORM invoiceflow_private.enqueue_work(p_invoice_id, 'returned');
END
$$;
COMMENT ON FUNCTION invoiceflow.return_for_rework(bigint, text) IS
    'Back to draft with a required comment, history kept: by the initiator (approval or rejected) or by a current approver. '
    'Open tasks are cancelled; the initiator may then edit and resubmit.';

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
             WHERE p.pronamespace = 'invoiceflow'::regnamespace
               AND p.proname IN ('create_invoice', 'edit_draft', 'add_attachment', 'add_comment', 'submit_invoice',
                                 'resubmit_invoice', 'withdraw_invoice', 'return_for_rework')
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO invoiceflow_employee', f);
    END LOOP;
END
$$;

RESET ROLE;
