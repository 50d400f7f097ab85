-- 0076_step_costs: five costs of a routing step found by profiling scripts/bench routing (perf and
-- track_functions over a 3 000-item backlog), none of which changes a result.
--
-- 1. audit_row_hash was a LANGUAGE sql function with SET search_path, which PostgreSQL never inlines and
--    plans again on every call: 0.17-0.20 ms per audit row, three rows per step, all of it while the
--    transaction holds the chain head's lock (which every other writer waits for). As PL/pgSQL it keeps
--    its plan for the session. The expression is the same, so every stored hash still verifies.
-- 2. The idle mailer asked daemon_queue_metrics() (every figure of /metrics, 2-6 ms under load) whether
--    the outbox is paused each time a claim came back empty: 360 calls in a 33 s backlog, 7 % of the
--    machine. daemon_mail_paused() reads the one row that says so.
-- 3. invoice_fingerprint (0070), which every new task records for its email links, was a LANGUAGE sql
--    function with SET search_path too: 0.57-0.68 ms per task, planned per call. PL/pgSQL, same expression.
-- 4. daemon_claim_routing keeps per-invoice order by skipping an item while an older one of its invoice is
--    unfinished. Its NOT EXISTS was planned (with the statistics of a near-empty queue, which is what
--    production has between bursts) as a walk over every pending item per candidate, so under a backlog a
--    claim cost 0.7-3.4 ms, growing with the backlog. The same rule as "this item is its invoice's oldest
--    unfinished one" is a min() over a partial index on (invoice_id, id), which the planner answers with
--    one index probe whatever the statistics say. The claim also stops writing locked_by, which no other
--    transaction could ever see (the item is finished, clearing it, or rolled back in the same transaction).
-- 5. daemon_claim_mail first cancels due reminders whose task was decided. Its plan started from the task
--    table (every decided task, read whole when the statistics were young) and probed the outbox per
--    task: 1.5 ms per claim. Such reminders are few; a partial index holds exactly the pending ones that
--    depend on an open task, and the statement now starts there and probes the task by its key.

SET LOCAL ROLE invoiceflow_owner;

CREATE OR REPLACE FUNCTION invoiceflow_private.audit_row_hash(p_row invoiceflow.audit_log) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN pg_catalog.sha256(p_row.prev_hash OPERATOR(pg_catalog.||) pg_catalog.convert_to(pg_catalog.jsonb_build_object(
        'v', 1,
        'id', p_row.id,
        'at', (EXTRACT(epoch FROM p_row.occurred_at) OPERATOR(pg_catalog.*) 1000000)::bigint,
        'invoice', p_row.invoice_id,
        'entity', p_row.entity,
        'entity_id', p_row.entity_id,
        'action', p_row.action,
        'actor', p_row.actor_employee_id,
        'for', p_row.acting_for_employee_id,
        'role', p_row.session_role::text,
        'channel', p_row.channel,
        'before', p_row.before,
        'after', p_row.after,
        'comment', p_row.comment,
        'xid', p_row.transaction_id::text)::text, 'UTF8'));
END
$$;
COMMENT ON FUNCTION invoiceflow_private.audit_row_hash(invoiceflow.audit_log) IS
    'The hash an audit row must carry: sha256(prev_hash || canonical jsonb text, format v1). PL/pgSQL for its cached '
    'plan (0076); the expression is that of 0005.';

CREATE OR REPLACE FUNCTION invoiceflow_private.invoice_fingerprint(p_invoice_id bigint) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- jsonb text is canonical (keys sorted), so the same content always gives the same digest. Stage,
    -- version and routing bookkeeping are left out: they move while the content stays what the
    -- approver saw. The attachments' digests are in: a file added during rework changes the invoice.
    RETURN (
    SELECT pg_catalog.substr(pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
        ((pg_catalog.to_jsonb(i) OPERATOR(pg_catalog.-)
            '{version,stage,stage_changed_at,route_version,submitted_at,supplier_invoice_number_norm}'::text[])
         OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('attachments', (
            SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.encode(a.sha256, 'hex') ORDER BY a.id), '[]'::jsonb)
            FROM invoiceflow.attachment AS a WHERE a.invoice_id OPERATOR(pg_catalog.=) i.id)))::text,
        'UTF8')), 'hex'), 1, 16)
    FROM invoiceflow.invoice AS i
    WHERE i.id OPERATOR(pg_catalog.=) p_invoice_id);
END
$$;
COMMENT ON FUNCTION invoiceflow_private.invoice_fingerprint(bigint) IS
    'First 16 hex digits of the SHA-256 of an invoice''s content (every fact and attachment digest; not stage, version '
    'or routing bookkeeping): what an email link is bound to. NULL for an unknown invoice. PL/pgSQL for its cached '
    'plan (0076); the expression is that of 0070.';

CREATE FUNCTION invoiceflow.daemon_mail_paused(OUT paused boolean, OUT reason text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT q.paused_at IS NOT NULL, q.paused_reason FROM invoiceflow_private.mail_queue AS q
$$;
COMMENT ON FUNCTION invoiceflow.daemon_mail_paused() IS
    'Daemon only: whether the mail queue is paused and why — the check an idle mailer makes after an empty claim.';
REVOKE ALL ON FUNCTION invoiceflow.daemon_mail_paused() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.daemon_mail_paused() TO invoiceflow_daemon;

CREATE INDEX work_item_unfinished_invoice_idx ON invoiceflow_private.work_item (invoice_id, id)
    WHERE done_at IS NULL;
COMMENT ON INDEX invoiceflow_private.work_item_unfinished_invoice_idx IS
    'An invoice''s unfinished routing work in queue order: the claim''s per-invoice order check (its oldest one).';

CREATE OR REPLACE FUNCTION invoiceflow.daemon_claim_routing(p_worker text, p_scan integer DEFAULT 16)
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
          AND w.id = (SELECT pg_catalog.min(e.id) FROM invoiceflow_private.work_item AS e
                      WHERE e.invoice_id = w.invoice_id AND e.done_at IS NULL)
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
          AND w.id = (SELECT pg_catalog.min(e.id) FROM invoiceflow_private.work_item AS e
                      WHERE e.invoice_id = w.invoice_id AND e.done_at IS NULL)
        FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        -- No "locked_by = p_worker" any more (0076): nobody could ever read it — the item is finished in this
        -- same transaction, which clears it, or rolled back — and it cost a row version per step.
        work_item_id := v_item.id;
        invoice_id := v_item.invoice_id;
        kind := v_item.kind;
        attempts := v_item.attempts;
        RETURN NEXT;
        RETURN;
    END LOOP;
END
$$;

CREATE INDEX mail_outbox_pending_conditional_idx ON invoiceflow_private.mail_outbox (next_attempt_at)
    WHERE state = 'pending' AND only_while_task_open;
COMMENT ON INDEX invoiceflow_private.mail_outbox_pending_conditional_idx IS
    'Unsent messages that are sent only while their task is open (reminders, escalations): what daemon_claim_mail '
    'checks for decided tasks before each claim.';

CREATE OR REPLACE FUNCTION invoiceflow.daemon_claim_mail(p_worker text, p_limit integer DEFAULT 10,
                                                         p_lease interval DEFAULT '15 minutes')
RETURNS TABLE (mail_id bigint, message_id text, sender text, recipient text, content bytea, attempts integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM invoiceflow_private.mail_queue AS q WHERE q.paused_at IS NOT NULL) THEN
        RETURN;
    END IF;
    -- Reminders for tasks decided meanwhile are not sent: cancel them first (in the same snapshot the
    -- claim uses, so a decision committed before this claim always wins). From the few conditional
    -- messages due (mail_outbox_pending_conditional_idx) to their task by its key (0076).
    WITH stale AS (
        SELECT o.id FROM invoiceflow_private.mail_outbox AS o
        WHERE o.state OPERATOR(pg_catalog.=) 'pending' AND o.only_while_task_open
          AND o.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()
          AND (o.locked_until IS NULL OR o.locked_until OPERATOR(pg_catalog.<) pg_catalog.now())
          AND EXISTS (SELECT FROM invoiceflow.task AS t
                      WHERE t.id OPERATOR(pg_catalog.=) o.task_id AND t.outcome IS NOT NULL)
        FOR UPDATE OF o SKIP LOCKED),
    cancelled AS (
        UPDATE invoiceflow_private.mail_outbox AS o
        SET state = 'cancelled', finished_at = pg_catalog.now(), last_error = 'the task was decided before sending',
            locked_until = NULL, locked_by = NULL
        FROM stale WHERE o.id OPERATOR(pg_catalog.=) stale.id
        RETURNING o.id)
    INSERT INTO invoiceflow_private.mail_attempt (mail_id, worker, outcome, detail)
    SELECT c.id, p_worker, 'cancelled', 'the task was decided before sending' FROM cancelled AS c;

    RETURN QUERY
    WITH claimable AS (
        SELECT o.id FROM invoiceflow_private.mail_outbox AS o
        WHERE o.state OPERATOR(pg_catalog.=) 'pending' AND o.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()
          AND (o.locked_until IS NULL OR o.locked_until OPERATOR(pg_catalog.<) pg_catalog.now())
        ORDER BY o.next_attempt_at, o.id
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED)
    UPDATE invoiceflow_private.mail_outbox AS o
    SET locked_by = p_worker, locked_until = pg_catalog.now() OPERATOR(pg_catalog.+) p_lease,
        attempts = o.attempts OPERATOR(pg_catalog.+) 1
    FROM claimable WHERE o.id OPERATOR(pg_catalog.=) claimable.id
    RETURNING o.id, o.message_id, o.sender, o.recipient, o.content, o.attempts;
END
$$;

RESET ROLE;
