-- 0078_router_audit_at_end: a routing step holds the audit chain's lock for the end of its transaction only.
--
-- Every audit row is linked to the chain under the chain head's row lock (0005), which its transaction holds
-- until it ends: the chain is gapless and in commit order because of it, and every writer of an audit row
-- queues behind it. A routing step with mail wrote its first audit row (pin_route) at the start of
-- daemon_apply_routing and then, still holding the lock, created the tasks (with their schedule and content
-- triggers), went back to the daemon, which rendered the tasks' mails, and came back to store them before
-- COMMIT: 4-5 ms per step during which every other router, person and scheduler waited. Measured by
-- scripts/bench routing: 0.9 ms of lock wait per audit row, three rows per step, and 16 % of the machine
-- idle with work queued.
--
-- Now the router's step runs in two calls. daemon_route_step applies the decision like daemon_apply_routing
-- but captures its audit rows instead of writing them; daemon_finish_step stores the rendered mails and then
-- writes the captured rows, in their order, just before COMMIT. The rows, their content, actor, channel and
-- transaction are what daemon_apply_routing writes; only their moment inside the transaction moves.
--
-- The capture lives in a private table, keyed by the transaction: a marker row opens it, each captured audit
-- row is one more row (appended, never updated), and daemon_finish_step deletes them all as it writes the
-- audit rows. Only the definer functions below write it (a caller can neither start a capture for someone
-- else's commands nor plant rows in one), a rolled-back subtransaction rolls its captured rows back with it,
-- and a deferred constraint trigger on the marker refuses to COMMIT a transaction whose captured rows were
-- never written, so a step can never commit without its audit rows (invariant 2). The table is empty
-- outside such transactions.

SET LOCAL ROLE invoiceflow_owner;

CREATE TABLE invoiceflow_private.audit_capture (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT audit_capture_pkey PRIMARY KEY,
    transaction_id xid8 NOT NULL,
    captured jsonb CONSTRAINT audit_capture_captured_is_object CHECK (jsonb_typeof(captured) = 'object')
);
COMMENT ON TABLE invoiceflow_private.audit_capture IS
    'Audit rows routing steps have produced but not yet written (0078): per capturing transaction a marker row '
    '(captured NULL) and one row per audit row, in id order. Empty outside such transactions; a transaction cannot '
    'commit while its marker exists.';
COMMENT ON COLUMN invoiceflow_private.audit_capture.id IS 'Order of capture.';
COMMENT ON COLUMN invoiceflow_private.audit_capture.transaction_id IS 'The capturing transaction (pg_current_xact_id()).';
COMMENT ON COLUMN invoiceflow_private.audit_capture.captured IS
    'What invoiceflow_private.audit() would have inserted (actor and channel as of capture); NULL for the marker.';
CREATE UNIQUE INDEX audit_capture_marker_idx ON invoiceflow_private.audit_capture (transaction_id) WHERE captured IS NULL;
COMMENT ON INDEX invoiceflow_private.audit_capture_marker_idx IS
    'One open capture per transaction: what audit() probes to know whether to capture.';
CREATE INDEX audit_capture_transaction_idx ON invoiceflow_private.audit_capture (transaction_id, id);
COMMENT ON INDEX invoiceflow_private.audit_capture_transaction_idx IS
    'A transaction''s captured rows in order, for daemon_finish_step.';

ALTER TABLE invoiceflow_private.audit_capture ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoiceflow_private.audit_capture FORCE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE invoiceflow_private.audit_capture FROM PUBLIC;
CREATE POLICY owner_all ON invoiceflow_private.audit_capture AS PERMISSIVE FOR ALL TO invoiceflow_owner
    USING (true) WITH CHECK (true);
COMMENT ON POLICY owner_all ON invoiceflow_private.audit_capture IS
    'The owner (NOLOGIN; used only by migrations, definer functions and their triggers) reads and writes every row: '
    'FORCE RLS would otherwise deny it. Nobody else reads the table.';

-- SECURITY DEFINER: a deferred trigger runs at COMMIT as the session's own role (the daemon), which may not
-- read the capture.
CREATE FUNCTION invoiceflow_private.audit_capture_unwritten() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM invoiceflow_private.audit_capture AS c
               WHERE c.transaction_id OPERATOR(pg_catalog.=) NEW.transaction_id AND c.captured IS NULL) THEN
        RAISE EXCEPTION 'audit rows were captured in this transaction but never written: refusing to commit'
            USING ERRCODE = 'IF008', HINT = 'A routing step started with daemon_route_step ends with daemon_finish_step.';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.audit_capture_unwritten() IS
    'Deferred trigger: at COMMIT, refuses a transaction that captured audit rows (audit_capture) and did not write them.';
REVOKE ALL ON FUNCTION invoiceflow_private.audit_capture_unwritten() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER audit_capture_written AFTER INSERT ON invoiceflow_private.audit_capture
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.captured IS NULL)
    EXECUTE FUNCTION invoiceflow_private.audit_capture_unwritten();
COMMENT ON TRIGGER audit_capture_written ON invoiceflow_private.audit_capture IS
    'No transaction commits with captured but unwritten audit rows (0078).';

CREATE OR REPLACE FUNCTION invoiceflow_private.audit(
    p_invoice_id bigint, p_entity text, p_entity_id bigint, p_action text,
    p_before jsonb, p_after jsonb, p_comment text DEFAULT NULL, p_acting_for bigint DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    -- Inside a routing step (0078): kept for daemon_finish_step, with the identity of this moment.
    INSERT INTO invoiceflow_private.audit_capture (transaction_id, captured)
    SELECT m.transaction_id, pg_catalog.jsonb_build_object(
        'invoice_id', p_invoice_id, 'entity', p_entity, 'entity_id', p_entity_id, 'action', p_action,
        'actor', invoiceflow.current_employee_id(), 'acting_for', p_acting_for, 'channel', invoiceflow.current_channel(),
        'before', p_before, 'after', p_after, 'comment', p_comment)
    FROM invoiceflow_private.audit_capture AS m
    WHERE m.transaction_id = pg_catalog.pg_current_xact_id() AND m.captured IS NULL;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO invoiceflow.audit_log (invoice_id, entity, entity_id, action, actor_employee_id, acting_for_employee_id,
                                       channel, before, after, comment, prev_hash, hash)
    VALUES (p_invoice_id, p_entity, p_entity_id, p_action, invoiceflow.current_employee_id(), p_acting_for,
            invoiceflow.current_channel(), p_before, p_after, p_comment, '\x', '\x')
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.audit(bigint, text, bigint, text, jsonb, jsonb, text, bigint) IS
    'Appends the one audit row of a state change, with the caller''s identity and channel; used by commands only. '
    'Inside a routing step (audit_capture) the row is kept and written by daemon_finish_step; returns NULL then.';

CREATE FUNCTION invoiceflow.daemon_route_step(p_work_item_id bigint, p_invoice_id bigint, p_actions jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO invoiceflow_private.audit_capture (transaction_id) VALUES (pg_catalog.pg_current_xact_id())
    ON CONFLICT (transaction_id) WHERE captured IS NULL DO NOTHING;
    RETURN invoiceflow.daemon_apply_routing(p_work_item_id, p_invoice_id, p_actions, true);
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_route_step(bigint, bigint, jsonb) IS
    'Daemon only: daemon_apply_routing with mail facts, its audit rows captured rather than written; the transaction '
    'must call daemon_finish_step before COMMIT (a deferred trigger refuses it otherwise).';
REVOKE ALL ON FUNCTION invoiceflow.daemon_route_step(bigint, bigint, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.daemon_route_step(bigint, bigint, jsonb) TO invoiceflow_daemon;

CREATE FUNCTION invoiceflow.daemon_finish_step(p_mails jsonb DEFAULT '[]') RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_mails integer;
BEGIN
    IF p_mails IS NULL OR pg_catalog.jsonb_typeof(p_mails) OPERATOR(pg_catalog.<>) 'array' THEN
        PERFORM invoiceflow_private.invalid('p_mails', 'must be a JSON array of rendered mails');
    END IF;
    IF NOT EXISTS (SELECT FROM invoiceflow_private.audit_capture AS m
                   WHERE m.transaction_id OPERATOR(pg_catalog.=) pg_catalog.pg_current_xact_id() AND m.captured IS NULL) THEN
        RAISE EXCEPTION 'no routing step is open in this transaction' USING ERRCODE = 'IF006';
    END IF;
    -- The mails first: the chain head is taken by the first audit row, and held from there to COMMIT.
    SELECT pg_catalog.count(invoiceflow.daemon_enqueue_mail(
        p_message_id => m ->> 'messageID', p_kind => m ->> 'kind', p_sender => m ->> 'sender',
        p_recipient => m ->> 'recipient', p_content => pg_catalog.decode(m ->> 'content', 'base64'),
        p_recipient_employee_id => (m ->> 'employee')::bigint, p_invoice_id => (m ->> 'invoice')::bigint,
        p_task_id => (m ->> 'task')::bigint))
    INTO v_mails
    FROM pg_catalog.jsonb_array_elements(p_mails) AS m;
    -- In the order captured: the chain trigger gives them their ids and hashes one after another.
    WITH done AS (
        DELETE FROM invoiceflow_private.audit_capture AS c
        WHERE c.transaction_id OPERATOR(pg_catalog.=) pg_catalog.pg_current_xact_id()
        RETURNING c.id, c.captured)
    INSERT INTO invoiceflow.audit_log (invoice_id, entity, entity_id, action, actor_employee_id, acting_for_employee_id,
                                       channel, before, after, comment, prev_hash, hash)
    SELECT (r ->> 'invoice_id')::bigint, r ->> 'entity', (r ->> 'entity_id')::bigint, r ->> 'action',
           (r ->> 'actor')::bigint, (r ->> 'acting_for')::bigint, r ->> 'channel',
           CASE WHEN pg_catalog.jsonb_typeof(r -> 'before') OPERATOR(pg_catalog.=) 'null' THEN NULL ELSE r -> 'before' END,
           CASE WHEN pg_catalog.jsonb_typeof(r -> 'after') OPERATOR(pg_catalog.=) 'null' THEN NULL ELSE r -> 'after' END,
           r ->> 'comment', '\x', '\x'
    FROM (SELECT d.id, d.captured AS r FROM done AS d WHERE d.captured IS NOT NULL) AS c
    ORDER BY c.id;
    RETURN v_mails;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_finish_step(jsonb) IS
    'Daemon only: ends a routing step begun with daemon_route_step — stores its rendered mails (as daemon_enqueue_mail; '
    'elements messageID, kind, sender, recipient, base64 content, employee, invoice, task), then writes its captured '
    'audit rows in order. Returns the number of mails. IF006 when no step is open in the transaction.';
REVOKE ALL ON FUNCTION invoiceflow.daemon_finish_step(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.daemon_finish_step(jsonb) TO invoiceflow_daemon;

RESET ROLE;
