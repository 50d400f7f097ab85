-- 0070_action_links: deciding a task from the email link (issue 6).
--
-- The daemon verifies the link's signature and expiry itself (the key never reaches the database);
-- the database enforces the rest in the transaction of the decision:
--   * single use: every redeemed link's id goes into action_link_use (primary key), in the same
--     transaction as the decision and its audit row, so a replay finds it and changes nothing;
--   * the invoice version: a task remembers the fingerprint of the invoice content it was created
--     for (task_content, filled by a trigger); a link for a task whose invoice content has changed
--     since (a return for rework, an edit, a resubmission) is refused as stale;
--   * the right: the daemon acts as the link's recipient through invoiceflow.acting_employee with
--     channel email_link and calls decide_task / delegate_task, which re-check the assignee or
--     deputy, the stage and separation of duties exactly as for a person's own SQL session.

SET LOCAL ROLE invoiceflow_owner;

CREATE FUNCTION invoiceflow_private.invoice_fingerprint(p_invoice_id bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    -- jsonb text is canonical (keys sorted), so the same content always gives the same digest. Stage,
    -- version and routing bookkeeping are left out: they move while the content stays what the
    -- approver saw. The attachments' digests are in: a file added during rework changes the invoice.
    SELECT pg_catalog.substr(pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
        ((pg_catalog.to_jsonb(i) OPERATOR(pg_catalog.-)
            '{version,stage,stage_changed_at,route_version,submitted_at,supplier_invoice_number_norm}'::text[])
         OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('attachments', (
            SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.encode(a.sha256, 'hex') ORDER BY a.id), '[]'::jsonb)
            FROM invoiceflow.attachment AS a WHERE a.invoice_id OPERATOR(pg_catalog.=) i.id)))::text,
        'UTF8')), 'hex'), 1, 16)
    FROM invoiceflow.invoice AS i
    WHERE i.id OPERATOR(pg_catalog.=) p_invoice_id
$$;
COMMENT ON FUNCTION invoiceflow_private.invoice_fingerprint(bigint) IS
    'First 16 hex digits of the SHA-256 of an invoice''s content (every fact and attachment digest; not stage, version '
    'or routing bookkeeping): what an email link is bound to. NULL for an unknown invoice.';

CREATE TABLE invoiceflow_private.task_content (
    task_id bigint CONSTRAINT task_content_pkey PRIMARY KEY
        CONSTRAINT task_content_task_fkey REFERENCES invoiceflow.task (id),
    fingerprint text NOT NULL CONSTRAINT task_content_fingerprint_format CHECK (fingerprint ~ '^[0-9a-f]{16}$')
);
COMMENT ON TABLE invoiceflow_private.task_content IS
    'The invoice content (invoice_fingerprint) each task was created for; an email link for the task is stale once the '
    'invoice''s fingerprint differs. Tasks created before 0070 have no row and are never stale.';
COMMENT ON COLUMN invoiceflow_private.task_content.fingerprint IS 'invoice_fingerprint() of the task''s invoice when the task was created.';

CREATE TABLE invoiceflow_private.action_link_use (
    token_id text CONSTRAINT action_link_use_pkey PRIMARY KEY
        CONSTRAINT action_link_use_token_id_format CHECK (token_id ~ '^[0-9a-f]{32}$'),
    task_id bigint NOT NULL CONSTRAINT action_link_use_task_fkey REFERENCES invoiceflow.task (id),
    employee_id bigint NOT NULL CONSTRAINT action_link_use_employee_fkey REFERENCES invoiceflow.employee (id),
    action text NOT NULL CONSTRAINT action_link_use_action_check
        CHECK (action IN ('approve', 'approve_with_remarks', 'reject', 'delegate')),
    used_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE invoiceflow_private.action_link_use IS
    'Every email link that acted, written in the transaction of the decision: the primary key makes each link single-use.';
COMMENT ON COLUMN invoiceflow_private.action_link_use.token_id IS
    'The link''s id: 32 hex digits derived from its signature by the daemon (never the signature itself).';
COMMENT ON COLUMN invoiceflow_private.action_link_use.employee_id IS 'The recipient the link was signed for, who acted.';
CREATE INDEX action_link_use_task_idx ON invoiceflow_private.action_link_use (task_id);
CREATE INDEX action_link_use_employee_idx ON invoiceflow_private.action_link_use (employee_id);

DO $$
DECLARE
    t regclass;
BEGIN
    FOREACH t IN ARRAY ARRAY['invoiceflow_private.task_content', 'invoiceflow_private.action_link_use']::regclass[] LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC', t);
        EXECUTE format('CREATE POLICY owner_all ON %s AS PERMISSIVE FOR ALL TO invoiceflow_owner USING (true) '
                       'WITH CHECK (true)', t);
        EXECUTE format('COMMENT ON POLICY owner_all ON %s IS %L', t,
            'The owner (NOLOGIN; used only by migrations, triggers and definer functions) reads and writes every row: '
            'FORCE RLS would otherwise deny it. Nobody else reads these rows directly.');
    END LOOP;
END
$$;

CREATE FUNCTION invoiceflow_private.task_record_content() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO invoiceflow_private.task_content (task_id, fingerprint)
    VALUES (NEW.id, invoiceflow_private.invoice_fingerprint(NEW.invoice_id));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.task_record_content() IS
    'Trigger: records the invoice content a new task is created for (task_content).';
CREATE TRIGGER task_record_content AFTER INSERT ON invoiceflow.task
    FOR EACH ROW EXECUTE FUNCTION invoiceflow_private.task_record_content();

CREATE FUNCTION invoiceflow.daemon_action_link_state(p_task_id bigint)
RETURNS TABLE (
    invoice_id bigint, kind text, assignee_id bigint, outcome text, decided_at timestamptz, decided_by_name text,
    decided_for_name text, stale boolean, stage text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT t.invoice_id, t.kind::text, t.assignee_id, t.outcome::text, t.decided_at, by_.full_name, for_.full_name,
           coalesce(c.fingerprint OPERATOR(pg_catalog.<>) invoiceflow_private.invoice_fingerprint(t.invoice_id), false),
           i.stage::text
    FROM invoiceflow.task AS t
    JOIN invoiceflow.invoice AS i ON i.id OPERATOR(pg_catalog.=) t.invoice_id
    LEFT JOIN invoiceflow_private.task_content AS c ON c.task_id OPERATOR(pg_catalog.=) t.id
    LEFT JOIN invoiceflow.employee AS by_ ON by_.id OPERATOR(pg_catalog.=) t.decided_by
    LEFT JOIN invoiceflow.employee AS for_ ON for_.id OPERATOR(pg_catalog.=) t.decided_for_id
    WHERE t.id OPERATOR(pg_catalog.=) p_task_id
$$;
COMMENT ON FUNCTION invoiceflow.daemon_action_link_state(bigint) IS
    'Daemon only: what the confirmation page of an email link must know about its task before showing anything — its '
    'invoice, kind, assignee, outcome with who decided when (and for whom), whether the invoice content changed since '
    'the task was created (stale), the stage. No row for an unknown task.';

CREATE FUNCTION invoiceflow.daemon_act_on_link(
    p_token_id text, p_task_id bigint, p_employee_id bigint, p_expires_at timestamptz, p_action text,
    p_comment text DEFAULT NULL, p_delegate_to bigint DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_invoice_id bigint;
    v_new bigint;
BEGIN
    -- The daemon's signature check happened outside; only its login may claim one was made.
    IF session_user OPERATOR(pg_catalog.<>) 'invoiceflow_daemon'::name THEN
        RAISE EXCEPTION 'not allowed: only the daemon redeems email links' USING ERRCODE = 'IF002';
    END IF;
    IF p_token_id IS NULL OR p_token_id !~ '^[0-9a-f]{32}$' THEN
        PERFORM invoiceflow_private.invalid('p_token_id', 'must be 32 hex digits');
    END IF;
    IF p_action IS NULL OR p_action NOT IN ('approve', 'approve_with_remarks', 'reject', 'delegate') THEN
        PERFORM invoiceflow_private.invalid('p_action', 'must be approve, approve_with_remarks, reject or delegate');
    END IF;
    IF p_expires_at IS NULL OR p_expires_at OPERATOR(pg_catalog.<=) pg_catalog.now() THEN
        PERFORM invoiceflow_private.invalid('p_expires_at', 'the link has expired');
    END IF;
    SELECT t.invoice_id INTO v_invoice_id FROM invoiceflow.task AS t WHERE t.id OPERATOR(pg_catalog.=) p_task_id;
    IF v_invoice_id IS NULL THEN
        RAISE EXCEPTION 'task % does not exist', p_task_id USING ERRCODE = 'IF007';
    END IF;
    INSERT INTO invoiceflow_private.action_link_use (token_id, task_id, employee_id, action)
    VALUES (p_token_id, p_task_id, p_employee_id, p_action)
    ON CONFLICT ON CONSTRAINT action_link_use_pkey DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'this link was already used' USING ERRCODE = 'IF006';
    END IF;
    IF EXISTS (SELECT FROM invoiceflow_private.task_content AS c
               WHERE c.task_id OPERATOR(pg_catalog.=) p_task_id
                 AND c.fingerprint OPERATOR(pg_catalog.<>) invoiceflow_private.invoice_fingerprint(v_invoice_id)) THEN
        RAISE EXCEPTION 'invoice % changed since task % was created: the link is stale', v_invoice_id, p_task_id
            USING ERRCODE = 'IF006';
    END IF;
    -- From here the decision is the recipient's own, through the commands people use: they check the
    -- assignee or deputy, the stage and separation of duties, and write the audit row with channel
    -- email_link and the work item.
    PERFORM pg_catalog.set_config('invoiceflow.acting_employee', p_employee_id::text, true);
    PERFORM pg_catalog.set_config('invoiceflow.channel', 'email_link', true);
    IF p_action OPERATOR(pg_catalog.=) 'delegate' THEN
        v_new := invoiceflow.delegate_task(p_task_id, p_delegate_to, p_comment);
    ELSE
        PERFORM invoiceflow.decide_task(p_task_id, p_action, p_comment);
    END IF;
    PERFORM pg_catalog.set_config('invoiceflow.acting_employee', '', true);
    PERFORM pg_catalog.set_config('invoiceflow.channel', '', true);
    RETURN v_new;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_act_on_link(text, bigint, bigint, timestamptz, text, text, bigint) IS
    'Daemon only, after it verified the link''s signature: in one transaction marks the link used (IF006 on a replay), '
    'refuses an expired link (IF001) or one whose invoice changed since the task was created (IF006), then decides '
    '(approve, approve_with_remarks, reject) or delegates the task as the recipient with channel email_link — with '
    'every check of decide_task / delegate_task. Returns the new task of a delegation, else NULL.';

REVOKE ALL ON FUNCTION invoiceflow.daemon_action_link_state(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow.daemon_act_on_link(text, bigint, bigint, timestamptz, text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.daemon_action_link_state(bigint) TO invoiceflow_daemon;
GRANT EXECUTE ON FUNCTION invoiceflow.daemon_act_on_link(text, bigint, bigint, timestamptz, text, text, bigint)
    TO invoiceflow_daemon;

RESET ROLE;
