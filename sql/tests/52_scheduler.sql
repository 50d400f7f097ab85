-- 52_scheduler.sql: the scheduler's SQL (migration 0055). The rules in business time with concrete dates
-- (a Friday task over a weekend and a holiday Monday), a notice sent once (the claim re-checks, the record
-- refuses a second one), the audit rows, the escalation family closing itself when either side decides,
-- and the rights: only the daemon calls the functions and nobody reads the notice table.
--
-- Concurrency of two schedulers (SKIP LOCKED claims) needs committed data: SchedulerTests.swift runs two
-- schedulers in parallel over a real database.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(54);

-- Only the tasks under test have deadlines.
UPDATE invoiceflow.task SET due_at = NULL WHERE outcome IS NULL;
-- Boris's approval (vera substitutes for him now): created Friday 11 June 2027 15:00 Moscow, one business day
-- (9 h) to decide: 3 h on Friday, Saturday, Sunday and Monday 14 June (the День России holiday moved) off,
-- 6 h on Tuesday 15 June: due Tuesday 15:00. Half of it is gone on Tuesday at 10:30.
UPDATE invoiceflow.task SET created_at = '2027-06-11 15:00+03', due_at = '2027-06-15 15:00+03'
WHERE id = fx.task('approval_boris');
-- The treasurer's payment of the "payment" invoice: due on Tuesday 15 June 2027 (a payment day) at 18:00.
UPDATE invoiceflow.task SET created_at = '2027-06-11 16:00+03', due_at = '2027-06-15 18:00+03'
WHERE id = fx.task('payment_pay');
-- The clerk's closing documents: 5 business days, from Wednesday 2 June 18:00 to Wednesday 9 June 18:00.
UPDATE invoiceflow.task SET created_at = '2027-06-02 18:00+03', due_at = '2027-06-09 18:00+03'
WHERE id = fx.task('closing_collect');

-- What a round at p_now would do, by task name; the closing documents only when asked for.
CREATE FUNCTION pg_temp.due(p_now timestamptz, p_documents boolean DEFAULT false)
RETURNS TABLE (task text, notice text) LANGUAGE sql AS $$
    SELECT r.name, d.notice FROM invoiceflow.daemon_scheduler_due(p_now) AS d
    JOIN fx.ref AS r ON r.kind = 'task' AND r.id = d.task_id
    WHERE p_documents = (r.name = 'closing_collect') ORDER BY 1, 2
$$;

SELECT is(invoiceflow.business_duration('2027-06-11 15:00+03', '2027-06-15 15:00+03'), interval '9 hours',
    'the test''s SLA: Friday 15:00 to Tuesday 15:00 over a weekend and the holiday Monday is one business day');

-- The rules at concrete moments ---------------------------------------------------------------------------

SELECT is_empty($$SELECT * FROM pg_temp.due('2027-06-11 17:00+03')$$,
    'Friday 17:00: 2 of 9 business hours gone, nothing is due');
SELECT is_empty($$SELECT * FROM pg_temp.due('2027-06-14 17:00+03')$$,
    'holiday Monday 17:00: still 3 business hours gone (the weekend and the holiday do not count), nothing is due');
SELECT is_empty($$SELECT * FROM pg_temp.due('2027-06-15 08:59+03')$$,
    'Tuesday 08:59: before the working day and before the payment-day morning');
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-15 09:01+03')$$,
    $$VALUES ('payment_pay', 'payment_due')$$,
    'Tuesday 09:01, a payment day: the payment-day mail for the treasurer''s task due today, no reminder yet');
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-15 10:29+03')$$,
    $$VALUES ('payment_pay', 'payment_due')$$,
    'Tuesday 10:29: 4 h 29 min of 9 h gone, just before half: no reminder');
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-15 10:31+03')$$,
    $$VALUES ('approval_boris', 'reminder'), ('payment_pay', 'payment_due')$$,
    'Tuesday 10:31: just past half of the SLA: the reminder is due');
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-15 14:59+03')$$,
    $$VALUES ('approval_boris', 'reminder'), ('payment_pay', 'payment_due')$$,
    'Tuesday 14:59: not overdue yet');
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-15 15:00+03')$$,
    $$VALUES ('approval_boris', 'escalation'), ('payment_pay', 'payment_due')$$,
    'Tuesday 15:00, due: the escalation, and no late reminder');
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-16 09:01+03')$$,
    $$VALUES ('approval_boris', 'escalation'), ('payment_pay', 'escalation')$$,
    'Wednesday: the unpaid payment escalates; Wednesday is no payment day');
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-09 17:59+03', true)$$,
    $$VALUES ('closing_collect', 'reminder')$$,
    'a minute before their due moment the closing documents are not overdue (only the reminder is due)');
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-09 18:00+03', true)$$,
    $$VALUES ('closing_collect', 'documents_overdue')$$,
    'the closing documents are overdue at their due moment (and the reminder at half of the 5 days is past)');
SELECT is_empty($$SELECT * FROM pg_temp.due('2027-06-07 13:29+03', true)$$,
    'Monday 7 June 13:29: 22 h 29 min of the 45 business hours gone, no reminder');
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-07 13:31+03', true)$$,
    $$VALUES ('closing_collect', 'reminder')$$,
    'Monday 7 June 13:31: past half of the 5 business days, the collector is reminded');

-- A calendar edit after the task exists moves its stored moment in the same transaction (migration 0057):
-- with Friday 4 June a holiday the 5 days are 4 (36 h), half of them is reached on Monday 7 June at 18:00.
SET SESSION AUTHORIZATION fx_admin;
SELECT invoiceflow.set_working_day('2027-06-04', false, 'test: a decree');
RESET SESSION AUTHORIZATION;
SELECT is_empty($$SELECT * FROM pg_temp.due('2027-06-07 17:59+03', true)$$,
    'after Friday 4 June became a day off: Monday 7 June 17:59 is 17 h 59 min of 36 h, no reminder');
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-07 18:00+03', true)$$,
    $$VALUES ('closing_collect', 'reminder')$$,
    'and at 18:00 half of the shortened period is gone: the reminder is due');
SET SESSION AUTHORIZATION fx_admin;
SELECT invoiceflow.set_working_day('2027-06-04', true, 'test: the decree withdrawn');
RESET SESSION AUTHORIZATION;
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-07 13:31+03', true)$$,
    $$VALUES ('closing_collect', 'reminder')$$,
    'withdrawing the edit brings the reminder back to Monday 13:30');

-- Claim, record, once -------------------------------------------------------------------------------------

SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT results_eq(
    $$SELECT task_id, notice, step_key, kind, assignee_id
      FROM invoiceflow.daemon_scheduler_claim(fx.task('approval_boris'), 'reminder', '2027-06-15 10:31+03')$$,
    $$VALUES (fx.task('approval_boris'), 'reminder', 'purchasing', 'approve', fx.emp('boris'))$$,
    'the daemon claims a due reminder and gets the task');
SELECT is_empty(
    $$SELECT * FROM invoiceflow.daemon_scheduler_claim(fx.task('approval_boris'), 'reminder', '2027-06-15 10:29+03')$$,
    'a claim re-checks the rule: at 10:29 the reminder is not due');
SELECT is_empty(
    $$SELECT * FROM invoiceflow.daemon_scheduler_claim(fx.task('approval_boris'), 'escalation', '2027-06-15 10:31+03')$$,
    'nor the escalation before due');
SELECT lives_ok(
    $$SELECT invoiceflow.daemon_scheduler_record(fx.task('approval_boris'), 'reminder', '2027-06-15 10:31+03',
        'scheduler-test', ARRAY[fx.emp('boris')])$$,
    'the reminder is recorded');
SELECT is_empty(
    $$SELECT * FROM invoiceflow.daemon_scheduler_claim(fx.task('approval_boris'), 'reminder', '2027-06-15 10:31+03')$$,
    'a recorded reminder is not claimable again');
SELECT throws_ok(
    $$SELECT invoiceflow.daemon_scheduler_record(fx.task('approval_boris'), 'reminder', '2027-06-15 10:31+03',
        'scheduler-2', ARRAY[fx.emp('boris')])$$,
    'IF006', NULL, 'recording it a second time is refused with IF006');
SELECT throws_ok(
    $$SELECT invoiceflow.daemon_scheduler_record(fx.task('approval_boris'), 'nudge', '2027-06-15 10:31+03',
        'scheduler-test', '{}')$$,
    'IF001', NULL, 'an unknown notice is refused with IF001');
RESET SESSION AUTHORIZATION;
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-15 10:31+03')$$,
    $$VALUES ('payment_pay', 'payment_due')$$,
    'the same round again lists nothing new for the reminded task');
SELECT is_empty($$SELECT FROM invoiceflow.audit_log WHERE (after ->> 'task_id')::bigint = fx.task('approval_boris')$$,
    'a reminder writes no audit row');

-- Escalation: a parallel task for the head, recorded once, and the family closes itself ------------------

SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT isnt_empty(
    $$SELECT * FROM invoiceflow.daemon_scheduler_claim(fx.task('approval_boris'), 'escalation', '2027-06-15 15:00+03')$$,
    'at due the escalation is claimable');
-- The head of the late holder (boris heads purchasing, so the head above: the CEO) gets a task acting for boris.
INSERT INTO fx.ref SELECT 'task', 'approval_ceo_escalated', invoiceflow.daemon_create_task(fx.inv('approval'),
    'purchasing', 'approve', fx.emp('ceo'), fx.emp('boris'), '2027-06-16 15:00+03');
SELECT throws_ok(
    $$SELECT invoiceflow.daemon_scheduler_record(fx.task('approval_boris'), 'escalation', '2027-06-15 15:00+03',
        'scheduler-test', ARRAY[fx.emp('ceo')], fx.task('approval_cfo'))$$,
    'IF001', NULL, 'the escalation task must belong to the same step');
SELECT lives_ok(
    $$SELECT invoiceflow.daemon_scheduler_record(fx.task('approval_boris'), 'escalation', '2027-06-15 15:00+03',
        'scheduler-test', ARRAY[fx.emp('ceo')], fx.task('approval_ceo_escalated'), '{"explanation": "test"}')$$,
    'the escalation is recorded with the head''s task');
RESET SESSION AUTHORIZATION;
SELECT results_eq(
    $$SELECT action, after ->> 'step', (after ->> 'escalation_task_id')::bigint, after -> 'notified'
      FROM invoiceflow.audit_log WHERE invoice_id = fx.inv('approval') AND action = 'route_escalated'$$,
    $$VALUES ('route_escalated', 'purchasing', fx.task('approval_ceo_escalated'), jsonb_build_array(fx.emp('ceo')))$$,
    'one audit row route_escalated names the step, the head''s task and whom it told');
SELECT is((SELECT outcome FROM invoiceflow.task WHERE id = fx.task('approval_boris')), NULL,
    'a timeout never rejects: the late task stays open');
SELECT is_empty($$SELECT * FROM pg_temp.due('2027-06-15 15:00+03') WHERE task = 'approval_boris'$$,
    'an escalated task is not escalated again');
SELECT ok((SELECT count(*) FROM invoiceflow.audit_log AS a JOIN reporting.escalation AS e ON e.audit_id = a.id
           WHERE a.invoice_id = fx.inv('approval')) = 1,
    'the reports see it as an overdue escalation');

SET SESSION AUTHORIZATION fx_ceo;
SELECT invoiceflow.decide_task(fx.task('approval_ceo_escalated'), 'approve');
RESET SESSION AUTHORIZATION;
SELECT results_eq(
    $$SELECT outcome::text, comment FROM invoiceflow.task WHERE id = fx.task('approval_boris')$$,
    $$VALUES ('cancelled', 'closed: task ' || fx.task('approval_ceo_escalated') || ' of the same escalation was approved')$$,
    'the head''s approval closes the late task');
SELECT is((SELECT count(*)::integer FROM invoiceflow.audit_log
           WHERE entity = 'task' AND entity_id = fx.task('approval_boris') AND action = 'cancel_task'), 1,
    'with one audit row');

-- The family follows delegation (migration 0058): the CFO's approval is escalated to the CEO, then the late CFO
-- delegates it to the chief accountant; the CEO's approval must close the delegate's task too.
UPDATE invoiceflow.task SET created_at = '2027-06-11 15:00+03', due_at = '2027-06-15 15:00+03'
WHERE id = fx.task('approval_cfo');
SET SESSION AUTHORIZATION invoiceflow_daemon;
INSERT INTO fx.ref SELECT 'task', 'approval_cfo_escalated', invoiceflow.daemon_create_task(fx.inv('approval'),
    'cfo', 'approve', fx.emp('ceo'), fx.emp('cfo'), '2027-06-16 15:00+03');
SELECT invoiceflow.daemon_scheduler_record(fx.task('approval_cfo'), 'escalation', '2027-06-15 15:00+03',
    'scheduler-test', ARRAY[fx.emp('ceo')], fx.task('approval_cfo_escalated'));
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_cfo;
INSERT INTO fx.ref SELECT 'task', 'approval_cfo_delegated',
    invoiceflow.delegate_task(fx.task('approval_cfo'), fx.emp('chief_acc'), 'back from leave, hand it on');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT outcome FROM invoiceflow.task WHERE id = fx.task('approval_cfo_delegated')), NULL,
    'the late approver delegated after the escalation: the delegate''s task is open');
-- Migration 0077: the delegate's task is not escalated a second time (one parallel task for the head is enough).
SELECT results_eq(
    $$SELECT notice, escalation_task_id, recipients FROM invoiceflow_private.task_notice
      WHERE task_id = fx.task('approval_cfo_delegated')$$,
    $$VALUES ('escalation', fx.task('approval_cfo_escalated'), '{}'::bigint[])$$,
    'the delegate''s task inherits the escalation, pointing at the head''s task, with nobody mailed for it');
SELECT is_empty(
    $$SELECT * FROM pg_temp.due('2027-06-16 18:00+03') WHERE task = 'approval_cfo_delegated'$$,
    'past its due time, the delegate''s task is not listed for a second escalation');
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT is_empty(
    $$SELECT * FROM invoiceflow.daemon_scheduler_claim(fx.task('approval_cfo_delegated'), 'escalation',
                                                        '2027-06-16 18:00+03')$$,
    'and the claim refuses it too');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_ceo;
SELECT invoiceflow.decide_task(fx.task('approval_cfo_escalated'), 'approve');
RESET SESSION AUTHORIZATION;
SELECT results_eq(
    $$SELECT outcome::text, comment FROM invoiceflow.task WHERE id = fx.task('approval_cfo_delegated')$$,
    $$VALUES ('cancelled', 'closed: task ' || fx.task('approval_cfo_escalated') || ' of the same escalation was approved')$$,
    'the head''s approval closes the delegate''s task: family membership follows delegation');
SELECT is((SELECT count(*)::integer FROM invoiceflow.audit_log
           WHERE entity = 'task' AND entity_id = fx.task('approval_cfo_delegated') AND action = 'cancel_task'), 1,
    'with one audit row');
SELECT is_empty($$SELECT FROM invoiceflow.task WHERE invoice_id = fx.inv('approval') AND step_key = 'cfo'
                  AND outcome IS NULL$$,
    'no task of the step is left open for an all-in-parallel step to wait for');

-- Overdue closing documents --------------------------------------------------------------------------------

SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT lives_ok(
    $$SELECT invoiceflow.daemon_scheduler_record(fx.task('closing_collect'), 'documents_overdue', '2027-06-09 18:00+03',
        'scheduler-test', ARRAY[fx.emp('clerk')])$$,
    'the collector''s overdue notice is recorded');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT after ->> 'level' FROM invoiceflow.audit_log
           WHERE entity_id = fx.task('closing_collect') AND action = 'documents_overdue'), 'collector',
    'with an audit row documents_overdue');
SELECT is_empty($$SELECT * FROM pg_temp.due('2027-06-17 17:59+03', true)$$,
    'the head is not told before a second period (another 45 business hours, to Thursday 17 June 18:00) has passed');
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-17 18:00+03', true)$$,
    $$VALUES ('closing_collect', 'documents_overdue_head')$$,
    'after the second period the collector''s head is due a notice');

-- Rights ----------------------------------------------------------------------------------------------------

SET SESSION AUTHORIZATION fx_admin;
SELECT throws_ok($$SELECT * FROM invoiceflow.daemon_scheduler_due(now())$$, '42501', NULL,
    'an administrator may not run the scheduler');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_clerk;
SELECT throws_ok(
    $$SELECT invoiceflow.daemon_scheduler_record(fx.task('closing_collect'), 'documents_overdue_head', now(), 'me', '{}')$$,
    '42501', NULL, 'an employee may not record a notice (and so suppress one)');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT throws_ok($$SELECT * FROM invoiceflow_private.task_notice$$, '42501', NULL,
    'not even the daemon reads the notice table directly');
RESET SESSION AUTHORIZATION;

-- The listing is an index range scan (migration 0057) ---------------------------------------------------------

-- 20 000 more open tasks, most of them due long after the moment looked at.
SELECT fx.sub('ho') AS ho, fx.cp('medsupply') AS medsupply, (SELECT invoice_type_id FROM invoiceflow.invoice WHERE id = fx.inv('approval')) AS invoice_type \gset
INSERT INTO invoiceflow.invoice (invoice_type_id, paying_subdivision_id, counterparty_id, initiator_id,
    supplier_invoice_number, supplier_invoice_date, amount_minor, purpose, stage, submitted_at, route_version)
SELECT :invoice_type, :ho, :medsupply, fx.emp('anna'), 'SCHED-' || g, DATE '2027-06-01', 1000 + g, 'scheduler load',
    'approval', now(), (SELECT route_version FROM invoiceflow.invoice WHERE id = fx.inv('approval'))
FROM generate_series(1, 20000) AS g;
INSERT INTO invoiceflow.task (invoice_id, step_key, kind, assignee_id, created_at, due_at)
SELECT i.id, 'purchasing', 'approve', fx.emp('boris'), TIMESTAMPTZ '2027-07-01 10:00+03' + (i.id % 500) * INTERVAL '1 hour',
    TIMESTAMPTZ '2027-07-05 10:00+03' + (i.id % 500) * INTERVAL '1 hour'
FROM invoiceflow.invoice AS i WHERE i.purpose = 'scheduler load';
ANALYZE invoiceflow.task;
ANALYZE invoiceflow.invoice;
ANALYZE invoiceflow_private.task_schedule;
SELECT is((SELECT count(*) FROM invoiceflow_private.task_schedule AS s JOIN invoiceflow.task AS t ON t.id = s.task_id
           WHERE t.step_key = 'purchasing' AND t.created_at >= '2027-07-01'), 20000::bigint,
    'every new open task is scheduled by the insert');
CREATE FUNCTION pg_temp.scans(p_sql text) RETURNS text[] LANGUAGE plpgsql AS $f$
DECLARE
    v jsonb;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || p_sql INTO v;
    RETURN (SELECT array_agg(DISTINCT concat_ws(' ', n ->> 'Node Type', n ->> 'Relation Name', n ->> 'Index Name'))
            FROM jsonb_path_query(v, 'strict $.**') AS n
            WHERE jsonb_typeof(n) = 'object' AND (n ? 'Relation Name' OR n ? 'Index Name'));
END
$f$;
SELECT ok((SELECT bool_and(s ~ '^(Bitmap )?Index( Only)? Scan (task_schedule )?task_schedule_next_at_idx$'
                           OR s ~ '^Bitmap Heap Scan task_schedule')
           FROM unnest(pg_temp.scans($$SELECT * FROM invoiceflow_private.scheduler_due_tasks('2027-06-15 15:00+03')$$)) AS s),
    'the candidates of a round are a range scan of task_schedule_next_at_idx');
SELECT scan_count AS seq_before FROM (SELECT pg_stat_get_xact_numscans('invoiceflow.task'::regclass) AS scan_count) AS x \gset
SELECT results_eq($$SELECT * FROM pg_temp.due('2027-06-16 09:01+03')$$,
    $$VALUES ('payment_pay', 'escalation')$$,
    'with 20 000 more open tasks due later the round lists the same');
SELECT is(pg_stat_get_xact_numscans('invoiceflow.task'::regclass), :seq_before::bigint,
    'and reads the task table by key only, never sequentially');
SELECT ok(EXISTS (SELECT FROM invoiceflow.daemon_scheduler_due('2027-07-03 10:00+03', 100000) AS d
                  JOIN invoiceflow.task AS t ON t.id = d.task_id WHERE t.created_at >= '2027-07-01'),
    'and when their moments come, the loaded tasks are listed');
CREATE FUNCTION pg_temp.execution_ms(p_sql text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    v jsonb;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || p_sql INTO v;
    RETURN v -> 0 ->> 'Execution Time';
END
$f$;
SELECT diag('daemon_scheduler_due with 20 000 more open tasks, none of them due: '
    || pg_temp.execution_ms($$SELECT * FROM invoiceflow.daemon_scheduler_due('2027-06-16 09:01+03')$$) || ' ms');

SELECT * FROM finish();
ROLLBACK;
