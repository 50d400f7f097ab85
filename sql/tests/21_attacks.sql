-- 21_attacks.sql: attacks by people who have a SQL prompt (security-anchors.md §0 items 1–3, §2.2–2.3).
--
--   A. The forged identity setting: anyone may set invoiceflow.acting_employee; only the daemon's
--      session is believed (invariant 5). Also role switching to the daemon or the owner.
--   B. The search_path hijack: temporary objects that shadow names used by SECURITY DEFINER functions.
--      TEMP is revoked, so first that; then, as if TEMP had been granted by mistake, shadows of every
--      table name and of common type names must not capture any definer function. Two deliberately
--      vulnerable functions prove that the trap would spring.
--   C. Writing around the commands: COPY, writable CTEs, row locks and table locks, the auditor.
--   D. Payroll invoices stay invisible to everyone but payroll roles, the CEO and auditors, whatever
--      the way of looking (tables, helpers, statistics, commands' error messages).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/personas.sql

-- Ids the assertions need, readable by everyone in this session.
CREATE TEMPORARY TABLE ids ON COMMIT DROP AS
SELECT
    (SELECT employee_id FROM persona WHERE login_role = 'ifp_ivan') AS ivan,
    (SELECT employee_id FROM persona WHERE login_role = 'ifp_kate') AS kate,
    (SELECT employee_id FROM persona WHERE login_role = 'ifp_alex') AS alex,
    (SELECT employee_id FROM persona WHERE login_role = 'ifp_uma') AS uma,
    (SELECT id FROM persona_invoice WHERE label = 'I2') AS i2,
    (SELECT id FROM persona_invoice WHERE label = 'I6') AS i6,
    (SELECT id FROM invoiceflow.counterparty WHERE name LIKE '%(C2)') AS c2,
    (SELECT id FROM invoiceflow.subdivision WHERE code = 'ifp_ho') AS ho;
GRANT SELECT ON ids TO PUBLIC;

-- A deactivated employee, for the daemon's side of the rule.
INSERT INTO invoiceflow.employee (login_role, full_name, email, active)
VALUES (NULL, 'Уволенный Сотрудник', 'gone@example.test', false);
CREATE TEMPORARY TABLE gone ON COMMIT DROP AS
SELECT id FROM invoiceflow.employee WHERE email = 'gone@example.test';
GRANT SELECT ON gone TO PUBLIC;

-- The definer-function sweep in B adds one assertion per (caller, function), the two controls included.
SELECT plan(73 + 4 * (2 + (SELECT count(*)::integer FROM pg_catalog.pg_proc AS p
                           JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
                           WHERE n.nspname LIKE 'invoiceflow%' AND p.prosecdef AND p.prokind = 'f')));

-- A. The forged identity setting ---------------------------------------------------------------------

SET SESSION AUTHORIZATION ifp_ivan;
SELECT is(invoiceflow.current_employee_id(), (SELECT ivan FROM ids), 'Ivan is Ivan');
SELECT FROM set_config('invoiceflow.acting_employee', (SELECT kate::text FROM ids), true);
SELECT is(invoiceflow.current_employee_id(), (SELECT ivan FROM ids),
    'Ivan setting invoiceflow.acting_employee to Kate (transaction-local) is still Ivan');
SELECT FROM set_config('invoiceflow.acting_employee', (SELECT alex::text FROM ids), false);
SELECT is(invoiceflow.current_employee_id(), (SELECT ivan FROM ids),
    'Ivan setting it session-wide to the auditor is still Ivan');
SELECT is(
    (SELECT string_agg(l.label, ' ' ORDER BY l.label) FROM invoiceflow.invoice AS i
     JOIN persona_invoice AS l ON l.id = i.id),
    'I1 I2 I4 I5 I8 I9',
    'with the forged setting Ivan sees exactly his own invoices, not the auditor''s view');
SELECT is(
    (SELECT count(*)::integer FROM invoiceflow.audit_log WHERE invoice_id IS NULL), 0,
    'with the forged setting Ivan sees no administration audit rows');
SELECT FROM set_config('invoiceflow.channel', 'email_link', true);
SELECT is(invoiceflow.current_channel(), 'sql', 'Ivan cannot pass his session off as an e-mail link');
SELECT throws_ok('SET ROLE invoiceflow_daemon', '42501', NULL, 'Ivan cannot SET ROLE to the daemon');
SELECT throws_ok('SET ROLE invoiceflow_owner', '42501', NULL, 'Ivan cannot SET ROLE to the owner');
-- (SET SESSION AUTHORIZATION cannot be tested here: this session was authenticated as a superuser.)
RESET SESSION AUTHORIZATION;
SELECT FROM set_config('invoiceflow.acting_employee', '', false);
SELECT FROM set_config('invoiceflow.channel', '', false);

SET SESSION AUTHORIZATION ifp_ghost;
SELECT FROM set_config('invoiceflow.acting_employee', (SELECT alex::text FROM ids), true);
SELECT is(invoiceflow.current_employee_id(), NULL,
    'a login role that is no employee, forging the auditor''s id, is nobody');
SELECT is_empty('SELECT id FROM invoiceflow.invoice', 'the forger sees no invoice');
SELECT is_empty('SELECT id FROM invoiceflow.task', 'the forger sees no task');
SELECT is_empty('SELECT id FROM invoiceflow.audit_log', 'the forger sees no audit row');
SELECT is_empty('SELECT id FROM invoiceflow.employee', 'the forger sees not even the staff list');
SELECT throws_ok(
    $$SELECT invoiceflow.create_invoice('supplier_goods', (SELECT ho FROM ids), 'FORGED-1', date '2026-11-03',
        100, 'forged', p_counterparty_id => (SELECT c2 FROM ids))$$,
    'IF002', NULL, 'the forger cannot create an invoice in the auditor''s name');
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION ifp_alex;
SELECT FROM set_config('invoiceflow.acting_employee', (SELECT ivan::text FROM ids), true);
SELECT is(invoiceflow.current_employee_id(), (SELECT alex FROM ids),
    'the auditor forging Ivan''s id is still the auditor');
SELECT throws_ok(
    $$SELECT invoiceflow.create_invoice('supplier_goods', (SELECT ho FROM ids), 'FORGED-2', date '2026-11-03',
        100, 'forged', p_counterparty_id => (SELECT c2 FROM ids))$$,
    'IF002', NULL, 'the auditor forging Ivan''s id cannot create an invoice as Ivan (auditors write nothing)');
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION ifp_adam;
SELECT FROM set_config('invoiceflow.acting_employee', (SELECT ivan::text FROM ids), true);
SELECT is(invoiceflow.current_employee_id(), NULL, 'the admin (no employee) forging Ivan''s id is nobody');
SELECT throws_ok($$SELECT invoiceflow.submit_invoice((SELECT i2 FROM ids))$$, '42501', NULL,
    'the admin forging Ivan''s id cannot run Ivan''s commands (no EXECUTE)');
RESET SESSION AUTHORIZATION;

-- The rule works the other way too: the daemon is believed, and only for an active employee.
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT FROM set_config('invoiceflow.acting_employee', '', true);
SELECT is(invoiceflow.current_employee_id(), NULL, 'the daemon acting for nobody is nobody');
SELECT is_empty('SELECT id FROM invoiceflow.invoice', 'the daemon acting for nobody sees no invoice');
SELECT FROM set_config('invoiceflow.acting_employee', (SELECT ivan::text FROM ids), true);
SELECT is(invoiceflow.current_employee_id(), (SELECT ivan FROM ids), 'the daemon acting for Ivan is Ivan');
SELECT FROM set_config('invoiceflow.acting_employee', (SELECT id::text FROM gone), true);
SELECT is(invoiceflow.current_employee_id(), NULL, 'the daemon acting for a former employee is nobody');
SELECT is(
    ARRAY(SELECT coalesce(invoiceflow.current_employee_id()::text, 'NULL')
          FROM unnest(ARRAY['abc', '1 OR 1=1', '-1', '99999999999999999999', ' 1', '1e3', '0x10', '１']) AS v,
              LATERAL set_config('invoiceflow.acting_employee', v, true) AS s),
    ARRAY['NULL', 'NULL', 'NULL', 'NULL', 'NULL', 'NULL', 'NULL', 'NULL'],
    'garbage in the setting gives nobody, never an error and never someone');
SELECT FROM set_config('invoiceflow.channel', 'email_link', true);
SELECT is(invoiceflow.current_channel(), 'email_link', 'the daemon may mark its transaction as an e-mail link');
SELECT FROM set_config('invoiceflow.channel', 'sql', true);
SELECT is(invoiceflow.current_channel(), 'daemon', 'the daemon cannot pass its transaction off as a person''s session');
SELECT throws_ok('SET ROLE invoiceflow_owner', '42501', NULL, 'the daemon cannot SET ROLE to the owner');
SELECT throws_ok('SET ROLE invoiceflow_admin', '42501', NULL, 'the daemon cannot SET ROLE to the admin group');
RESET SESSION AUTHORIZATION;
SELECT FROM set_config('invoiceflow.acting_employee', '', false);
SELECT FROM set_config('invoiceflow.channel', '', false);

-- A person who has left keeps their login role for a while; the identity goes at once.
UPDATE invoiceflow.employee SET active = false WHERE login_role = 'ifp_uma';
SET SESSION AUTHORIZATION ifp_uma;
SELECT is(invoiceflow.current_employee_id(), NULL, 'a deactivated employee''s own login is nobody');
SELECT is_empty('SELECT id FROM invoiceflow.employee', 'a deactivated employee sees not even the staff list');
SELECT throws_ok($$SELECT invoiceflow.add_comment((SELECT i2 FROM ids), 'still here')$$, 'IF002', NULL,
    'a deactivated employee cannot run commands');
RESET SESSION AUTHORIZATION;
UPDATE invoiceflow.employee SET active = true WHERE login_role = 'ifp_uma';

-- Every audit row written by a command carries the real caller, not the forged one.
SET SESSION AUTHORIZATION ifp_ivan;
SELECT FROM set_config('invoiceflow.acting_employee', (SELECT kate::text FROM ids), true);
SELECT lives_ok($$SELECT invoiceflow.add_comment((SELECT i2 FROM ids), 'forged-setting probe')$$,
    'Ivan comments on his invoice with a forged setting in place');
RESET SESSION AUTHORIZATION;
SELECT FROM set_config('invoiceflow.acting_employee', '', false);
SELECT is(
    (SELECT format('%s/%s/%s', actor_employee_id, session_role, channel) FROM invoiceflow.audit_log
     WHERE invoice_id = (SELECT i2 FROM ids) AND action <> 'create' ORDER BY id DESC LIMIT 1),
    (SELECT format('%s/ifp_ivan/sql', ivan) FROM ids),
    'the audit row names Ivan, his own session and channel sql');

-- B. The search_path hijack --------------------------------------------------------------------------

SELECT ok(NOT has_database_privilege('ifp_ivan', current_database(), 'TEMP'), 'Ivan has no TEMP on the database');
SET SESSION AUTHORIZATION ifp_ivan;
SELECT throws_ok('CREATE TEMPORARY TABLE employee (id bigint)', '42501', NULL,
    'Ivan cannot create a temporary table to shadow one of ours');
SELECT throws_ok('CREATE FUNCTION pg_temp.now() RETURNS timestamptz LANGUAGE sql AS $f$SELECT NULL::timestamptz$f$',
    '42501', NULL, 'Ivan cannot create a temporary function');
RESET SESSION AUTHORIZATION;
SELECT is_empty(
    $$SELECT n.nspname FROM pg_catalog.pg_namespace AS n
      WHERE n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
          AND pg_catalog.has_schema_privilege('ifp_ivan', n.oid, 'CREATE')$$,
    'Ivan may CREATE in no schema at all (no leaky function, no shadow, anywhere)');

-- Suppose TEMP had been granted by mistake. Our own statements must not be captured either, so this
-- session looks in pg_catalog before pg_temp from now on; definer functions use their own setting.
GRANT TEMPORARY ON DATABASE :"DBNAME" TO ifp_ivan;
SET search_path = pg_catalog, pg_temp, public;

-- The trap: a function that raises HJ001 naming what captured the call.
CREATE FUNCTION pg_temp.hijacked(what text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    RAISE EXCEPTION 'hijacked through %', what USING ERRCODE = 'HJ001';
END
$f$;
GRANT EXECUTE ON FUNCTION pg_temp.hijacked(text) TO PUBLIC;

-- Two deliberately vulnerable definer functions, owned like ours: one with a path without pg_temp and
-- an unqualified table name (CVE-2007-2138 / T12), one with an empty path and a plpgsql variable of an
-- unqualified type (T24). They prove that the shadows below do capture what they should.
CREATE FUNCTION invoiceflow.zz_vulnerable_table() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = invoiceflow AS $f$ BEGIN RETURN (SELECT count(*) FROM employee); END $f$;
CREATE FUNCTION invoiceflow.zz_vulnerable_type() RETURNS integer LANGUAGE plpgsql SECURITY DEFINER
SET search_path = '' AS $f$ DECLARE v text := 'x'; BEGIN RETURN pg_catalog.length(v); END $f$;
ALTER FUNCTION invoiceflow.zz_vulnerable_table() OWNER TO invoiceflow_owner;
ALTER FUNCTION invoiceflow.zz_vulnerable_type() OWNER TO invoiceflow_owner;
GRANT EXECUTE ON FUNCTION invoiceflow.zz_vulnerable_table(), invoiceflow.zz_vulnerable_type() TO ifp_ivan, ifp_adam,
    invoiceflow_daemon;

-- Ivan lays the shadows: a view for every relation name of ours, a domain for common type names.
SET SESSION AUTHORIZATION ifp_ivan;
SELECT lives_ok($lay$
    DO $d$
    DECLARE
        r record;
        t text;
    BEGIN
        FOR r IN SELECT DISTINCT c.relname FROM pg_catalog.pg_class AS c
                 JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
                 WHERE n.nspname LIKE 'invoiceflow%' AND c.relkind IN ('r', 'p', 'v', 'm') LOOP
            EXECUTE pg_catalog.format('CREATE TEMPORARY VIEW %I AS SELECT NULL::bigint AS id WHERE pg_temp.hijacked(%L)',
                r.relname, 'relation ' || r.relname);
            EXECUTE pg_catalog.format('GRANT SELECT ON pg_temp.%I TO PUBLIC', r.relname);
        END LOOP;
        FOREACH t IN ARRAY ARRAY['text', 'name', 'jsonb', 'json', 'bytea', 'date', 'timestamptz', 'tstzrange',
                                 'regclass', 'regrole', 'inet', 'xid8', 'uuid', 'invoice_stage', 'task_kind',
                                 'task_outcome'] LOOP
            EXECUTE pg_catalog.format('CREATE DOMAIN pg_temp.%I AS pg_catalog.text CHECK (pg_temp.hijacked(%L))',
                t, 'type ' || t);
        END LOOP;
    END
    $d$$lay$, 'with TEMP, Ivan shadows every relation name of ours and common type names in pg_temp');
SELECT throws_ok('SELECT invoiceflow.zz_vulnerable_table()', 'HJ001', NULL,
    'control: a definer function with search_path = invoiceflow and an unqualified table IS captured');
SELECT throws_ok('SELECT invoiceflow.zz_vulnerable_type()', 'HJ001', NULL,
    'control: a definer function with search_path = '''' and a text variable IS captured (T24)');
SELECT is(invoiceflow.current_employee_id(), (SELECT ivan FROM ids),
    'with the shadows in place Ivan is still Ivan (identity function not captured)');
SELECT is(
    (SELECT string_agg(l.label, ' ' ORDER BY l.label) FROM invoiceflow.invoice AS i
     JOIN persona_invoice AS l ON l.id = i.id),
    'I1 I2 I4 I5 I8 I9',
    'with the shadows in place the policies still show Ivan exactly his invoices');
SELECT lives_ok(
    $$SELECT invoiceflow.create_invoice('supplier_goods', (SELECT ho FROM ids), 'SHADOW-1', date '2026-11-03',
        12345, 'created under shadows', p_counterparty_id => (SELECT c2 FROM ids))$$,
    'with the shadows in place Ivan''s create_invoice works normally');
RESET SESSION AUTHORIZATION;

-- Every SECURITY DEFINER function, called with NULL arguments by Ivan, the treasurer, the admin and
-- the daemon (acting for Ivan) with the shadows in place, must never fall into the trap. Errors such
-- as IF001 (missing argument) or 42501 (not theirs to call) are fine; HJ001 is not.
CREATE TEMPORARY TABLE definer_call (caller text, fn text, outcome text) ON COMMIT DROP;
DO $$
DECLARE
    c text;
    f record;
    outcome text;
    callers text[] := '{}';
    fns text[] := '{}';
    outcomes text[] := '{}';
BEGIN
    FOREACH c IN ARRAY ARRAY['ifp_ivan', 'ifp_kate', 'ifp_adam', 'invoiceflow_daemon'] LOOP
        FOR f IN SELECT p.oid::regprocedure::text AS sig, p.oid::regproc::text AS fname, p.pronargs
                 FROM pg_catalog.pg_proc AS p
                 JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
                 WHERE n.nspname LIKE 'invoiceflow%' AND p.prosecdef AND p.prokind = 'f'
                 ORDER BY 1 LOOP
            BEGIN
                EXECUTE pg_catalog.format('SET SESSION AUTHORIZATION %I', c);
                IF c = 'invoiceflow_daemon' THEN
                    PERFORM pg_catalog.set_config('invoiceflow.acting_employee',
                        (SELECT ivan::pg_catalog.text FROM ids), true);
                END IF;
                EXECUTE pg_catalog.format('SELECT * FROM %s(%s)', f.fname,
                    (SELECT pg_catalog.string_agg('NULL', ', ') FROM pg_catalog.generate_series(1, f.pronargs)));
                RAISE EXCEPTION USING ERRCODE = 'ZZ999';
            EXCEPTION WHEN OTHERS THEN
                outcome := CASE SQLSTATE WHEN 'ZZ999' THEN 'returned' ELSE SQLSTATE || ' ' || SQLERRM END;
            END;
            callers := callers || c;
            fns := fns || f.sig;
            outcomes := outcomes || outcome;
        END LOOP;
    END LOOP;
    INSERT INTO definer_call SELECT * FROM unnest(callers, fns, outcomes);
END
$$;
SELECT ok(d.outcome NOT LIKE 'HJ001%', pg_catalog.format('%s calling %s under the shadows is not captured (%s)',
    d.caller, d.fn, pg_catalog.left(d.outcome, 60)))
FROM definer_call AS d
WHERE d.fn NOT LIKE 'invoiceflow.zz\_vulnerable%'
ORDER BY d.caller, d.fn;
SELECT ok(d.outcome LIKE 'HJ001%', pg_catalog.format('control: %s calling %s in the same sweep IS captured',
    d.caller, d.fn))
FROM definer_call AS d
WHERE d.fn LIKE 'invoiceflow.zz\_vulnerable%'
ORDER BY d.caller, d.fn;

-- Clear the shadows before this session's default search_path (temp schema first) comes back.
DO $$
DECLARE
    o record;
BEGIN
    FOR o IN SELECT c.relname FROM pg_catalog.pg_class AS c
             WHERE c.relnamespace = pg_catalog.pg_my_temp_schema() AND c.relkind = 'v' LOOP
        EXECUTE pg_catalog.format('DROP VIEW pg_temp.%I', o.relname);
    END LOOP;
    FOR o IN SELECT t.typname FROM pg_catalog.pg_type AS t
             WHERE t.typnamespace = pg_catalog.pg_my_temp_schema() AND t.typtype = 'd' LOOP
        EXECUTE pg_catalog.format('DROP DOMAIN pg_temp.%I', o.typname);
    END LOOP;
END
$$;
DROP FUNCTION invoiceflow.zz_vulnerable_table(), invoiceflow.zz_vulnerable_type();
REVOKE TEMPORARY ON DATABASE :"DBNAME" FROM ifp_ivan;
RESET search_path;

-- C. Writing around the commands ---------------------------------------------------------------------

SET SESSION AUTHORIZATION ifp_ivan;
SELECT throws_ok($$WITH gone AS (DELETE FROM invoiceflow.task RETURNING id) SELECT count(*) FROM gone$$, '42501', NULL,
    'Ivan cannot delete through a writable CTE');
SELECT throws_ok($$SELECT id FROM invoiceflow.invoice FOR UPDATE$$, '42501', NULL,
    'Ivan cannot lock invoice rows FOR UPDATE (that would stall the commands of others)');
SELECT throws_ok($$SELECT id FROM invoiceflow.task FOR SHARE$$, '42501', NULL,
    'Ivan cannot lock task rows FOR SHARE');
SELECT throws_ok($$LOCK TABLE invoiceflow.invoice IN EXCLUSIVE MODE$$, '42501', NULL,
    'Ivan cannot LOCK the invoice table against everyone');
SELECT throws_ok($$LOCK TABLE invoiceflow.audit_log IN SHARE ROW EXCLUSIVE MODE$$, '42501', NULL,
    'Ivan cannot LOCK the audit log (which would stop every command)');
SELECT throws_ok($$SELECT invoiceflow.daemon_set_stage((SELECT i2 FROM ids), 'payment')$$, '42501', NULL,
    'Ivan cannot call the daemon''s stage function');
SELECT throws_ok($$SELECT invoiceflow.daemon_create_task((SELECT i2 FROM ids), 'x', 'approve', (SELECT uma FROM ids))$$,
    '42501', NULL, 'Ivan cannot call the daemon''s task function');
SELECT throws_ok($$SELECT * FROM invoiceflow.daemon_claim_work('ivan')$$, '42501', NULL,
    'Ivan cannot claim the daemon''s work items');
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION ifp_alex;
SELECT throws_ok(
    $$INSERT INTO invoiceflow.audit_log (entity, action, channel, prev_hash, hash) VALUES ('x', 'x', 'sql', '\x', '\x')$$,
    '42501', NULL, 'the auditor cannot add audit rows');
SELECT throws_ok($$UPDATE invoiceflow.invoice SET purpose = 'audited'$$, '42501', NULL, 'the auditor cannot edit invoices');
SELECT throws_ok($$SELECT invoiceflow.add_comment((SELECT i2 FROM ids), 'auditor remark')$$, 'IF002', NULL,
    'the auditor cannot even comment: auditors write nothing');
SELECT throws_ok(
    $$SELECT invoiceflow.decide_task((SELECT id FROM invoiceflow.task WHERE invoice_id = (SELECT i2 FROM ids)), 'approve')$$,
    'IF002', NULL, 'the auditor cannot decide a task');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc AS p
      JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
      WHERE n.nspname LIKE 'invoiceflow%' AND p.provolatile = 'v' AND p.prorettype <> 'pg_catalog.trigger'::regtype
          AND pg_catalog.has_function_privilege('ifp_alex', p.oid, 'EXECUTE')
          AND p.proname NOT IN ('create_invoice', 'edit_draft', 'add_attachment', 'add_comment', 'submit_invoice',
              'resubmit_invoice', 'withdraw_invoice', 'return_for_rework', 'decide_task', 'delegate_task',
              'record_payment', 'record_closing_document', 'close_invoice')$$,
    'besides the people''s commands (which refuse auditors, tested above) the auditor can run no volatile function');
RESET SESSION AUTHORIZATION;

-- D. Payroll stays among payroll roles, the CEO and auditors -----------------------------------------

ANALYZE invoiceflow.invoice;
SELECT isnt_empty($$SELECT attname FROM pg_catalog.pg_stats WHERE schemaname = 'invoiceflow' AND tablename = 'invoice'$$,
    'control: after ANALYZE the superuser does see the invoice table''s statistics');
SET SESSION AUTHORIZATION ifp_kate;
SELECT is_empty($$SELECT id FROM invoiceflow.invoice WHERE confidential$$,
    'the treasurer of the paying subdivision does not see the payroll invoice');
SELECT is(invoiceflow_private.invoice_visible((SELECT i6 FROM ids)), false,
    'the visibility helper tells the treasurer no for the payroll invoice');
SELECT is_empty($$SELECT id FROM invoiceflow.task WHERE invoice_id = (SELECT i6 FROM ids)$$,
    'the treasurer does not see the payroll invoice''s tasks');
SELECT is_empty($$SELECT id FROM invoiceflow.attachment WHERE invoice_id = (SELECT i6 FROM ids)$$,
    'the treasurer does not see the payroll invoice''s attachments');
SELECT is_empty($$SELECT id FROM invoiceflow.audit_log WHERE invoice_id = (SELECT i6 FROM ids)$$,
    'the treasurer does not see the payroll invoice''s history');
SELECT is_empty($$SELECT attname FROM pg_catalog.pg_stats WHERE schemaname = 'invoiceflow' AND tablename = 'invoice'$$,
    'planner statistics (most common values) of the invoice table are hidden from the treasurer');
-- An error-raising expression probes hidden rows only if it runs before the policy's filter. I6 (600 000,
-- hidden) is the only invoice for which the division below fails.
SELECT lives_ok(
    $$SELECT count(*) FROM invoiceflow.invoice WHERE 1 / (amount_minor - 600000) IS NOT NULL$$,
    'a division-by-zero probe aimed at the payroll amount does not fire: the policy filters first');
SELECT lives_ok(
    $$SELECT count(*) FROM invoiceflow.invoice_card WHERE 1 / (amount_minor - 600000) IS NOT NULL$$,
    'nor through the invoice card view');
SELECT throws_like(
    $$SELECT invoiceflow.create_invoice('supplier_goods', (SELECT ho FROM ids), 'IFP-I6', date '2026-11-02', 600000,
        'probe', p_counterparty_id => (SELECT c2 FROM ids))$$,
    '%existing invoice%',
    'a duplicate of the payroll invoice is refused without naming it to the treasurer');
SELECT throws_ok($$SELECT invoiceflow.add_comment((SELECT i6 FROM ids), 'probe')$$, 'IF007', NULL,
    'commenting on the payroll invoice: the treasurer is told it is not there');
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION ifp_petr;
SELECT is_empty($$SELECT id FROM invoiceflow.invoice WHERE confidential$$, 'the approver does not see payroll');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ifp_uma;
SELECT is_empty($$SELECT id FROM invoiceflow.invoice WHERE confidential$$, 'an unrelated employee does not see payroll');
RESET SESSION AUTHORIZATION;

SELECT throws_ok($$SELECT count(*) FROM invoiceflow.invoice WHERE 1 / (amount_minor - 600000) IS NOT NULL$$, '22012', NULL,
    'control: for the superuser, who sees I6, the same probe fires');

-- Positive controls: the people who must see it do.
SET SESSION AUTHORIZATION ifp_paul;
SELECT isnt_empty($$SELECT id FROM invoiceflow.invoice WHERE id = (SELECT i6 FROM ids)$$,
    'the payroll accountant sees the payroll invoice');
SELECT throws_like(
    $$SELECT invoiceflow.create_invoice('payroll', (SELECT ho FROM ids), 'IFP-I6', date '2026-11-02', 600000,
        'probe', p_counterparty_id => (SELECT c2 FROM ids))$$,
    '%as invoice%',
    'the same duplicate is named to the payroll accountant, who may see it');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ifp_cora;
SELECT isnt_empty($$SELECT id FROM invoiceflow.invoice WHERE id = (SELECT i6 FROM ids)$$, 'the CEO sees the payroll invoice');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ifp_alex;
SELECT isnt_empty($$SELECT id FROM invoiceflow.invoice WHERE id = (SELECT i6 FROM ids)$$, 'the auditor sees the payroll invoice');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
