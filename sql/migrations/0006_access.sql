-- 0006_access: row-level security (invariant 6) and table privileges.
--
-- Policies are SELECT-only: app roles get no INSERT/UPDATE/DELETE, so command functions (owned by
-- invoiceflow_owner) are the only write path. FORCE RLS also binds the owner, so the owner gets its
-- own explicit policy (it is NOLOGIN; nobody is a member of it). App policies are granted to the app
-- groups, never PUBLIC, so the owner's queries inside definer helpers never evaluate them (no recursion).
--
-- Helpers computing "what may I see" are SECURITY DEFINER (they read tables the caller may not see),
-- take no arguments (nobody can ask about someone else), and are called as (SELECT f()) so they run
-- once per query as an init plan.

SET LOCAL ROLE invoiceflow_owner;

CREATE FUNCTION invoiceflow_private.my_acting_ids() RETURNS bigint[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- plpgsql rather than sql: its statement plans are cached for the session, and these run in every query.
BEGIN
    RETURN (
    SELECT pg_catalog.array_agg(x.id) FROM (
        SELECT invoiceflow.current_employee_id() AS id
        UNION
        SELECT s.absent_employee_id FROM invoiceflow.substitution AS s
        WHERE s.deputy_employee_id OPERATOR(pg_catalog.=) invoiceflow.current_employee_id()
          AND s.valid OPERATOR(pg_catalog.@>) pg_catalog.now()
    ) AS x WHERE x.id IS NOT NULL);
END
$$;
COMMENT ON FUNCTION invoiceflow_private.my_acting_ids() IS
    'The caller and every employee the caller substitutes for right now (ignoring type limits; see substitution_covers).';

CREATE FUNCTION invoiceflow_private.substitution_covers(p_absent_employee_id bigint, p_invoice_type_id bigint)
RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- plpgsql rather than sql: its statement plans are cached for the session, and these run in every query.
BEGIN
    RETURN (
    SELECT p_absent_employee_id OPERATOR(pg_catalog.=) invoiceflow.current_employee_id()
        OR EXISTS (
            SELECT FROM invoiceflow.substitution AS s
            WHERE s.deputy_employee_id OPERATOR(pg_catalog.=) invoiceflow.current_employee_id()
              AND s.absent_employee_id OPERATOR(pg_catalog.=) p_absent_employee_id
              AND s.valid OPERATOR(pg_catalog.@>) pg_catalog.now()
              AND (s.invoice_type_codes IS NULL OR (SELECT t.code FROM invoiceflow.invoice_type AS t
                                                    WHERE t.id OPERATOR(pg_catalog.=) p_invoice_type_id)
                                                   OPERATOR(pg_catalog.=) ANY (s.invoice_type_codes))));
END
$$;
COMMENT ON FUNCTION invoiceflow_private.substitution_covers(bigint, bigint) IS
    'True when the caller is that employee, or is their deputy right now for invoices of that type.';

CREATE FUNCTION invoiceflow_private.my_task_invoice_ids() RETURNS bigint[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- plpgsql rather than sql: its statement plans are cached for the session, and these run in every query.
BEGIN
    RETURN (
    -- One indexed branch per way of being involved (a single OR over the task table would be a
    -- sequential scan at registry size); me and my absent colleagues are computed once.
    WITH me AS MATERIALIZED (SELECT invoiceflow.current_employee_id() AS id),
    absent AS MATERIALIZED (
        SELECT a.id FROM pg_catalog.unnest(invoiceflow_private.my_acting_ids()) AS a (id), me
        WHERE a.id OPERATOR(pg_catalog.<>) me.id)
    SELECT coalesce(pg_catalog.array_agg(DISTINCT x.invoice_id), '{}') FROM (
        SELECT t.invoice_id FROM invoiceflow.task AS t, me WHERE t.assignee_id OPERATOR(pg_catalog.=) me.id
        UNION ALL
        SELECT t.invoice_id FROM invoiceflow.task AS t, me
        WHERE t.decided_by IS NOT NULL AND t.decided_by OPERATOR(pg_catalog.=) me.id
        UNION ALL
        SELECT t.invoice_id FROM invoiceflow.task AS t, me
        WHERE t.acting_for_id IS NOT NULL AND t.acting_for_id OPERATOR(pg_catalog.=) me.id
        UNION ALL
        SELECT t.invoice_id FROM absent
        JOIN invoiceflow.task AS t ON t.assignee_id OPERATOR(pg_catalog.=) absent.id
        JOIN invoiceflow.invoice AS i ON i.id OPERATOR(pg_catalog.=) t.invoice_id
        WHERE invoiceflow_private.substitution_covers(t.assignee_id, i.invoice_type_id)
    ) AS x);
END
$$;
COMMENT ON FUNCTION invoiceflow_private.my_task_invoice_ids() IS
    'Invoices the caller must act on or acted on: own tasks (open or decided), tasks decided by or held for the caller, '
    'and tasks of people the caller substitutes for right now (within the substitution''s types).';

CREATE FUNCTION invoiceflow_private.my_finance_subdivision_ids(p_functions text[]) RETURNS bigint[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- plpgsql rather than sql: its statement plans are cached for the session, and these run in every query.
BEGIN
    RETURN (
    SELECT coalesce(pg_catalog.array_agg(DISTINCT a.subdivision_id), '{}')
    FROM invoiceflow.assignment AS a
    JOIN invoiceflow.position AS p ON p.id OPERATOR(pg_catalog.=) a.position_id
    WHERE a.employee_id OPERATOR(pg_catalog.=) invoiceflow.current_employee_id()
      AND a.valid OPERATOR(pg_catalog.@>) pg_catalog.now()
      AND p.finance_function OPERATOR(pg_catalog.=) ANY (p_functions));
END
$$;
COMMENT ON FUNCTION invoiceflow_private.my_finance_subdivision_ids(text[]) IS
    'Subdivisions where the caller currently holds a position with one of these finance functions.';

CREATE FUNCTION invoiceflow_private.invoice_visible(p_invoice_id bigint) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- plpgsql rather than sql: its statement plans are cached for the session, and these run in every query.
BEGIN
    RETURN (
    -- Must say exactly what the invoice_read policy says (tests compare the two): it decides whether an
    -- error may name an invoice the caller might not see (duplicate detection).
    SELECT EXISTS (
        SELECT FROM invoiceflow.invoice AS i
        WHERE i.id OPERATOR(pg_catalog.=) p_invoice_id
          AND (i.initiator_id OPERATOR(pg_catalog.=) invoiceflow.current_employee_id()
               OR i.id OPERATOR(pg_catalog.=) ANY (invoiceflow_private.my_task_invoice_ids())
               OR (i.submitted_at IS NOT NULL AND NOT i.confidential
                   AND (i.paying_subdivision_id OPERATOR(pg_catalog.=) ANY (invoiceflow_private.my_finance_subdivision_ids(
                            '{ceo,cfo,chief_accountant,accountant,treasurer,document_clerk}'))
                        OR i.receiving_subdivision_id OPERATOR(pg_catalog.=) ANY (invoiceflow_private.my_finance_subdivision_ids(
                            '{ceo,cfo,chief_accountant,accountant,treasurer,document_clerk}'))))
               OR (i.submitted_at IS NOT NULL AND i.confidential
                   AND i.paying_subdivision_id OPERATOR(pg_catalog.=) ANY (invoiceflow_private.my_finance_subdivision_ids('{ceo,payroll}')))
               OR invoiceflow_private.caller_is('invoiceflow_auditor'))));
END
$$;
COMMENT ON FUNCTION invoiceflow_private.invoice_visible(bigint) IS
    'Whether the caller may see this invoice: the invoice_read policy evaluated for one row, for definer functions.';

-- Grants on the helpers: policies run them as the querying role.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
             WHERE p.pronamespace = 'invoiceflow_private'::regnamespace
               AND p.proname IN ('my_acting_ids', 'substitution_covers', 'my_task_invoice_ids',
                                 'my_finance_subdivision_ids', 'invoice_visible')
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO invoiceflow_employee, invoiceflow_auditor, invoiceflow_admin', f);
    END LOOP;
END
$$;

-- Every table: RLS enabled and forced, the owner's explicit policy, nothing for PUBLIC.
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT c.oid::regclass FROM pg_catalog.pg_class AS c
             WHERE c.relnamespace IN ('invoiceflow'::regnamespace, 'invoiceflow_private'::regnamespace)
               AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC', t);
        EXECUTE format('CREATE POLICY owner_all ON %s AS PERMISSIVE FOR ALL TO invoiceflow_owner USING (true) WITH CHECK (true)', t);
        EXECUTE format('COMMENT ON POLICY owner_all ON %s IS %L', t,
            'The owner (NOLOGIN; used only by migrations and definer functions) reads and writes every row: FORCE RLS would otherwise deny it.');
    END LOOP;
END
$$;

-- Company structure and catalogues: every identified person (and auditors, admins) may read them.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['subdivision', 'department', 'position', 'employee', 'assignment', 'substitution',
                             'counterparty', 'invoice_type']
    LOOP
        EXECUTE format('GRANT SELECT ON invoiceflow.%I TO invoiceflow_employee, invoiceflow_auditor, invoiceflow_admin', t);
        EXECUTE format($p$CREATE POLICY %I ON invoiceflow.%I FOR SELECT
            TO invoiceflow_employee, invoiceflow_auditor, invoiceflow_admin
            USING ((SELECT invoiceflow.current_employee_id()) IS NOT NULL
                   OR (SELECT invoiceflow_private.caller_is('invoiceflow_auditor'))
                   OR (SELECT invoiceflow_private.caller_is('invoiceflow_admin')))$p$, t || '_read', t);
        EXECUTE format('COMMENT ON POLICY %I ON invoiceflow.%I IS %L', t || '_read', t,
            'Organisation data is readable by every identified person, auditors and admins; nobody else (a daemon not acting for anyone sees nothing).');
    END LOOP;
END
$$;

GRANT SELECT ON invoiceflow.invoice, invoiceflow.attachment, invoiceflow.invoice_comment, invoiceflow.task,
    invoiceflow.payment, invoiceflow.closing_document, invoiceflow.audit_log
    TO invoiceflow_employee, invoiceflow_auditor;
GRANT SELECT ON invoiceflow.audit_log TO invoiceflow_admin;

CREATE POLICY invoice_read ON invoiceflow.invoice FOR SELECT TO invoiceflow_employee, invoiceflow_auditor USING (
    initiator_id = (SELECT invoiceflow.current_employee_id())
    OR id = ANY ((SELECT invoiceflow_private.my_task_invoice_ids())::bigint[])
    OR (submitted_at IS NOT NULL AND NOT confidential
        AND (paying_subdivision_id = ANY ((SELECT invoiceflow_private.my_finance_subdivision_ids(
                 '{ceo,cfo,chief_accountant,accountant,treasurer,document_clerk}'))::bigint[])
             OR receiving_subdivision_id = ANY ((SELECT invoiceflow_private.my_finance_subdivision_ids(
                 '{ceo,cfo,chief_accountant,accountant,treasurer,document_clerk}'))::bigint[])))
    OR (submitted_at IS NOT NULL AND confidential
        AND paying_subdivision_id = ANY ((SELECT invoiceflow_private.my_finance_subdivision_ids('{ceo,payroll}'))::bigint[]))
    OR (SELECT invoiceflow_private.caller_is('invoiceflow_auditor'))
);
COMMENT ON POLICY invoice_read ON invoiceflow.invoice IS
    'Invariant 6: the initiator; whoever must act or acted on it (incl. a current substitute); finance people of the paying '
    'or receiving subdivision once submitted (confidential/payroll: only payroll roles and the CEO); auditors. Nobody else.';

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['attachment', 'invoice_comment', 'task', 'payment', 'closing_document']
    LOOP
        EXECUTE format($p$CREATE POLICY %I ON invoiceflow.%I FOR SELECT TO invoiceflow_employee, invoiceflow_auditor
            USING (EXISTS (SELECT FROM invoiceflow.invoice AS i WHERE i.id = invoice_id))$p$, t || '_read', t);
        EXECUTE format('COMMENT ON POLICY %I ON invoiceflow.%I IS %L', t || '_read', t,
            'Follows its invoice: visible exactly when the invoice is (the invoice policy applies inside the subquery).');
    END LOOP;
END
$$;

CREATE POLICY audit_log_read ON invoiceflow.audit_log FOR SELECT TO invoiceflow_employee, invoiceflow_auditor USING (
    (invoice_id IS NOT NULL AND EXISTS (SELECT FROM invoiceflow.invoice AS i WHERE i.id = invoice_id))
    OR (SELECT invoiceflow_private.caller_is('invoiceflow_auditor'))
);
COMMENT ON POLICY audit_log_read ON invoiceflow.audit_log IS
    'Rows about an invoice follow the invoice; auditors see everything.';
-- Separate policy: admins need not be employees and have no SELECT on invoice, which the policy above reads.
CREATE POLICY audit_log_admin_read ON invoiceflow.audit_log FOR SELECT TO invoiceflow_admin USING (
    invoice_id IS NULL AND (SELECT invoiceflow_private.caller_is('invoiceflow_admin'))
);
COMMENT ON POLICY audit_log_admin_read ON invoiceflow.audit_log IS
    'Administration rows (hire, assign, substitutions, counterparties) are visible to admins.';

RESET ROLE;
