-- 56_step_trims.sql: migration 0081 — the routing claim looks at its candidates one at a time, and takes the
-- same item as before.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(6);

-- Routing work waiting on every invoice: the fixture's items and two more per invoice.
CREATE TABLE fx.probe (label text PRIMARY KEY, idx_scan bigint);
GRANT ALL ON fx.probe TO PUBLIC;
INSERT INTO invoiceflow_private.work_item (invoice_id, kind)
SELECT i.id, 'submitted' FROM invoiceflow.invoice AS i, generate_series(1, 2);
SELECT cmp_ok((SELECT count(DISTINCT invoice_id) FROM invoiceflow_private.work_item WHERE done_at IS NULL), '>=', 10::bigint,
    'at least ten invoices have claimable work');

INSERT INTO fx.probe
SELECT 'before', idx_scan FROM pg_stat_xact_user_tables WHERE relid = 'invoiceflow_private.work_item'::regclass;
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT * FROM invoiceflow.daemon_claim_routing('t56') \gset claimed_
RESET SESSION AUTHORIZATION;
INSERT INTO fx.probe
SELECT 'after', idx_scan FROM pg_stat_xact_user_tables WHERE relid = 'invoiceflow_private.work_item'::regclass;

SELECT is(:claimed_work_item_id::bigint,
    (SELECT min(w.id) FROM invoiceflow_private.work_item AS w
     WHERE w.done_at IS NULL AND w.parked_at IS NULL AND w.run_after <= now()
       AND (w.locked_until IS NULL OR w.locked_until < now())
       AND w.id = (SELECT min(e.id) FROM invoiceflow_private.work_item AS e WHERE e.invoice_id = w.invoice_id AND e.done_at IS NULL)),
    'the claim takes the oldest claimable item, as before');
-- The candidate scan, one per-invoice order check, the re-check under the lock and its order check: four
-- index scans. Fetched ten at a time (0076), the first fetch alone ran ten order checks.
SELECT cmp_ok((SELECT a.idx_scan - b.idx_scan FROM fx.probe AS a, fx.probe AS b WHERE a.label = 'after' AND b.label = 'before'),
    '<=', 5::bigint, 'a claim whose first candidate is free probes the queue a handful of times, not once per candidate');

-- Called again in the same transaction: the cursor of the first call was closed.
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT lives_ok($$SELECT * FROM invoiceflow.daemon_claim_routing('t56')$$, 'a second claim in the same transaction works');
RESET SESSION AUTHORIZATION;
UPDATE invoiceflow_private.work_item SET done_at = now() WHERE done_at IS NULL;
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT is_empty($$SELECT * FROM invoiceflow.daemon_claim_routing('t56')$$, 'an empty queue gives nothing');
SELECT is_empty($$SELECT * FROM invoiceflow.daemon_claim_routing('t56')$$, 'and again (the cursor is closed on that path too)');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
