-- 0079_step_scans: the routing step reads its small tables through their indexes, and stores its mails in
-- one statement.
--
-- Measured with scripts/bench routing (pg_stat_user_tables and auto_explain of the daemon's sessions,
-- INVOICEFLOW_BENCH_PG_OPTIONS): in the backlog phase every audit row read and updated the audit chain head
-- with a sequential scan, twice, and every audit() call and both ends of a routing step probed
-- audit_capture (0078) the same way. Both tables hold one or no live row, so the planner, rightly for a
-- one-page table, scans them; but neither stays one page. The head row is updated once per audit row: one
-- transaction that writes many rows (a bulk import, the bench's submissions) leaves one dead version per row
-- that nothing can prune before it ends — 34-46 pages after 3 000-7 000 submissions, every one of them read
-- twice per audit row until a VACUUM truncates the table. The capture table is written and emptied by every
-- step, so it holds the dead rows of the steps since the last autovacuum (42 pages after 3 000 steps), and
-- its probes ran five times per step. Now the head is found by its primary key (WHERE singleton) and the
-- functions that touch either table plan with enable_seqscan = off, which for these statements leaves
-- exactly the index (the capture's partial unique index on the transaction; its (transaction_id, id) index
-- for daemon_finish_step's DELETE). Measured: 278 → 324 routing steps/s on the same benchmark.
--
-- daemon_finish_step stored the step's mails through daemon_enqueue_mail, one call per mail, each with an
-- EXCEPTION block, that is a subtransaction per mail: 0.51 ms of 4.5 per step. Now one INSERT … SELECT
-- stores them all (ON CONFLICT on the Message-ID: a step that runs again stores each message once) and one
-- NOTIFY per stored message wakes the mailer, as before. A malformed mail is refused by the table's
-- constraints (check_violation naming the constraint) instead of IF001 naming the parameter: the daemon
-- builds these rows itself, and either way the step rolls back, is retried and, at the limit, parked with
-- the error.
--
-- Mail content is compressed with lz4 instead of pglz: a rendered mail (text and HTML, 4-6 KB) was
-- compressed with pglz on every insert (pglz_compress alone was 0.7 % of the machine in the backlog).

SET LOCAL ROLE invoiceflow_owner;

CREATE OR REPLACE FUNCTION invoiceflow_private.audit_chain_append() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET enable_seqscan = off AS $$
DECLARE
    v_head invoiceflow_private.audit_chain_head;
BEGIN
    -- By the primary key: the table is one live row, but as many pages as the dead versions one long
    -- transaction's audit rows leave behind it (0079).
    SELECT * INTO STRICT v_head FROM invoiceflow_private.audit_chain_head AS h WHERE h.singleton FOR UPDATE;
    NEW.id := v_head.last_id + 1;
    NEW.prev_hash := v_head.last_hash;
    NEW.hash := invoiceflow_private.audit_row_hash(NEW);
    UPDATE invoiceflow_private.audit_chain_head AS h SET last_id = NEW.id, last_hash = NEW.hash WHERE h.singleton;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.audit_chain_append() IS
    'Trigger: links a new audit row to the chain under the head row lock (id, prev_hash, hash); reads the head by '
    'its primary key (0079).';

-- Their statements on audit_capture use its indexes however many dead rows the table holds (0079).
ALTER FUNCTION invoiceflow_private.audit(bigint, text, bigint, text, jsonb, jsonb, text, bigint) SET enable_seqscan = off;
ALTER FUNCTION invoiceflow_private.audit_capture_unwritten() SET enable_seqscan = off;

CREATE OR REPLACE FUNCTION invoiceflow.daemon_finish_step(p_mails jsonb DEFAULT '[]') RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET enable_seqscan = off AS $$
DECLARE
    v_bad bigint;
    v_stored bigint;
BEGIN
    IF p_mails IS NULL OR pg_catalog.jsonb_typeof(p_mails) OPERATOR(pg_catalog.<>) 'array' THEN
        PERFORM invoiceflow_private.invalid('p_mails', 'must be a JSON array of rendered mails');
    END IF;
    IF NOT EXISTS (SELECT FROM invoiceflow_private.audit_capture AS m
                   WHERE m.transaction_id OPERATOR(pg_catalog.=) pg_catalog.pg_current_xact_id() AND m.captured IS NULL) THEN
        RAISE EXCEPTION 'no routing step is open in this transaction' USING ERRCODE = 'IF006';
    END IF;
    SELECT e.n INTO v_bad
    FROM pg_catalog.jsonb_array_elements(p_mails) WITH ORDINALITY AS e (m, n)
    WHERE pg_catalog.jsonb_typeof(e.m) IS DISTINCT FROM 'object'
       OR pg_catalog.jsonb_typeof(e.m -> 'content') IS DISTINCT FROM 'string'
       OR e.m ->> 'content' OPERATOR(pg_catalog.=) ''
    LIMIT 1;
    IF FOUND THEN
        PERFORM invoiceflow_private.invalid('p_mails',
            pg_catalog.format('mail %s is not an object with a non-empty base64 content', v_bad));
    END IF;
    -- The mails first: the chain head is taken by the first audit row, and held from there to COMMIT.
    -- As daemon_enqueue_mail stores them (0040), in one statement: idempotent on the Message-ID, NOTIFY per
    -- stored message (ids only: the payload is readable by anyone who can LISTEN).
    WITH stored AS (
        INSERT INTO invoiceflow_private.mail_outbox AS o (message_id, kind, sender, recipient, content,
            recipient_employee_id, invoice_id, task_id, only_while_task_open, next_attempt_at, give_up_at)
        SELECT e.m ->> 'messageID', e.m ->> 'kind', e.m ->> 'sender', e.m ->> 'recipient',
               pg_catalog.decode(e.m ->> 'content', 'base64'), (e.m ->> 'employee')::bigint,
               (e.m ->> 'invoice')::bigint, (e.m ->> 'task')::bigint, false, pg_catalog.now(),
               pg_catalog.now() OPERATOR(pg_catalog.+) INTERVAL '48 hours'
        FROM pg_catalog.jsonb_array_elements(p_mails) WITH ORDINALITY AS e (m, n)
        ORDER BY e.n
        ON CONFLICT ON CONSTRAINT mail_outbox_message_id_key DO NOTHING
        RETURNING o.id)
    SELECT pg_catalog.count(pg_catalog.pg_notify('invoiceflow_mail', pg_catalog.json_build_object('mail_id', s.id)::text))
    INTO v_stored
    FROM stored AS s;
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
    RETURN pg_catalog.jsonb_array_length(p_mails);
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_finish_step(jsonb) IS
    'Daemon only: ends a routing step begun with daemon_route_step — stores its rendered mails in one statement '
    '(elements messageID, kind, sender, recipient, base64 content, employee, invoice, task; a Message-ID already '
    'stored is skipped; NOTIFY invoiceflow_mail per stored message), then writes its captured audit rows in order. '
    'Returns the number of mails given. IF006 when no step is open in the transaction, IF001 for a malformed element.';

ALTER TABLE invoiceflow_private.mail_outbox ALTER COLUMN content SET COMPRESSION lz4;

RESET ROLE;
