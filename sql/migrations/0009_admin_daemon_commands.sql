-- 0009_admin_daemon_commands: administration (subdivisions, departments, hiring, assignments,
-- substitutions, counterparties) for invoiceflow_admin, and the daemon-only functions the router uses
-- (create a task, move the stage, claim and finish work items), executable only by invoiceflow_daemon.

SET LOCAL ROLE invoiceflow_owner;

CREATE FUNCTION invoiceflow_private.require_admin() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT invoiceflow_private.caller_is('invoiceflow_admin') THEN
        RAISE EXCEPTION 'not allowed: administration needs invoiceflow_admin' USING ERRCODE = 'IF002';
    END IF;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.require_admin() IS 'IF002 unless the session user is in invoiceflow_admin.';

CREATE FUNCTION invoiceflow_private.refuse_self_grant(p_employee_id bigint, p_login_role name, p_column text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- Invariant 7, no silent admin bypass: an admin never gives authority (a job, a deputyship, an identity) to themself.
    IF p_login_role = session_user OR EXISTS (
        SELECT FROM invoiceflow.employee AS e WHERE e.id = p_employee_id AND e.login_role = session_user) THEN
        RAISE EXCEPTION 'separation of duties: an admin may not grant authority to themself; another admin must do it'
            USING ERRCODE = 'IF005', COLUMN = p_column;
    END IF;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.refuse_self_grant(bigint, name, text) IS
    'IF005 when an admin command targets the caller''s own employee record or login role.';

CREATE FUNCTION invoiceflow_private.check_requisites(
    p_inn text, p_kpp text, p_bik text, p_settlement_account text, p_correspondent_account text, p_kpp_required boolean
) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_inn IS NULL OR NOT invoiceflow.inn_is_valid(p_inn) THEN
        PERFORM invoiceflow_private.invalid('p_inn', 'not a valid ИНН (10 or 12 digits with check digits)');
    END IF;
    IF (p_kpp IS NULL AND p_kpp_required) OR NOT invoiceflow.kpp_is_valid(p_kpp) THEN
        PERFORM invoiceflow_private.invalid('p_kpp', 'not a valid КПП (required for a 10-digit ИНН)');
    END IF;
    IF p_bik IS NULL OR NOT invoiceflow.bik_is_valid(p_bik) THEN
        PERFORM invoiceflow_private.invalid('p_bik', 'not a valid БИК');
    END IF;
    IF p_settlement_account IS NULL OR NOT invoiceflow.settlement_account_is_valid(p_settlement_account, p_bik) THEN
        PERFORM invoiceflow_private.invalid('p_settlement_account', 'not a valid расчётный счёт for this БИК');
    END IF;
    IF NOT invoiceflow.correspondent_account_is_valid(p_correspondent_account, p_bik) THEN
        PERFORM invoiceflow_private.invalid('p_correspondent_account', 'not a valid корреспондентский счёт for this БИК');
    END IF;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.check_requisites(text, text, text, text, text, boolean) IS
    'IF001 naming the first invalid requisite (the CHECK constraints say the same, but name the constraint, not the parameter).';

CREATE FUNCTION invoiceflow.add_subdivision(
    p_code text, p_name text, p_inn text, p_kpp text, p_bik text, p_settlement_account text,
    p_correspondent_account text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM invoiceflow_private.require_admin();
    IF p_code IS NULL OR p_code !~ '^[a-z][a-z0-9_]{1,31}$' THEN
        PERFORM invoiceflow_private.invalid('p_code', 'must be 2-32 lower-case letters, digits or _');
    END IF;
    IF btrim(coalesce(p_name, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_name', 'is required');
    END IF;
    PERFORM invoiceflow_private.check_requisites(p_inn, p_kpp, p_bik, p_settlement_account, p_correspondent_account,
        length(p_inn) = 10);
    BEGIN
        INSERT INTO invoiceflow.subdivision (code, name, inn, kpp, bik, settlement_account, correspondent_account)
        VALUES (p_code, btrim(p_name), p_inn, p_kpp, p_bik, p_settlement_account, p_correspondent_account) RETURNING id INTO v_id;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'a subdivision with code % exists', p_code USING ERRCODE = 'IF011', COLUMN = 'p_code';
    END;
    PERFORM invoiceflow_private.audit(NULL, 'subdivision', v_id, 'add_subdivision', NULL,
        jsonb_build_object('code', p_code, 'name', btrim(p_name), 'inn', p_inn, 'kpp', p_kpp));
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow.add_subdivision(text, text, text, text, text, text, text) IS
    'Admin: registers a subdivision with validated requisites; returns its id.';

CREATE FUNCTION invoiceflow.add_department(p_subdivision_id bigint, p_name text, p_parent_id bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM invoiceflow_private.require_admin();
    IF NOT EXISTS (SELECT FROM invoiceflow.subdivision AS s WHERE s.id = p_subdivision_id) THEN
        PERFORM invoiceflow_private.invalid('p_subdivision_id', 'unknown subdivision');
    END IF;
    IF btrim(coalesce(p_name, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_name', 'is required');
    END IF;
    IF p_parent_id IS NOT NULL AND NOT EXISTS (
        SELECT FROM invoiceflow.department AS d WHERE d.id = p_parent_id AND d.subdivision_id = p_subdivision_id) THEN
        PERFORM invoiceflow_private.invalid('p_parent_id', 'unknown department of this subdivision');
    END IF;
    BEGIN
        INSERT INTO invoiceflow.department (subdivision_id, parent_id, name) VALUES (p_subdivision_id, p_parent_id, btrim(p_name))
        RETURNING id INTO v_id;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'the subdivision already has a department %', btrim(p_name) USING ERRCODE = 'IF011', COLUMN = 'p_name';
    END;
    PERFORM invoiceflow_private.audit(NULL, 'department', v_id, 'add_department', NULL,
        jsonb_build_object('subdivision_id', p_subdivision_id, 'name', btrim(p_name), 'parent_id', p_parent_id));
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow.add_department(bigint, text, bigint) IS 'Admin: adds a department (optionally under a parent of the same subdivision).';

CREATE FUNCTION invoiceflow.hire_employee(
    p_full_name text, p_email text, p_login_role name DEFAULT NULL, p_locale text DEFAULT 'ru'
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM invoiceflow_private.require_admin();
    IF btrim(coalesce(p_full_name, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_full_name', 'is required');
    END IF;
    IF p_email IS NULL OR p_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' THEN
        PERFORM invoiceflow_private.invalid('p_email', 'not an e-mail address');
    END IF;
    IF p_locale IS NULL OR p_locale NOT IN ('ru', 'en') THEN
        PERFORM invoiceflow_private.invalid('p_locale', 'must be ru or en');
    END IF;
    -- A person's login role: an existing LOGIN role that is not one of ours and not privileged.
    IF p_login_role IS NOT NULL AND (p_login_role LIKE 'invoiceflow\_%' OR NOT EXISTS (
        SELECT FROM pg_catalog.pg_roles AS r
        WHERE r.rolname = p_login_role AND r.rolcanlogin AND NOT r.rolsuper AND NOT r.rolbypassrls)) THEN
        PERFORM invoiceflow_private.invalid('p_login_role', 'must be an existing, unprivileged login role (create it first)');
    END IF;
    PERFORM invoiceflow_private.refuse_self_grant(NULL, p_login_role, 'p_login_role');
    BEGIN
        INSERT INTO invoiceflow.employee (full_name, email, login_role, locale)
        VALUES (btrim(p_full_name), p_email, p_login_role, p_locale) RETURNING id INTO v_id;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'login role % already belongs to an employee', p_login_role USING ERRCODE = 'IF011', COLUMN = 'p_login_role';
    END;
    PERFORM invoiceflow_private.audit(NULL, 'employee', v_id, 'hire', NULL,
        jsonb_build_object('full_name', btrim(p_full_name), 'email', p_email, 'login_role', p_login_role, 'locale', p_locale));
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow.hire_employee(text, text, name, text) IS
    'Admin: registers an employee, optionally mapped to an existing login role (which the DBA creates IN ROLE invoiceflow_employee).';

CREATE FUNCTION invoiceflow.assign_employee(
    p_employee_id bigint, p_department_id bigint, p_position_code text,
    p_valid_from timestamptz DEFAULT now(), p_valid_until timestamptz DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_position bigint;
    v_subdivision bigint;
    v_id bigint;
BEGIN
    PERFORM invoiceflow_private.require_admin();
    IF NOT EXISTS (SELECT FROM invoiceflow.employee AS e WHERE e.id = p_employee_id) THEN
        PERFORM invoiceflow_private.invalid('p_employee_id', 'unknown employee');
    END IF;
    PERFORM invoiceflow_private.refuse_self_grant(p_employee_id, NULL, 'p_employee_id');
    SELECT d.subdivision_id INTO v_subdivision FROM invoiceflow.department AS d WHERE d.id = p_department_id;
    IF v_subdivision IS NULL THEN
        PERFORM invoiceflow_private.invalid('p_department_id', 'unknown department');
    END IF;
    SELECT p.id INTO v_position FROM invoiceflow.position AS p WHERE p.code = p_position_code;
    IF v_position IS NULL THEN
        PERFORM invoiceflow_private.invalid('p_position_code', format('unknown position %L', p_position_code));
    END IF;
    IF p_valid_from IS NULL OR p_valid_until <= p_valid_from THEN
        PERFORM invoiceflow_private.invalid('p_valid_until', 'must come after p_valid_from');
    END IF;
    BEGIN
        INSERT INTO invoiceflow.assignment (employee_id, department_id, subdivision_id, position_id, valid)
        VALUES (p_employee_id, p_department_id, v_subdivision, v_position, tstzrange(p_valid_from, p_valid_until))
        RETURNING id INTO v_id;
    EXCEPTION WHEN exclusion_violation THEN
        RAISE EXCEPTION 'the employee already holds this position in this department at an overlapping time'
            USING ERRCODE = 'IF011', COLUMN = 'p_valid_from';
    END;
    PERFORM invoiceflow_private.audit(NULL, 'assignment', v_id, 'assign', NULL,
        jsonb_build_object('employee_id', p_employee_id, 'department_id', p_department_id, 'position', p_position_code,
                           'valid', tstzrange(p_valid_from, p_valid_until)::text));
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow.assign_employee(bigint, bigint, text, timestamptz, timestamptz) IS
    'Admin: assigns an employee to a department and position from p_valid_from until p_valid_until (NULL: open). IF011 on overlap.';

CREATE FUNCTION invoiceflow.end_assignment(p_assignment_id bigint, p_at timestamptz DEFAULT now()) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_old invoiceflow.assignment;
BEGIN
    PERFORM invoiceflow_private.require_admin();
    SELECT * INTO v_old FROM invoiceflow.assignment AS a WHERE a.id = p_assignment_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'assignment % does not exist', p_assignment_id USING ERRCODE = 'IF007';
    END IF;
    IF p_at IS NULL OR p_at <= lower(v_old.valid) OR (upper(v_old.valid) IS NOT NULL AND p_at >= upper(v_old.valid)) THEN
        PERFORM invoiceflow_private.invalid('p_at', 'must fall inside the assignment''s current range');
    END IF;
    UPDATE invoiceflow.assignment AS a SET valid = tstzrange(lower(a.valid), p_at) WHERE a.id = p_assignment_id;
    PERFORM invoiceflow_private.audit(NULL, 'assignment', p_assignment_id, 'end_assignment',
        jsonb_build_object('valid', v_old.valid::text), jsonb_build_object('valid', tstzrange(lower(v_old.valid), p_at)::text));
END
$$;
COMMENT ON FUNCTION invoiceflow.end_assignment(bigint, timestamptz) IS 'Admin: ends an assignment at p_at (history is kept, nothing is deleted).';

CREATE FUNCTION invoiceflow.add_substitution(
    p_absent_employee_id bigint, p_deputy_employee_id bigint, p_valid_from timestamptz, p_valid_until timestamptz,
    p_reason text, p_invoice_types text[] DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM invoiceflow_private.require_admin();
    IF NOT EXISTS (SELECT FROM invoiceflow.employee AS e WHERE e.id = p_absent_employee_id) THEN
        PERFORM invoiceflow_private.invalid('p_absent_employee_id', 'unknown employee');
    END IF;
    IF NOT EXISTS (SELECT FROM invoiceflow.employee AS e WHERE e.id = p_deputy_employee_id AND e.active) THEN
        PERFORM invoiceflow_private.invalid('p_deputy_employee_id', 'unknown or inactive employee');
    END IF;
    PERFORM invoiceflow_private.refuse_self_grant(p_deputy_employee_id, NULL, 'p_deputy_employee_id');
    PERFORM invoiceflow_private.refuse_self_grant(p_absent_employee_id, NULL, 'p_absent_employee_id');
    IF p_absent_employee_id = p_deputy_employee_id THEN
        PERFORM invoiceflow_private.invalid('p_deputy_employee_id', 'nobody substitutes for themselves');
    END IF;
    IF p_valid_from IS NULL OR p_valid_until IS NULL OR p_valid_until <= p_valid_from THEN
        PERFORM invoiceflow_private.invalid('p_valid_until', 'give both ends, p_valid_until after p_valid_from');
    END IF;
    IF btrim(coalesce(p_reason, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_reason', 'is required (vacation, business trip, ...)');
    END IF;
    IF cardinality(p_invoice_types) = 0 THEN
        PERFORM invoiceflow_private.invalid('p_invoice_types', 'NULL for all types, or at least one type');
    END IF;
    BEGIN
        INSERT INTO invoiceflow.substitution (absent_employee_id, deputy_employee_id, valid, invoice_type_codes, reason)
        VALUES (p_absent_employee_id, p_deputy_employee_id, tstzrange(p_valid_from, p_valid_until), p_invoice_types,
                btrim(p_reason))
        RETURNING id INTO v_id;
    EXCEPTION WHEN exclusion_violation THEN
        RAISE EXCEPTION 'the employee already has a deputy at an overlapping time' USING ERRCODE = 'IF011', COLUMN = 'p_valid_from';
    END;
    PERFORM invoiceflow_private.audit(NULL, 'substitution', v_id, 'add_substitution', NULL,
        jsonb_build_object('absent_employee_id', p_absent_employee_id, 'deputy_employee_id', p_deputy_employee_id,
                           'valid', tstzrange(p_valid_from, p_valid_until)::text, 'invoice_types', p_invoice_types),
        btrim(p_reason));
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow.add_substitution(bigint, bigint, timestamptz, timestamptz, text, text[]) IS
    'Admin: a deputy acts for an absent employee over [from, until), optionally only for some invoice types. '
    'IF001 for self-substitution, IF011 for overlaps and chains.';

CREATE FUNCTION invoiceflow.add_counterparty(
    p_name text, p_inn text, p_kpp text, p_bik text, p_settlement_account text, p_correspondent_account text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM invoiceflow_private.require_admin();
    IF btrim(coalesce(p_name, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_name', 'is required');
    END IF;
    PERFORM invoiceflow_private.check_requisites(p_inn, p_kpp, p_bik, p_settlement_account, p_correspondent_account,
        length(p_inn) = 10);
    BEGIN
        INSERT INTO invoiceflow.counterparty (name, inn, kpp, bik, settlement_account, correspondent_account)
        VALUES (btrim(p_name), p_inn, p_kpp, p_bik, p_settlement_account, p_correspondent_account) RETURNING id INTO v_id;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'a counterparty with ИНН % and КПП % exists', p_inn, p_kpp USING ERRCODE = 'IF011', COLUMN = 'p_inn';
    END;
    PERFORM invoiceflow_private.audit(NULL, 'counterparty', v_id, 'add_counterparty', NULL,
        jsonb_build_object('name', btrim(p_name), 'inn', p_inn, 'kpp', p_kpp, 'bik', p_bik,
                           'settlement_account', p_settlement_account));
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow.add_counterparty(text, text, text, text, text, text) IS
    'Admin: registers a counterparty with validated requisites (IF001 naming the bad one, IF011 if it exists).';

-- Daemon-only: the router's output. These write no routing work item (they are the router's reaction to one).
CREATE FUNCTION invoiceflow.daemon_create_task(
    p_invoice_id bigint, p_step_key text, p_kind text, p_assignee_id bigint,
    p_acting_for_id bigint DEFAULT NULL, p_due_at timestamptz DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_invoice invoiceflow.invoice;
    v_id bigint;
BEGIN
    SELECT * INTO v_invoice FROM invoiceflow.invoice AS i WHERE i.id = p_invoice_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'invoice % does not exist', p_invoice_id USING ERRCODE = 'IF007';
    END IF;
    IF p_kind IS NULL OR p_kind NOT IN ('approve', 'pay', 'collect_documents') THEN
        PERFORM invoiceflow_private.invalid('p_kind', 'must be approve, pay or collect_documents');
    END IF;
    IF btrim(coalesce(p_step_key, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_step_key', 'is required');
    END IF;
    IF NOT EXISTS (SELECT FROM invoiceflow.employee AS e WHERE e.id = p_assignee_id AND e.active) THEN
        PERFORM invoiceflow_private.invalid('p_assignee_id', 'unknown or inactive employee');
    END IF;
    IF (p_kind = 'approve' AND v_invoice.stage <> 'approval')
       OR (p_kind = 'pay' AND v_invoice.stage <> 'payment')
       OR (p_kind = 'collect_documents' AND v_invoice.stage NOT IN ('payment', 'closing_documents')) THEN
        RAISE EXCEPTION 'invoice % is %: no % task now', p_invoice_id, v_invoice.stage, p_kind USING ERRCODE = 'IF003';
    END IF;
    -- task_guard_duties refuses an initiator or (for pay) an approver with IF005.
    INSERT INTO invoiceflow.task (invoice_id, step_key, kind, assignee_id, acting_for_id, due_at)
    VALUES (p_invoice_id, btrim(p_step_key), p_kind::invoiceflow.task_kind, p_assignee_id, p_acting_for_id, p_due_at)
    RETURNING id INTO v_id;
    PERFORM invoiceflow_private.audit(p_invoice_id, 'task', v_id, 'assign_task', NULL,
        jsonb_build_object('step_key', btrim(p_step_key), 'kind', p_kind, 'assignee_id', p_assignee_id,
                           'acting_for_id', p_acting_for_id, 'due_at', p_due_at), NULL, p_acting_for_id);
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_create_task(bigint, text, text, bigint, bigint, timestamptz) IS
    'Daemon only: the router creates a task (approve in approval, pay in payment, collect_documents after approval). '
    'IF005 if it would make the initiator approve/pay or an approver pay.';

CREATE FUNCTION invoiceflow.daemon_set_stage(p_invoice_id bigint, p_stage text, p_comment text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_invoice invoiceflow.invoice;
BEGIN
    SELECT * INTO v_invoice FROM invoiceflow.invoice AS i WHERE i.id = p_invoice_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'invoice % does not exist', p_invoice_id USING ERRCODE = 'IF007';
    END IF;
    IF (v_invoice.stage::text, p_stage) NOT IN (('approval', 'payment'), ('payment', 'closing_documents'),
                                                ('closing_documents', 'closed')) THEN
        RAISE EXCEPTION 'invoice % is %: the router cannot move it to %', p_invoice_id, v_invoice.stage, p_stage
            USING ERRCODE = 'IF003', COLUMN = 'p_stage';
    END IF;
    IF p_stage = 'payment' AND EXISTS (SELECT FROM invoiceflow.task AS t
                                       WHERE t.invoice_id = p_invoice_id AND t.kind = 'approve' AND t.outcome IS NULL) THEN
        RAISE EXCEPTION 'invoice % still has open approval tasks', p_invoice_id USING ERRCODE = 'IF003';
    END IF;
    UPDATE invoiceflow.invoice AS i SET stage = p_stage::invoiceflow.invoice_stage WHERE i.id = p_invoice_id;
    PERFORM invoiceflow_private.audit(p_invoice_id, 'invoice', p_invoice_id, 'stage_' || p_stage,
        jsonb_build_object('stage', v_invoice.stage), jsonb_build_object('stage', p_stage), nullif(btrim(p_comment), ''));
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_set_stage(bigint, text, text) IS
    'Daemon only: the router moves an invoice forward (approval → payment once every approval is in, payment → '
    'closing_documents, closing_documents → closed). IF003 for any other move.';

CREATE FUNCTION invoiceflow.daemon_claim_work(p_worker text, p_limit integer DEFAULT 10, p_lease interval DEFAULT '5 minutes')
RETURNS TABLE (work_item_id bigint, invoice_id bigint, kind text, attempts integer)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH claimable AS (
        SELECT w.id FROM invoiceflow_private.work_item AS w
        WHERE w.done_at IS NULL AND w.run_after OPERATOR(pg_catalog.<=) pg_catalog.now()
          AND (w.locked_until IS NULL OR w.locked_until OPERATOR(pg_catalog.<) pg_catalog.now())
        ORDER BY w.run_after, w.id
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED)
    UPDATE invoiceflow_private.work_item AS w
    SET locked_by = p_worker, locked_until = pg_catalog.now() OPERATOR(pg_catalog.+) p_lease,
        attempts = w.attempts OPERATOR(pg_catalog.+) 1
    FROM claimable WHERE w.id OPERATOR(pg_catalog.=) claimable.id
    RETURNING w.id, w.invoice_id, w.kind, w.attempts
$$;
COMMENT ON FUNCTION invoiceflow.daemon_claim_work(text, integer, interval) IS
    'Daemon only: claims up to p_limit due work items (FOR UPDATE SKIP LOCKED) under a lease; an expired lease is claimable again.';

CREATE FUNCTION invoiceflow.daemon_finish_work(p_work_item_id bigint, p_error text DEFAULT NULL,
                                              p_retry_after interval DEFAULT '1 minute')
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    UPDATE invoiceflow_private.work_item AS w SET
        done_at = CASE WHEN p_error IS NULL THEN pg_catalog.now() END,
        last_error = p_error,
        run_after = CASE WHEN p_error IS NULL THEN w.run_after ELSE pg_catalog.now() OPERATOR(pg_catalog.+) p_retry_after END,
        locked_until = NULL, locked_by = NULL
    WHERE w.id OPERATOR(pg_catalog.=) p_work_item_id
$$;
COMMENT ON FUNCTION invoiceflow.daemon_finish_work(bigint, text, interval) IS
    'Daemon only: marks a claimed work item done (p_error NULL) or failed, to be retried after p_retry_after.';

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
             WHERE p.pronamespace = 'invoiceflow'::regnamespace
               AND p.proname IN ('add_subdivision', 'add_department', 'hire_employee', 'assign_employee', 'end_assignment',
                                 'add_substitution', 'add_counterparty')
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO invoiceflow_admin', f);
    END LOOP;
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
             WHERE p.pronamespace = 'invoiceflow'::regnamespace AND p.proname LIKE 'daemon\_%'
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO invoiceflow_daemon', f);
    END LOOP;
END
$$;

RESET ROLE;
