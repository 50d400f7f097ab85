-- 53_router_audit_at_end.sql: migration 0078 — a routing step with mail keeps its audit rows until
-- daemon_finish_step, which stores the mails and then writes the rows; a transaction that never writes them
-- cannot commit, nobody else can start or end such a step, and the rows are those daemon_apply_routing writes.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(14);

CREATE FUNCTION pg_temp.actions(p_step text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_array(
        jsonb_build_object('op', 'task', 'step', p_step, 'kind', 'approve', 'assignee', fx.emp('cfo'),
                           'dueAt', (extract(epoch FROM now() + interval '1 day') * 1000000)::bigint),
        jsonb_build_object('op', 'note', 'action', 'route_step_started', 'detail', jsonb_build_object('step', p_step),
                           'comment', 'pgTAP'))
$$;
CREATE FUNCTION pg_temp.mail(p_task bigint) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_array(jsonb_build_object(
        'messageID', 'task-' || p_task || '@audit-at-end.test', 'kind', 'task_assigned',
        'sender', 'noreply@audit-at-end.test', 'recipient', 'cfo@example.org',
        'content', encode(convert_to('Subject: pgTAP' || chr(13) || chr(10) || chr(13) || chr(10) || 'x', 'UTF8'), 'base64'),
        'employee', fx.emp('cfo'), 'invoice', fx.inv('approval'), 'task', p_task))
$$;
CREATE TABLE fx.step (next jsonb, audit_before bigint, actions jsonb, applied jsonb);
GRANT ALL ON fx.step TO PUBLIC;
-- The approval invoice's work comes first (the fixture's other items are of no interest here).
UPDATE invoiceflow_private.work_item SET done_at = now() WHERE invoice_id <> fx.inv('approval') AND done_at IS NULL;
INSERT INTO fx.step (audit_before, actions)
VALUES ((SELECT max(id) FROM invoiceflow.audit_log), pg_temp.actions('audit_at_end'));

-- Nobody but the daemon starts or ends a step.
SELECT ok(NOT has_function_privilege('invoiceflow_employee', 'invoiceflow.daemon_route_step(bigint, bigint, jsonb)', 'EXECUTE')
          AND NOT has_function_privilege('invoiceflow_employee', 'invoiceflow.daemon_finish_step(jsonb)', 'EXECUTE')
          AND NOT has_table_privilege('invoiceflow_daemon', 'invoiceflow_private.audit_capture', 'INSERT,SELECT'),
    'employees cannot start or end a routing step, and the daemon cannot touch the capture directly');

-- A step: the writes happen, the audit rows wait.
SET SESSION AUTHORIZATION invoiceflow_daemon;
UPDATE fx.step SET next = invoiceflow.daemon_next_routing('pgtap', NULL);
UPDATE fx.step SET applied = invoiceflow.daemon_route_step((next ->> 'workItemID')::bigint, (next ->> 'invoiceID')::bigint,
    actions);
RESET SESSION AUTHORIZATION;
SELECT is((SELECT assignee_id FROM invoiceflow.task WHERE id = (SELECT (applied -> 'tasks' ->> 0)::bigint FROM fx.step)),
    fx.emp('cfo'), 'the step''s task is written at once');
SELECT ok((SELECT applied -> 'recipients' @> jsonb_build_array(jsonb_build_object('id', fx.emp('cfo'))) FROM fx.step),
    'the mail facts come back, as with daemon_apply_routing(..., true)');
SELECT is((SELECT count(*)::integer FROM invoiceflow.audit_log WHERE id > (SELECT audit_before FROM fx.step)), 0,
    'its audit rows are not written yet');
SELECT results_eq($$SELECT captured ->> 'action' FROM invoiceflow_private.audit_capture
                    WHERE transaction_id = pg_current_xact_id() AND captured IS NOT NULL ORDER BY id$$,
    $$VALUES ('assign_task'), ('route_step_started')$$, 'they are captured for this transaction, in order');
-- The commit-time check runs as the daemon's session, as at a real COMMIT.
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT throws_ok($$SET CONSTRAINTS invoiceflow_private.audit_capture_written IMMEDIATE$$, 'IF008', NULL,
    'a transaction whose captured rows are unwritten cannot commit');
RESET SESSION AUTHORIZATION;

-- The end of the step: mails first, then the rows, in order, with the daemon's identity.
ALTER TABLE fx.step ADD COLUMN mails jsonb;
UPDATE fx.step SET mails = pg_temp.mail((applied -> 'tasks' ->> 0)::bigint);
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT is(invoiceflow.daemon_finish_step((SELECT mails FROM fx.step)), 1, 'daemon_finish_step stores the mail');
RESET SESSION AUTHORIZATION;
SELECT results_eq(
    $$SELECT action, entity, channel, actor_employee_id IS NULL, session_role = 'invoiceflow_daemon'
      FROM invoiceflow.audit_log WHERE id > (SELECT audit_before FROM fx.step) ORDER BY id$$,
    $$VALUES ('assign_task', 'task', 'daemon', true, true), ('route_step_started', 'invoice', 'daemon', true, true)$$,
    'then writes the captured rows in order, as the daemon');
SELECT is((SELECT entity_id FROM invoiceflow.audit_log WHERE id > (SELECT audit_before FROM fx.step) AND action = 'assign_task'),
    (SELECT (applied -> 'tasks' ->> 0)::bigint FROM fx.step), 'the task''s row names the task');
SELECT is((SELECT comment FROM invoiceflow.audit_log WHERE id > (SELECT audit_before FROM fx.step)
           AND action = 'route_step_started'), 'pgTAP', 'the note keeps its comment');
SELECT is_empty($$SELECT FROM invoiceflow_private.audit_capture$$, 'nothing is left captured');
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT lives_ok($$SET CONSTRAINTS invoiceflow_private.audit_capture_written IMMEDIATE$$,
    'and the transaction may commit');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT throws_ok($$SELECT invoiceflow.daemon_finish_step('[]')$$, 'IF006', NULL,
    'ending a step that is not open is refused');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT row(ok, first_broken_id)::text FROM invoiceflow.audit_verify()), '(t,)',
    'the chain verifies with the rows written at the end');

SELECT * FROM finish();
ROLLBACK;
