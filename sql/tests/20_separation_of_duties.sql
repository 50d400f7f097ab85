-- 20_separation_of_duties.sql: DESIGN.md invariant 7, enforced by the database.
--
--   A. The initiator never approves their own invoice: not directly, not as a deputy, not through a
--      delegated task, not by a task created for them or held for them; the guards hold for rows
--      written by the superuser too (triggers, not only the commands).
--   B. Whoever approved does not pay: neither the approver nor the person a deputy approved for, not by
--      a pay task and not by recording a payment as a treasurer. A treasurer who took no part may.
--   C. The initiator does not pay, even as a treasurer or as the treasurer's deputy.
--   D. No silent admin bypass: the admin group can neither decide, pay, move stages nor write tables;
--      every admin action leaves an audit row it cannot remove; an admin who is also the initiator is
--      held to the same rules; and an admin cannot give themself authority (hire their own login role,
--      become a deputy, arrange their own substitution, assign themself a position).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/personas.sql

CREATE TEMPORARY TABLE ids ON COMMIT DROP AS
SELECT
    (SELECT employee_id FROM persona WHERE login_role = 'ifp_ivan') AS ivan,
    (SELECT employee_id FROM persona WHERE login_role = 'ifp_olga') AS olga,
    (SELECT employee_id FROM persona WHERE login_role = 'ifp_petr') AS petr,
    (SELECT employee_id FROM persona WHERE login_role = 'ifp_rita') AS rita,
    (SELECT employee_id FROM persona WHERE login_role = 'ifp_sasha') AS sasha,
    (SELECT employee_id FROM persona WHERE login_role = 'ifp_kate') AS kate,
    (SELECT employee_id FROM persona WHERE login_role = 'ifp_uma') AS uma,
    (SELECT id FROM persona_invoice WHERE label = 'I2') AS i2,
    (SELECT id FROM persona_invoice WHERE label = 'I3') AS i3,
    (SELECT id FROM persona_invoice WHERE label = 'I4') AS i4,
    (SELECT id FROM persona_invoice WHERE label = 'I5') AS i5,
    (SELECT t.id FROM invoiceflow.task AS t JOIN persona_invoice AS l ON l.id = t.invoice_id
     WHERE l.label = 'I2' AND t.outcome IS NULL) AS i2_task,
    (SELECT t.id FROM invoiceflow.task AS t JOIN persona_invoice AS l ON l.id = t.invoice_id
     WHERE l.label = 'I3' AND t.outcome IS NULL) AS i3_task,
    (SELECT t.id FROM invoiceflow.task AS t JOIN persona_invoice AS l ON l.id = t.invoice_id
     WHERE l.label = 'I4' AND t.outcome IS NULL) AS i4_task,
    (SELECT d.id FROM invoiceflow.department AS d JOIN invoiceflow.subdivision AS s ON s.id = d.subdivision_id
     WHERE s.code = 'ifp_ho' AND d.name = 'Финансы') AS ho_finance;
GRANT SELECT ON ids TO PUBLIC;

-- The SQLSTATE a statement ends with ('ok' if none), for refusals that may come in more than one way.
CREATE FUNCTION pg_temp.sqlstate_of(statement text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$f$;

SELECT plan(45);

-- A. The initiator never approves ----------------------------------------------------------------------

SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT throws_ok($$SELECT invoiceflow.daemon_create_task((SELECT i2 FROM ids), 'self', 'approve', (SELECT ivan FROM ids))$$,
    'IF005', NULL, 'the router cannot give the initiator an approval task on their own invoice');
SELECT throws_ok(
    $$SELECT invoiceflow.daemon_create_task((SELECT i2 FROM ids), 'for_self', 'approve', (SELECT sasha FROM ids),
        (SELECT ivan FROM ids))$$,
    'IF005', NULL, 'nor a task someone holds as the initiator''s deputy (acting for the initiator)');
RESET SESSION AUTHORIZATION;

SELECT throws_ok(
    $$INSERT INTO invoiceflow.task (invoice_id, step_key, kind, assignee_id)
      VALUES ((SELECT i2 FROM ids), 'raw', 'approve', (SELECT ivan FROM ids))$$,
    'IF005', NULL, 'even a superuser''s raw INSERT of such a task is refused by the database');
SELECT throws_ok(
    $$UPDATE invoiceflow.task SET outcome = 'approved', decided_at = now(), decided_by = (SELECT ivan FROM ids)
      WHERE id = (SELECT i2_task FROM ids)$$,
    'IF005', NULL, 'even a superuser''s raw UPDATE recording the initiator as the decider is refused');

SET SESSION AUTHORIZATION ifp_ivan;
SELECT throws_ok($$SELECT invoiceflow.decide_task((SELECT i2_task FROM ids), 'approve')$$, 'IF002', NULL,
    'the initiator cannot decide the approver''s task on their own invoice');
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION ifp_petr;
SELECT throws_ok($$SELECT invoiceflow.delegate_task((SELECT i2_task FROM ids), (SELECT ivan FROM ids), 'you decide')$$,
    'IF005', NULL, 'the approver cannot delegate the task to the invoice''s initiator');
RESET SESSION AUTHORIZATION;

-- Through a substitution: Olga (initiator of I3) becomes Rita's deputy now; Rita holds I3's task.
-- Vera is Rita's current deputy, and one absent person has one deputy at a time: end Vera's first.
UPDATE invoiceflow.substitution SET valid = tstzrange(lower(valid), now() - interval '1 hour')
WHERE absent_employee_id = (SELECT rita FROM ids) AND deputy_employee_id = (
    SELECT employee_id FROM persona WHERE login_role = 'ifp_vera');
SET SESSION AUTHORIZATION ifp_adam;
SELECT lives_ok(
    $$SELECT invoiceflow.add_substitution((SELECT rita FROM ids), (SELECT olga FROM ids), now() - interval '1 minute',
        now() + interval '3 days', 'отпуск')$$,
    'the admin makes Olga Rita''s deputy from now on');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ifp_olga;
SELECT isnt_empty($$SELECT task_id FROM invoiceflow.my_tasks WHERE task_id = (SELECT i3_task FROM ids)$$,
    'as Rita''s deputy Olga now finds Rita''s task on her own invoice among her tasks');
SELECT throws_ok($$SELECT invoiceflow.decide_task((SELECT i3_task FROM ids), 'approve')$$, 'IF005', NULL,
    'but approving her own invoice as Rita''s deputy is refused (separation of duties)');
SELECT throws_ok($$SELECT invoiceflow.decide_task((SELECT i3_task FROM ids), 'approve_with_remarks', 'ok')$$,
    'IF005', NULL, 'approving it with remarks as the deputy is refused too');
SELECT throws_ok($$SELECT invoiceflow.decide_task((SELECT i3_task FROM ids), 'reject', 'no')$$, 'IF005', NULL,
    'and deciding it at all (reject) as the deputy is refused');
SELECT throws_ok(
    $$SELECT invoiceflow.delegate_task((SELECT i3_task FROM ids), (SELECT uma FROM ids), 'a friend decides')$$,
    'IF005', NULL, 'nor may the initiator, as deputy, hand the task to a person of her choice');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT outcome::text FROM invoiceflow.task WHERE id = (SELECT i3_task FROM ids)), NULL,
    'Rita''s task on I3 is still open after all the attempts');
-- (That a deputy who is not the initiator may decide, and is then bound like the approver, is B.)

-- B. Whoever approved does not pay ---------------------------------------------------------------------

-- Sasha (Petr's deputy now) approves I2 for Petr; the router moves I2 to payment.
SET SESSION AUTHORIZATION ifp_sasha;
SELECT lives_ok($$SELECT invoiceflow.decide_task((SELECT i2_task FROM ids), 'approve')$$,
    'Sasha approves I2 as Petr''s deputy');
RESET SESSION AUTHORIZATION;
SELECT is(
    (SELECT format('%s/%s', decided_by = (SELECT sasha FROM ids), decided_for_id = (SELECT petr FROM ids))
     FROM invoiceflow.task WHERE id = (SELECT i2_task FROM ids)),
    't/t', 'the task records Sasha as the decider, acting for Petr');
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT lives_ok($$SELECT invoiceflow.daemon_set_stage((SELECT i2 FROM ids), 'payment')$$, 'the router moves I2 to payment');
SELECT throws_ok($$SELECT invoiceflow.daemon_create_task((SELECT i2 FROM ids), 'pay', 'pay', (SELECT sasha FROM ids))$$,
    'IF005', NULL, 'the router cannot make the deputy who approved I2 its payer');
SELECT throws_ok($$SELECT invoiceflow.daemon_create_task((SELECT i2 FROM ids), 'pay', 'pay', (SELECT petr FROM ids))$$,
    'IF005', NULL, 'nor the approver for whom the deputy approved');
SELECT throws_ok($$SELECT invoiceflow.daemon_create_task((SELECT i5 FROM ids), 'pay2', 'pay', (SELECT petr FROM ids))$$,
    'IF005', NULL, 'nor Petr on I5, which he approved himself');
RESET SESSION AUTHORIZATION;

-- Both are treasurers of the paying subdivision from now on (assigned by the admin).
SET SESSION AUTHORIZATION ifp_adam;
SELECT lives_ok(
    $$SELECT invoiceflow.assign_employee(e, (SELECT ho_finance FROM ids), 'treasurer')
      FROM unnest(ARRAY[(SELECT sasha FROM ids), (SELECT petr FROM ids)]) AS e$$,
    'the admin makes Sasha and Petr treasurers of the head office');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ifp_sasha;
SELECT throws_ok($$SELECT invoiceflow.record_payment((SELECT i2 FROM ids), 1000, current_date, 'п/п 1')$$, 'IF005', NULL,
    'as a treasurer, Sasha cannot pay the invoice she approved as a deputy');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ifp_petr;
SELECT throws_ok($$SELECT invoiceflow.record_payment((SELECT i2 FROM ids), 1000, current_date, 'п/п 2')$$, 'IF005', NULL,
    'as a treasurer, Petr cannot pay the invoice his deputy approved for him');
SELECT throws_ok($$SELECT invoiceflow.record_payment((SELECT i5 FROM ids), 1000, current_date, 'п/п 3')$$, 'IF005', NULL,
    'as a treasurer, Petr cannot pay I5, which he approved');
RESET SESSION AUTHORIZATION;
SELECT throws_ok(
    $$INSERT INTO invoiceflow.payment (invoice_id, paid_on, reference, amount_minor, currency, recorded_by)
      VALUES ((SELECT i5 FROM ids), current_date, 'raw', 1000, 'RUB', (SELECT petr FROM ids))$$,
    'IF005', NULL, 'even a superuser''s raw payment row in the approver''s name is refused');
SET SESSION AUTHORIZATION ifp_kate;
SELECT lives_ok($$SELECT invoiceflow.record_payment((SELECT i5 FROM ids), 1000, current_date, 'п/п 4')$$,
    'control: Kate, a treasurer who took no part, pays I5');
SELECT lives_ok($$SELECT invoiceflow.record_payment((SELECT i2 FROM ids), 1000, current_date, 'п/п 5')$$,
    'control: Kate pays I2 as well');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*)::integer FROM invoiceflow.payment WHERE invoice_id IN ((SELECT i2 FROM ids), (SELECT i5 FROM ids))),
    2, 'exactly the two payments by Kate were recorded');

-- C. The initiator does not pay --------------------------------------------------------------------------

SET SESSION AUTHORIZATION ifp_adam;
SELECT lives_ok($$SELECT invoiceflow.assign_employee((SELECT ivan FROM ids), (SELECT ho_finance FROM ids), 'treasurer')$$,
    'the admin makes Ivan a treasurer of the head office too');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ifp_ivan;
SELECT throws_ok($$SELECT invoiceflow.record_payment((SELECT i5 FROM ids), 1000, current_date, 'п/п 6')$$, 'IF005', NULL,
    'as a treasurer, Ivan cannot pay his own invoice');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT throws_ok($$SELECT invoiceflow.daemon_create_task((SELECT i5 FROM ids), 'pay3', 'pay', (SELECT ivan FROM ids))$$,
    'IF005', NULL, 'the router cannot make the initiator the payer');
SELECT throws_ok(
    $$SELECT invoiceflow.daemon_create_task((SELECT i5 FROM ids), 'pay4', 'pay', (SELECT uma FROM ids), (SELECT ivan FROM ids))$$,
    'IF005', NULL, 'nor give a pay task to someone acting for the initiator');
RESET SESSION AUTHORIZATION;

-- D. No silent admin bypass ----------------------------------------------------------------------------

SET SESSION AUTHORIZATION ifp_adam;
SELECT throws_ok($$SELECT invoiceflow.decide_task((SELECT i4_task FROM ids), 'approve')$$, '42501', NULL,
    'the admin cannot decide a task');
SELECT throws_ok($$SELECT invoiceflow.record_payment((SELECT i5 FROM ids), 1000, current_date, 'п/п 7')$$, '42501', NULL,
    'the admin cannot record a payment');
SELECT throws_ok($$SELECT invoiceflow.daemon_set_stage((SELECT i4 FROM ids), 'payment')$$, '42501', NULL,
    'the admin cannot move an invoice''s stage');
SELECT throws_ok($$UPDATE invoiceflow.invoice SET stage = 'payment' WHERE id = (SELECT i4 FROM ids)$$, '42501', NULL,
    'the admin cannot change an invoice row');
SELECT throws_ok('SET ROLE invoiceflow_owner', '42501', NULL, 'the admin cannot become the owner');
SELECT throws_ok($$DELETE FROM invoiceflow.audit_log WHERE session_role = 'ifp_adam'$$, '42501', NULL,
    'the admin cannot remove the traces of administration');
RESET SESSION AUTHORIZATION;
SELECT is(
    (SELECT count(*)::integer FROM invoiceflow.audit_log
     WHERE session_role = 'ifp_adam' AND action IN ('add_substitution', 'assign')),
    4, 'each of the admin''s four actions so far left an audit row naming the admin''s session');

-- An admin who initiated the invoice is held to the same rule: Ivan, made admin, makes himself Rita's
-- deputy (Olga's slot is ended first) and tries to approve I4, his own intercompany invoice.
GRANT invoiceflow_admin TO ifp_ivan;
UPDATE invoiceflow.substitution SET valid = tstzrange(lower(valid), now() - interval '1 second')
WHERE absent_employee_id = (SELECT rita FROM ids) AND deputy_employee_id = (SELECT olga FROM ids);
SET SESSION AUTHORIZATION ifp_ivan;
SELECT throws_ok($$SELECT invoiceflow.decide_task((SELECT i4_task FROM ids), 'approve')$$, 'IF002', NULL,
    'the admin-initiator cannot decide Rita''s task while not her deputy');
SELECT throws_ok(
    $$SELECT invoiceflow.add_substitution((SELECT rita FROM ids), (SELECT ivan FROM ids), now(), now() + interval '1 day',
        'I cover for Rita')$$,
    'IF005', NULL, 'an admin cannot make themself anyone''s deputy (no self-granted authority)');
SELECT throws_ok(
    $$SELECT invoiceflow.add_substitution((SELECT ivan FROM ids), (SELECT sasha FROM ids), now(), now() + interval '1 day',
        'someone covers for me')$$,
    'IF005', NULL, 'nor arrange their own substitution (they are the absent side)');
SELECT throws_ok($$SELECT invoiceflow.assign_employee((SELECT ivan FROM ids), (SELECT ho_finance FROM ids), 'cfo')$$,
    'IF005', NULL, 'nor assign themself a position');
SELECT ok(pg_temp.sqlstate_of($$SELECT invoiceflow.decide_task((SELECT i4_task FROM ids), 'approve')$$)
        IN ('IF002', 'IF005'),
    'whatever the admin tried, approving his own invoice stays refused');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT outcome::text FROM invoiceflow.task WHERE id = (SELECT i4_task FROM ids)), NULL,
    'Rita''s task on I4 is still open');

-- An admin who is no employee cannot register their own login role as an employee to act on invoices.
SET SESSION AUTHORIZATION ifp_adam;
SELECT throws_ok($$SELECT invoiceflow.hire_employee('Адам Админов', 'adam@example.test', 'ifp_adam')$$, 'IF005', NULL,
    'the admin cannot hire themself (their own login role) as an employee');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
