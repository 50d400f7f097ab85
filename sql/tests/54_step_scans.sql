-- 54_step_scans.sql: migration 0079 — the audit chain head and the audit capture are read through their
-- indexes however many dead rows they hold, and daemon_finish_step stores a step's mails in one statement
-- with the same outcome as daemon_enqueue_mail (idempotent on the Message-ID, content kept byte for byte).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(16);

-- The settings are on the functions, so every caller's statements get them.
SELECT ok((SELECT 'enable_seqscan=off' = ANY (proconfig) FROM pg_proc
           WHERE oid = 'invoiceflow_private.audit_chain_append()'::regprocedure),
    'the chain trigger plans without sequential scans');
SELECT ok((SELECT 'enable_seqscan=off' = ANY (proconfig) FROM pg_proc
           WHERE oid = 'invoiceflow_private.audit(bigint, text, bigint, text, jsonb, jsonb, text, bigint)'::regprocedure),
    'audit() plans its capture probe without sequential scans');
SELECT ok((SELECT 'enable_seqscan=off' = ANY (proconfig) FROM pg_proc
           WHERE oid = 'invoiceflow.daemon_finish_step(jsonb)'::regprocedure)
          AND (SELECT 'enable_seqscan=off' = ANY (proconfig) FROM pg_proc
               WHERE oid = 'invoiceflow_private.audit_capture_unwritten()'::regprocedure),
    'so do the end of a step and the commit-time check');

-- With that setting, and only with it, the statements take the indexes (the tables are tiny here, as they
-- are after a VACUUM: the planner would scan them otherwise).
SET LOCAL enable_seqscan = off;
SELECT matches(fx.plan_text('SELECT * FROM invoiceflow_private.audit_chain_head AS h WHERE h.singleton FOR UPDATE'),
    'Index Scan using audit_chain_head_pkey', 'the head row is found by its primary key');
SELECT matches(fx.plan_text($$SELECT FROM invoiceflow_private.audit_capture AS m
                                 WHERE m.transaction_id = pg_current_xact_id() AND m.captured IS NULL$$),
    'audit_capture_marker_idx', 'the capture probe uses the marker index');
SELECT matches(fx.plan_text($$DELETE FROM invoiceflow_private.audit_capture AS c
                                 WHERE c.transaction_id = pg_current_xact_id() RETURNING c.id$$),
    'audit_capture_transaction_idx', 'the end of a step finds its captured rows by index');
SET LOCAL enable_seqscan = on;

-- The condition 0079 defends against: one transaction's many audit rows leave the head many pages long.
-- The chain stays whole through it.
SELECT lives_ok($$SELECT count(invoiceflow_private.audit(NULL, 'pgtap', g, 'bloat_head', NULL, NULL))
                  FROM generate_series(1, 400) AS g$$, 'four hundred audit rows in one transaction');
SELECT cmp_ok(pg_relation_size('invoiceflow_private.audit_chain_head'), '>', 8192::bigint,
    'leave the head table more than one page long');
SELECT is((SELECT row(ok, first_broken_id)::text FROM invoiceflow.audit_verify()), '(t,)',
    'and the chain verifies');

-- A step's mails, stored in one statement.
CREATE FUNCTION pg_temp.mail(p_task bigint, p_message text, p_body text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'messageID', p_message, 'kind', 'task_assigned',
        'sender', 'noreply@step-scans.test', 'recipient', 'cfo@example.org',
        'content', encode(convert_to('Subject: pgTAP' || chr(13) || chr(10) || chr(13) || chr(10) || p_body, 'UTF8'), 'base64'),
        'employee', fx.emp('cfo'), 'invoice', fx.inv('approval'), 'task', p_task)
$$;
CREATE TABLE fx.step (next jsonb, applied jsonb, mails jsonb, bad_kind jsonb);
GRANT ALL ON fx.step TO PUBLIC;
UPDATE invoiceflow_private.work_item SET done_at = now() WHERE invoice_id <> fx.inv('approval') AND done_at IS NULL;
INSERT INTO fx.step DEFAULT VALUES;
-- A Message-ID comes again when a step runs again; here the earlier message is stored by hand.
\o /dev/null
SELECT invoiceflow.daemon_enqueue_mail('task-existing@step-scans.test', 'task_assigned', 'noreply@step-scans.test',
    'cfo@example.org', convert_to('Subject: earlier' || chr(13) || chr(10) || chr(13) || chr(10) || 'first', 'UTF8'));
\o

SET SESSION AUTHORIZATION invoiceflow_daemon;
UPDATE fx.step SET next = invoiceflow.daemon_next_routing('pgtap', NULL);
UPDATE fx.step SET applied = invoiceflow.daemon_route_step((next ->> 'workItemID')::bigint, (next ->> 'invoiceID')::bigint,
    jsonb_build_array(jsonb_build_object('op', 'task', 'step', 'step_scans', 'kind', 'approve', 'assignee', fx.emp('cfo'),
        'dueAt', (extract(epoch FROM now() + interval '1 day') * 1000000)::bigint)));
RESET SESSION AUTHORIZATION;
UPDATE fx.step SET
    mails = jsonb_build_array(
        pg_temp.mail((applied -> 'tasks' ->> 0)::bigint, 'task-new@step-scans.test', 'Здравствуйте'),
        pg_temp.mail(NULL, 'task-existing@step-scans.test', 'second')),
    bad_kind = jsonb_build_array(pg_temp.mail(NULL, 'task-kind@step-scans.test', 'x') || '{"kind": "no_such_kind"}');

SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT throws_ok($$SELECT invoiceflow.daemon_finish_step(jsonb_build_array(jsonb_build_object('messageID', 'x@y.test')))$$,
    'IF001', NULL, 'a mail without content is refused with IF001');
SELECT throws_ok($$SELECT invoiceflow.daemon_finish_step((SELECT bad_kind FROM fx.step))$$,
    '23514', NULL, 'a mail of an unknown kind is refused by the outbox''s constraint');
SELECT is(invoiceflow.daemon_finish_step((SELECT mails FROM fx.step)), 2, 'daemon_finish_step takes both mails');
RESET SESSION AUTHORIZATION;

SELECT is((SELECT convert_from(content, 'UTF8') FROM invoiceflow_private.mail_outbox
           WHERE message_id = 'task-new@step-scans.test'),
    'Subject: pgTAP' || chr(13) || chr(10) || chr(13) || chr(10) || 'Здравствуйте',
    'the new mail is stored byte for byte');
SELECT results_eq($$SELECT kind, recipient_employee_id, task_id, state::text, next_attempt_at <= now(),
                           give_up_at = created_at + interval '48 hours'
                    FROM invoiceflow_private.mail_outbox WHERE message_id = 'task-new@step-scans.test'$$,
    $$VALUES ('task_assigned', fx.emp('cfo'), (SELECT (applied -> 'tasks' ->> 0)::bigint FROM fx.step), 'pending', true, true)$$,
    'with its recipient, task, state and deadlines as daemon_enqueue_mail stores them');
SELECT is((SELECT convert_from(content, 'UTF8') FROM invoiceflow_private.mail_outbox
           WHERE message_id = 'task-existing@step-scans.test'),
    'Subject: earlier' || chr(13) || chr(10) || chr(13) || chr(10) || 'first',
    'a Message-ID stored before is kept as it was, once');
SELECT is((SELECT attcompression::text FROM pg_attribute
           WHERE attrelid = 'invoiceflow_private.mail_outbox'::regclass AND attname = 'content'),
    'l', 'mail content is compressed with lz4');

SELECT * FROM finish();
ROLLBACK;
