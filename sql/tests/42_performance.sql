-- 42_performance.sql: policy performance. With 200 000 invoices (and a task each) loaded inside the test
-- transaction and ANALYZEd, "my invoices" and "my tasks" for one person are index scans under RLS.
-- The assertions are on the plan (EXPLAIN (FORMAT JSON)), never on time; the measured times are printed
-- as diagnostics.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(19);

-- 1 000 synthetic initiators and 500 synthetic approvers (no login roles: they never query).
INSERT INTO invoiceflow.employee (full_name, email)
SELECT 'Load ' || g, 'load' || g || '@example.test' FROM generate_series(1, 1500) AS g;
-- Identity values of one INSERT are consecutive here (no concurrent inserts), so a person is base + offset.
SELECT min(id) AS base FROM invoiceflow.employee WHERE full_name LIKE 'Load %' \gset
SELECT is((SELECT max(id) - min(id) FROM invoiceflow.employee WHERE full_name LIKE 'Load %'), 1499::bigint,
    'the synthetic people have consecutive ids');

SELECT fx.sub('ho') AS ho, fx.sub('wh') AS wh, fx.cp('medsupply') AS medsupply, fx.cp('cleanco') AS cleanco,
    (SELECT id FROM invoiceflow.invoice_type WHERE code = 'supplier_goods') AS goods \gset
-- 200 000 invoices: anna gets one in 4 000 (50), the rest spread over the synthetic initiators.
INSERT INTO invoiceflow.invoice (invoice_type_id, paying_subdivision_id, counterparty_id, initiator_id, supplier_invoice_number,
    supplier_invoice_date, amount_minor, purpose, stage, submitted_at)
SELECT :goods, CASE WHEN g % 3 = 0 THEN :wh ELSE :ho END,
    CASE WHEN g % 2 = 0 THEN :medsupply ELSE :cleanco END,
    CASE WHEN g % 4000 = 0 THEN fx.emp('anna') ELSE :base + g % 1000 END,
    'LOAD-' || g, current_date - (g % 365), 1000 + g, 'load',
    (ARRAY['draft', 'approval', 'payment', 'closed']::invoiceflow.invoice_stage[])[1 + g % 4],
    CASE WHEN g % 4 <> 0 THEN now() END
FROM generate_series(1, 200000) AS g;
-- A task per invoice: boris holds about one in 3 000 (hash-spread over the stages), the rest go to the synthetic approvers.
INSERT INTO invoiceflow.task (invoice_id, step_key, kind, assignee_id, outcome, decided_at, decided_by)
SELECT i.id, 'load', 'approve',
    CASE WHEN abs(hashint8(i.id)) % 3000 = 0 THEN fx.emp('boris') ELSE :base + 1000 + i.id % 500 END,
    CASE WHEN i.stage = 'approval' THEN NULL ELSE 'approved'::invoiceflow.task_outcome END,
    CASE WHEN i.stage = 'approval' THEN NULL ELSE now() END,
    CASE WHEN i.stage = 'approval' THEN NULL
         ELSE (CASE WHEN abs(hashint8(i.id)) % 3000 = 0 THEN fx.emp('boris') ELSE :base + 1000 + i.id % 500 END) END
FROM invoiceflow.invoice AS i WHERE i.purpose = 'load' AND i.stage <> 'draft';
-- A payment per closed invoice (50 000), loaded without the per-row guard (this transaction is rolled back), so
-- the payment table's statistics are this test's own: left to autovacuum, a run after other suites found it
-- analyzed nearly empty, and a sequential scan of a near-empty table is then the right plan.
SET LOCAL session_replication_role = replica;
INSERT INTO invoiceflow.payment (invoice_id, paid_on, reference, amount_minor, currency, recorded_by)
SELECT i.id, current_date, 'LOAD-PP-' || i.id, i.amount_minor, 'RUB', fx.emp('treasurer')
FROM invoiceflow.invoice AS i WHERE i.purpose = 'load' AND i.stage = 'closed';
SET LOCAL session_replication_role = origin;
ANALYZE invoiceflow.payment;
ANALYZE invoiceflow.invoice;
ANALYZE invoiceflow.task;
ANALYZE invoiceflow.employee;
ANALYZE invoiceflow.substitution;
ANALYZE invoiceflow.assignment;

SELECT is((SELECT count(*) FROM invoiceflow.invoice), 200010::bigint, '200 000 invoices are loaded (plus the fixture''s)');

-- The plan of a query as the current persona, and facts about it.
CREATE FUNCTION fx.plan_of(p_sql text, p_analyze boolean DEFAULT false) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v jsonb;
BEGIN
    EXECUTE format('EXPLAIN (FORMAT JSON%s) %s', CASE WHEN p_analyze THEN ', ANALYZE' ELSE '' END, p_sql) INTO v;
    RETURN v;
END
$$;
CREATE FUNCTION fx.scans(p_plan jsonb) RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(DISTINCT s ORDER BY s) FROM (
        SELECT concat_ws(' ', n ->> 'Node Type', n ->> 'Relation Name', n ->> 'Index Name') AS s
        FROM jsonb_path_query(p_plan, 'strict $.**') AS n
        WHERE jsonb_typeof(n) = 'object' AND (n ? 'Relation Name' OR n ? 'Index Name')) AS x
$$;
GRANT EXECUTE ON FUNCTION fx.plan_of(text, boolean), fx.scans(jsonb) TO PUBLIC;

SET SESSION AUTHORIZATION fx_anna;
SELECT fx.plan_of('SELECT * FROM invoiceflow.my_invoices') AS mi_plan \gset
SELECT is((SELECT count(*) FROM invoiceflow.my_invoices), 57::bigint, 'anna''s my_invoices: her 50 loaded and 7 fixture invoices');
SELECT fx.plan_of('SELECT * FROM invoiceflow.my_invoices', true) AS mi_run \gset
SELECT fx.plan_of(format('SELECT * FROM invoiceflow.invoice_card WHERE id = %s', fx.inv('closed'))) AS card_plan \gset
RESET SESSION AUTHORIZATION;
SELECT ok(NOT EXISTS (SELECT FROM unnest(fx.scans(:'mi_plan')) AS s WHERE s LIKE 'Seq Scan invoice%'),
    'my_invoices never reads the invoice table sequentially');
SELECT ok(EXISTS (SELECT FROM unnest(fx.scans(:'mi_plan')) AS s WHERE s ~ '^(Bitmap )?Index( Only)? Scan (invoice )?invoice_initiator_idx$'),
    'my_invoices is an index scan on invoice_initiator_idx');
SELECT ok(NOT EXISTS (SELECT FROM unnest(fx.scans(:'mi_plan')) AS s WHERE s LIKE 'Seq Scan task%' OR s LIKE 'Seq Scan payment%'),
    'nor reads tasks or payments sequentially for its columns');
SELECT ok(EXISTS (SELECT FROM unnest(fx.scans(:'card_plan')) AS s WHERE s LIKE 'Index Scan invoice invoice_pkey'),
    'one invoice card is a primary-key lookup');
SELECT diag('my_invoices (anna, 57 rows of 200 010): ' || (:'mi_run'::jsonb -> 0 ->> 'Execution Time') || ' ms; plan: '
    || array_to_string(fx.scans(:'mi_plan'), ', '));

SELECT count(*) AS boris_open FROM invoiceflow.task WHERE assignee_id = fx.emp('boris') AND outcome IS NULL \gset
SET SESSION AUTHORIZATION fx_boris;
SELECT fx.plan_of('SELECT * FROM invoiceflow.my_tasks') AS mt_plan \gset
SELECT is((SELECT count(*) FROM invoiceflow.my_tasks), :boris_open::bigint,
    'boris''s my_tasks: exactly his open tasks, loaded and fixture ones');
SELECT fx.plan_of('SELECT * FROM invoiceflow.my_tasks', true) AS mt_run \gset
SELECT fx.plan_of('SELECT id FROM invoiceflow.invoice WHERE id = ANY (ARRAY[1, 2, 3]::bigint[])', true) AS vis_run \gset
RESET SESSION AUTHORIZATION;
SELECT ok(NOT EXISTS (SELECT FROM unnest(fx.scans(:'mt_plan')) AS s WHERE s LIKE 'Seq Scan task%'),
    'my_tasks never reads the task table sequentially');
SELECT ok(EXISTS (SELECT FROM unnest(fx.scans(:'mt_plan')) AS s WHERE s ~ '^(Bitmap )?Index Scan (task )?task_open_assignee_idx$'),
    'my_tasks is an index scan on the open-task index');
SELECT ok(NOT EXISTS (SELECT FROM unnest(fx.scans(:'mt_plan')) AS s WHERE s LIKE 'Seq Scan invoice%'),
    'and reaches the invoices through their primary key');
SELECT diag('my_tasks (boris, ' || :boris_open || ' rows of 150 000 tasks): ' || (:'mt_run'::jsonb -> 0 ->> 'Execution Time') || ' ms; plan: '
    || array_to_string(fx.scans(:'mt_plan'), ', '));

-- A deputy acts for two people: the index scan takes both ids.
SET SESSION AUTHORIZATION fx_vera;
SELECT fx.plan_of('SELECT * FROM invoiceflow.my_tasks', true) AS deputy_run \gset
SELECT is((SELECT count(*) FROM invoiceflow.my_tasks), :boris_open::bigint, 'vera, boris''s deputy, sees the same open tasks in my_tasks');
RESET SESSION AUTHORIZATION;
SELECT ok(NOT EXISTS (SELECT FROM unnest(fx.scans(:'deputy_run')) AS s WHERE s LIKE 'Seq Scan task%' OR s LIKE 'Seq Scan invoice%'),
    'a deputy''s my_tasks (two assignees) is index scans too');
SELECT diag('my_tasks (vera as deputy): ' || (:'deputy_run'::jsonb -> 0 ->> 'Execution Time') || ' ms');

SET SESSION AUTHORIZATION fx_treasurer;
SELECT fx.plan_of(format('SELECT * FROM invoiceflow.invoice_card WHERE id = %s', fx.inv('payment')), true) AS tcard_run \gset
SELECT is((SELECT count(*) FROM invoiceflow.invoice_card WHERE id = fx.inv('payment')), 1::bigint,
    'a treasurer opens a card of his subdivision');
RESET SESSION AUTHORIZATION;
SELECT diag('invoice_card by id (treasurer): ' || (:'tcard_run'::jsonb -> 0 ->> 'Execution Time') || ' ms');
SELECT diag('SELECT from invoice by ids (boris, policy with task helper): ' || (:'vis_run'::jsonb -> 0 ->> 'Execution Time') || ' ms');

-- The duplicate check of create, edit and submit (0080) is an index lookup by the receiver, not a pass over
-- every live invoice: a copy of a loaded invoice is refused as a duplicate without reading the invoice table
-- sequentially (this transaction's own scan counters), and the lookup's plan seeks by the counterparty.
CREATE FUNCTION fx.invoice_scans() RETURNS TABLE (seq bigint) LANGUAGE sql AS $$
    SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relid = 'invoiceflow.invoice'::regclass
$$;
SELECT id AS load2 FROM invoiceflow.invoice WHERE supplier_invoice_number = 'LOAD-2' \gset
SELECT seq AS seq0, clock_timestamp() AS dup_t0 FROM fx.invoice_scans() \gset
SELECT throws_ok($$SELECT invoiceflow_private.check_duplicate(
                       jsonb_populate_record(NULL::invoiceflow.invoice,
                           to_jsonb(i) - 'id' || jsonb_build_object('supplier_invoice_number', ' load-2 ')))
                   FROM invoiceflow.invoice AS i WHERE i.id = $$ || :load2,
    'IF004', NULL, 'a copy of one of 200 000 invoices is a duplicate');
SELECT diag('duplicate check at 200 010 invoices, first call with these statistics (planning included): '
    || round(extract(epoch FROM clock_timestamp() - :'dup_t0'::timestamptz) * 1000, 2) || ' ms');
SELECT is((SELECT seq FROM fx.invoice_scans()), :seq0::bigint,
    'found without a sequential scan of the invoices');
SELECT seq AS seq0 FROM fx.invoice_scans() \gset
SELECT throws_ok($$SELECT invoiceflow_private.check_duplicate(
                       jsonb_populate_record(NULL::invoiceflow.invoice, to_jsonb(i) - 'id'))
                   FROM invoiceflow.invoice AS i WHERE i.id = fx.inv('intercompany')$$,
    'IF004', NULL, 'an intercompany copy is a duplicate too');
SELECT is((SELECT seq FROM fx.invoice_scans()), :seq0::bigint,
    'found by the intercompany keys, without a sequential scan');
SELECT fx.plan_of(format($$SELECT i.id FROM invoiceflow.invoice AS i
    WHERE i.counterparty_id = %s AND i.supplier_invoice_number_norm = 'LOAD2' AND i.stage <> 'withdrawn'
      AND i.id IS DISTINCT FROM NULL AND i.receiving_subdivision_id IS NOT DISTINCT FROM NULL
      AND (i.supplier_invoice_date = current_date OR i.amount_minor = 1002)
    ORDER BY i.id LIMIT 1$$, :medsupply)) AS dup_plan \gset
SELECT ok(EXISTS (SELECT FROM jsonb_path_query(:'dup_plan'::jsonb, 'strict $.**') AS n
                  WHERE jsonb_typeof(n) = 'object' AND n ->> 'Index Name' LIKE 'invoice_duplicate%'
                    AND n ->> 'Index Cond' LIKE '%counterparty_id = %'),
    'the lookup seeks a duplicate index by the counterparty: ' || array_to_string(fx.scans(:'dup_plan'), ', '));

SELECT * FROM finish();
ROLLBACK;
