-- 80_action_links.sql: deciding from an email link (migration 0070). Only the daemon redeems a link;
-- a link acts once, in the transaction of the decision and its audit row (channel email_link, the
-- recipient as actor); a replay, an expired link and a link whose invoice content changed since its
-- task was created are refused and leave nothing behind; the command's own checks (right, stage,
-- comment) still apply; the invoice fingerprint ignores stage moves and follows content changes.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(28);

\ir fixtures/personas.sql

SELECT i.id AS i1, (SELECT id FROM persona_invoice WHERE label = 'I2') AS i2,
       (SELECT t.id FROM invoiceflow.task AS t JOIN persona_invoice AS p ON p.id = t.invoice_id
        WHERE p.label = 'I2' AND t.outcome IS NULL) AS t2,
       (SELECT t.id FROM invoiceflow.task AS t JOIN persona_invoice AS p ON p.id = t.invoice_id
        WHERE p.label = 'I3' AND t.outcome IS NULL) AS t3,
       (SELECT employee_id FROM persona WHERE login_role = 'ifp_petr') AS petr,
       (SELECT employee_id FROM persona WHERE login_role = 'ifp_rita') AS rita,
       (SELECT employee_id FROM persona WHERE login_role = 'ifp_uma') AS uma,
       (SELECT employee_id FROM persona WHERE login_role = 'ifp_ivan') AS ivan
FROM persona_invoice AS i WHERE i.label = 'I1' \gset

-- The fingerprint and the per-task record -------------------------------------------------------------

SELECT is((SELECT count(*)::integer FROM invoiceflow_private.task_content), (SELECT count(*)::integer FROM invoiceflow.task),
    'every task records the invoice content it was created for');
SELECT is((SELECT fingerprint FROM invoiceflow_private.task_content WHERE task_id = :t2),
    invoiceflow_private.invoice_fingerprint(:i2), 'the recorded fingerprint is the invoice''s current one');
SELECT matches(invoiceflow_private.invoice_fingerprint(:i1), '^[0-9a-f]{16}$', 'a fingerprint is 16 hex digits');
CREATE TEMPORARY TABLE fp AS SELECT invoiceflow_private.invoice_fingerprint(:i1) AS before;
UPDATE invoiceflow.invoice SET stage = 'withdrawn' WHERE id = :i1;
UPDATE invoiceflow.invoice SET stage = 'draft' WHERE id = :i1;
SELECT is(invoiceflow_private.invoice_fingerprint(:i1), (SELECT before FROM fp),
    'stage moves (and the version bumps they cause) leave the fingerprint alone');
UPDATE invoiceflow.invoice SET amount_minor = amount_minor + 1 WHERE id = :i1;
SELECT isnt(invoiceflow_private.invoice_fingerprint(:i1), (SELECT before FROM fp), 'a content change changes it');
SELECT is(invoiceflow_private.invoice_fingerprint(-1), NULL, 'an unknown invoice has none');

-- Only the daemon ------------------------------------------------------------------------------------

SET SESSION AUTHORIZATION ifp_petr;
SELECT throws_ok(format($$SELECT invoiceflow.daemon_act_on_link(repeat('a', 32), %s, %s, now() + interval '1 hour', 'approve')$$,
    :t2, :petr), '42501', NULL, 'the task''s own holder cannot call the link function from SQL');
SELECT throws_ok(format('SELECT * FROM invoiceflow.daemon_action_link_state(%s)', :t2), '42501', NULL,
    'nor read the link state');
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT results_eq(format('SELECT invoice_id, kind, assignee_id, outcome, stale, stage FROM invoiceflow.daemon_action_link_state(%s)', :t2),
    format($$VALUES (%s::bigint, 'approve'::text, %s::bigint, NULL::text, false, 'approval'::text)$$, :i2, :petr),
    'the daemon reads the state of a link''s task without acting for anyone');
SELECT is_empty('SELECT * FROM invoiceflow.daemon_action_link_state(-1)', 'no row for an unknown task');

-- Refusals that leave nothing behind ------------------------------------------------------------------

SELECT throws_ok(format($$SELECT invoiceflow.daemon_act_on_link(repeat('b', 32), %s, %s, now() - interval '1 second', 'approve')$$,
    :t2, :petr), 'IF001', NULL, 'an expired link is refused even when the daemon would pass it');
SELECT throws_ok(format($$SELECT invoiceflow.daemon_act_on_link('not-hex', %s, %s, now() + interval '1 hour', 'approve')$$,
    :t2, :petr), 'IF001', NULL, 'a malformed link id is refused');
SELECT throws_ok(format($$SELECT invoiceflow.daemon_act_on_link(repeat('b', 32), %s, %s, now() + interval '1 hour', 'pay')$$,
    :t2, :petr), 'IF001', NULL, 'only the decisions of the page exist');
SELECT throws_ok(format($$SELECT invoiceflow.daemon_act_on_link(repeat('b', 32), %s, %s, now() + interval '1 hour', 'reject')$$,
    :t2, :petr), 'IF001', NULL, 'a rejection without a comment is refused by decide_task');
SELECT throws_ok(format($$SELECT invoiceflow.daemon_act_on_link(repeat('b', 32), %s, %s, now() + interval '1 hour', 'approve')$$,
    :t2, :uma), 'IF007', NULL, 'a link for someone who cannot see the invoice decides nothing');
SELECT throws_ok(format($$SELECT invoiceflow.daemon_act_on_link(repeat('b', 32), %s, %s, now() + interval '1 hour', 'approve')$$,
    :t2, :ivan), 'IF002', NULL, 'a link for someone who sees it but does not hold the task decides nothing');
SELECT throws_ok(format($$SELECT invoiceflow.daemon_act_on_link(repeat('b', 32), -1, %s, now() + interval '1 hour', 'approve')$$,
    :petr), 'IF007', NULL, 'an unknown task');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*)::integer FROM invoiceflow_private.action_link_use), 0, 'no refused attempt marked a link used');
SELECT is((SELECT outcome::text FROM invoiceflow.task WHERE id = :t2), NULL, 'and the task is still open');

-- One use ---------------------------------------------------------------------------------------------

CREATE TEMPORARY TABLE audit_before AS SELECT max(id) AS id FROM invoiceflow.audit_log;
GRANT SELECT ON audit_before TO PUBLIC;
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT lives_ok(format($$SELECT invoiceflow.daemon_act_on_link(repeat('c', 32), %s, %s, now() + interval '1 hour', 'approve')$$,
    :t2, :petr), 'the holder''s link approves');
SELECT is(invoiceflow.current_employee_id(), NULL, 'and the daemon acts for nobody afterwards in the transaction');
SELECT throws_ok(format($$SELECT invoiceflow.daemon_act_on_link(repeat('c', 32), %s, %s, now() + interval '1 hour', 'approve')$$,
    :t2, :petr), 'IF006', 'this link was already used', 'a replay of the same link is refused');
SELECT throws_ok(format($$SELECT invoiceflow.daemon_act_on_link(repeat('d', 32), %s, %s, now() + interval '1 hour', 'approve')$$,
    :t2, :petr), 'IF006', NULL, 'another link for the decided task is refused too');
RESET SESSION AUTHORIZATION;
SELECT results_eq(
    format($$SELECT action, channel, actor_employee_id, session_role::text COLLATE "default" FROM invoiceflow.audit_log
             WHERE id > (SELECT id FROM audit_before) ORDER BY id$$),
    format($$VALUES ('approve'::text, 'email_link'::text, %s::bigint, 'invoiceflow_daemon'::text)$$, :petr),
    'exactly one audit row: the approval, by the recipient, through the email link');
SELECT results_eq('SELECT token_id, action FROM invoiceflow_private.action_link_use',
    $$VALUES (repeat('c', 32), 'approve'::text)$$, 'the used link is recorded once');

-- A changed invoice ----------------------------------------------------------------------------------

-- Content cannot change in approval; pretend the task was created for other content.
UPDATE invoiceflow_private.task_content SET fingerprint = '0000000000000000' WHERE task_id = :t3;
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT is((SELECT stale FROM invoiceflow.daemon_action_link_state(:t3)), true, 'the state says the link is stale');
SELECT throws_ok(format($$SELECT invoiceflow.daemon_act_on_link(repeat('e', 32), %s, %s, now() + interval '1 hour', 'approve')$$,
    :t3, :rita), 'IF006', NULL, 'a stale link is refused');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT outcome::text FROM invoiceflow.task WHERE id = :t3), NULL, 'and decides nothing');

SELECT * FROM finish();
ROLLBACK;
