-- 12_personas_commands.sql: what every persona is REFUSED (and allowed) through the commands.
--
-- Table-driven: for each command on one fixture invoice, the personas that may run it ("ok") and those
-- that see the invoice but have no right to act ("IF002"); everyone else must be told the invoice or
-- task does not exist for them ("IF007", existence is not disclosed). Independent of the invoice:
-- the admin group has no EXECUTE on people's commands (42501); auditors, a login without an employee
-- and the daemon acting for nobody are refused as such (IF002). The daemon acting for Ivan is Ivan.
-- Functions reserved to one group (administration, audit verification, the router's) are checked the
-- same way: their group may, everyone else has no EXECUTE (42501).
-- Every attempt runs in its own subtransaction and is undone, so each starts from the fixture.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/personas.sql

CREATE TEMPORARY TABLE cmd_ids ON COMMIT DROP AS
SELECT
    (SELECT id FROM persona_invoice WHERE label = 'I1') AS i1,
    (SELECT id FROM persona_invoice WHERE label = 'I2') AS i2,
    (SELECT id FROM persona_invoice WHERE label = 'I3') AS i3,
    (SELECT id FROM persona_invoice WHERE label = 'I5') AS i5,
    (SELECT t.id FROM invoiceflow.task AS t JOIN persona_invoice AS l ON l.id = t.invoice_id
     WHERE l.label = 'I2' AND t.outcome IS NULL) AS t2,
    (SELECT t.id FROM invoiceflow.task AS t JOIN persona_invoice AS l ON l.id = t.invoice_id
     WHERE l.label = 'I3' AND t.outcome IS NULL) AS t3,
    (SELECT t.id FROM invoiceflow.task AS t JOIN persona_invoice AS l ON l.id = t.invoice_id
     WHERE l.label = 'I4' AND t.outcome IS NULL) AS t4,
    (SELECT t.id FROM invoiceflow.task AS t JOIN persona_invoice AS l ON l.id = t.invoice_id
     WHERE l.label = 'I6' AND t.outcome IS NULL) AS t6,
    (SELECT employee_id FROM persona WHERE login_role = 'ifp_uma') AS uma;
GRANT SELECT ON cmd_ids TO PUBLIC;

-- (command, statement, who may, who sees it but may not)
CREATE TEMPORARY TABLE command_case (command text PRIMARY KEY, statement text, ok text[], refused text[],
    by_role boolean NOT NULL DEFAULT false) ON COMMIT DROP;
INSERT INTO command_case (command, statement, ok, refused) VALUES
    ('edit_draft I1', $$SELECT invoiceflow.edit_draft((SELECT i1 FROM cmd_ids), p_purpose => 'edited')$$,
        '{ifp_ivan}', '{}'),
    ('submit_invoice I1', $$SELECT invoiceflow.submit_invoice((SELECT i1 FROM cmd_ids))$$,
        '{ifp_ivan}', '{}'),
    ('withdraw_invoice I2', $$SELECT invoiceflow.withdraw_invoice((SELECT i2 FROM cmd_ids), 'not needed')$$,
        '{ifp_ivan}', '{ifp_petr,ifp_sasha,ifp_kate,ifp_cora}'),
    ('return_for_rework I2', $$SELECT invoiceflow.return_for_rework((SELECT i2 FROM cmd_ids), 'fix the date')$$,
        '{ifp_ivan,ifp_petr,ifp_sasha}', '{ifp_kate,ifp_cora}'),
    ('add_comment I3', $$SELECT invoiceflow.add_comment((SELECT i3 FROM cmd_ids), 'a remark')$$,
        '{ifp_olga,ifp_rita}', '{}'),
    ('decide_task I2 (Petr''s)', $$SELECT invoiceflow.decide_task((SELECT t2 FROM cmd_ids), 'approve')$$,
        '{ifp_petr,ifp_sasha}', '{ifp_ivan,ifp_kate,ifp_cora}'),
    ('decide_task I3 (Rita''s, operating expenses)', $$SELECT invoiceflow.decide_task((SELECT t3 FROM cmd_ids), 'approve')$$,
        '{ifp_rita}', '{ifp_olga}'),
    ('decide_task I4 (Rita''s, intercompany)', $$SELECT invoiceflow.decide_task((SELECT t4 FROM cmd_ids), 'approve')$$,
        '{ifp_rita,ifp_vera}', '{ifp_ivan,ifp_petr,ifp_sasha,ifp_kate,ifp_cora}'),
    ('decide_task I6 (Cora''s, payroll)', $$SELECT invoiceflow.decide_task((SELECT t6 FROM cmd_ids), 'approve')$$,
        '{ifp_cora}', '{ifp_paul}'),
    ('delegate_task I2 to Uma', $$SELECT invoiceflow.delegate_task((SELECT t2 FROM cmd_ids), (SELECT uma FROM cmd_ids), 'away')$$,
        '{ifp_petr,ifp_sasha}', '{ifp_ivan,ifp_kate,ifp_cora}'),
    ('record_payment I5', $$SELECT invoiceflow.record_payment((SELECT i5 FROM cmd_ids), 1000, current_date, 'п/п 1')$$,
        '{ifp_kate}', '{ifp_ivan,ifp_petr,ifp_sasha,ifp_cora}'),
    ('record_closing_document I5',
        $$SELECT invoiceflow.record_closing_document((SELECT i5 FROM cmd_ids), 'upd', 'УПД-5', current_date)$$,
        '{ifp_ivan}', '{ifp_petr,ifp_sasha,ifp_kate,ifp_cora}');

-- Functions of one group only (administration, audit checks, the router's): granted by role, so the lists
-- name session roles (the daemon acting for Ivan is still the daemon) and everyone else lacks EXECUTE.
INSERT INTO command_case (command, statement, ok, refused, by_role) VALUES
    ('hire_employee', $$SELECT invoiceflow.hire_employee('Новый Сотрудник', 'new@example.test')$$,
        '{ifp_adam}', '{}', true),
    ('add_counterparty',
        $$SELECT invoiceflow.add_counterparty('ООО «Новый»', '7701234560', '770101001', '044525225', '40702810538000054321')$$,
        '{ifp_adam}', '{}', true),
    ('audit_verify', $$SELECT * FROM invoiceflow.audit_verify()$$,
        '{ifp_alex,ifp_adam,invoiceflow_daemon}', '{}', true),
    ('audit_head', $$SELECT * FROM invoiceflow.audit_head()$$,
        '{ifp_alex,ifp_adam,invoiceflow_daemon}', '{}', true),
    ('daemon_claim_work', $$SELECT * FROM invoiceflow.daemon_claim_work('probe')$$,
        '{invoiceflow_daemon}', '{}', true);

CREATE TEMPORARY TABLE actor ON COMMIT DROP AS
SELECT p.login_role AS session_role, NULL::text AS acting_for, p.login_role AS name
FROM persona AS p
UNION ALL
SELECT 'invoiceflow_daemon', NULL, 'invoiceflow_daemon (acting for nobody)'
UNION ALL
SELECT 'invoiceflow_daemon', 'ifp_ivan', 'invoiceflow_daemon (acting for ifp_ivan)';

CREATE TEMPORARY TABLE command_expectation ON COMMIT DROP AS
SELECT a.name AS actor, c.command,
    CASE
        WHEN c.by_role THEN CASE WHEN a.session_role = ANY (c.ok) THEN 'ok' ELSE '42501' END
        WHEN a.session_role = 'ifp_adam' THEN '42501'
        WHEN a.session_role IN ('ifp_alex', 'ifp_ghost') OR (a.session_role = 'invoiceflow_daemon' AND a.acting_for IS NULL)
            THEN 'IF002'
        WHEN coalesce(a.acting_for, a.session_role) = ANY (c.ok) THEN 'ok'
        WHEN coalesce(a.acting_for, a.session_role) = ANY (c.refused) THEN 'IF002'
        ELSE 'IF007'
    END AS expected
FROM actor AS a
CROSS JOIN command_case AS c;

CREATE TEMPORARY TABLE command_attempt (actor text, command text, outcome text) ON COMMIT DROP;
DO $$
DECLARE
    a record;
    c record;
    outcome text;
    actors text[] := '{}';
    commands text[] := '{}';
    outcomes text[] := '{}';
BEGIN
    FOR a IN SELECT * FROM actor ORDER BY name LOOP
        FOR c IN SELECT * FROM command_case ORDER BY command LOOP
            BEGIN
                EXECUTE format('SET SESSION AUTHORIZATION %I', a.session_role);
                IF a.acting_for IS NOT NULL THEN
                    PERFORM set_config('invoiceflow.acting_employee',
                        (SELECT p.employee_id::text FROM persona AS p WHERE p.login_role = a.acting_for), true);
                END IF;
                EXECUTE c.statement;
                RAISE EXCEPTION USING ERRCODE = 'ZZ999';
            EXCEPTION WHEN OTHERS THEN
                outcome := CASE SQLSTATE WHEN 'ZZ999' THEN 'ok' ELSE SQLSTATE END;
            END;
            actors := actors || a.name;
            commands := commands || c.command;
            outcomes := outcomes || outcome;
        END LOOP;
    END LOOP;
    INSERT INTO command_attempt SELECT * FROM unnest(actors, commands, outcomes);
END
$$;

SELECT plan((SELECT count(*)::integer FROM command_expectation) + 2);

SELECT is(session_user::text, 'postgres', 'the attempts left the session as the superuser');
SELECT is(
    (SELECT count(*)::integer FROM command_attempt WHERE outcome = 'ok'),
    (SELECT count(*)::integer FROM command_expectation WHERE expected = 'ok'),
    'as many commands succeeded as the matrix allows');

SELECT is(t.outcome, e.expected, format('%s: %s → %s', e.actor, e.command, e.expected))
FROM command_expectation AS e
LEFT JOIN command_attempt AS t ON t.actor = e.actor AND t.command = e.command
ORDER BY e.command, e.actor;

SELECT * FROM finish();
ROLLBACK;
