-- 33_work_queue.sql: the routing work queue the commands fill and the daemon drains — claims under a
-- lease, completion, failure with back-off, reclaim after an expired lease, and who may touch it.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(14);

SELECT ok((SELECT count(*) FROM invoiceflow_private.work_item WHERE done_at IS NULL) > 20,
    'the fixture''s commands left routing work pending');
SELECT is((SELECT count(*) FROM invoiceflow_private.work_item w
           WHERE NOT EXISTS (SELECT FROM invoiceflow.invoice i WHERE i.id = w.invoice_id)), 0::bigint,
    'every work item names an existing invoice');

SET SESSION AUTHORIZATION fx_anna;
SELECT throws_ok($$SELECT * FROM invoiceflow.daemon_claim_work('anna')$$, '42501', NULL, 'a person cannot claim routing work');
SELECT throws_ok('SELECT * FROM invoiceflow_private.work_item', '42501', NULL, 'nor read the queue');
RESET SESSION AUTHORIZATION;

SELECT count(*) AS pending FROM invoiceflow_private.work_item WHERE done_at IS NULL \gset
-- The daemon has no TEMP right: claims are kept in tables of the fixture schema.
CREATE TABLE fx.claimed1 (work_item_id bigint, invoice_id bigint, kind text, attempts integer);
CREATE TABLE fx.claimed2 (LIKE fx.claimed1);
CREATE TABLE fx.claimed3 (LIKE fx.claimed1);
GRANT ALL ON fx.claimed1, fx.claimed2, fx.claimed3 TO PUBLIC;
SET SESSION AUTHORIZATION invoiceflow_daemon;
INSERT INTO fx.claimed1 SELECT * FROM invoiceflow.daemon_claim_work('router-1', 5, interval '5 minutes');
INSERT INTO fx.claimed2 SELECT * FROM invoiceflow.daemon_claim_work('router-2', 1000, interval '5 minutes');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*) FROM fx.claimed1), 5::bigint, 'a claim takes at most p_limit items');
SELECT is((SELECT array_agg(work_item_id ORDER BY work_item_id) FROM fx.claimed1),
    (SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM invoiceflow_private.work_item ORDER BY run_after, id LIMIT 5) x),
    'the oldest due items first');
SELECT is((SELECT count(*) FROM fx.claimed2), (:pending - 5)::bigint, 'a second worker gets the rest, never the leased ones');
SELECT is((SELECT count(*) FROM fx.claimed1 JOIN fx.claimed2 USING (work_item_id)), 0::bigint, 'no item is claimed twice');
SELECT is((SELECT min(attempts) FROM fx.claimed1), 1, 'a claim counts an attempt');

SELECT work_item_id AS w_done FROM fx.claimed1 ORDER BY work_item_id LIMIT 1 \gset
SELECT work_item_id AS w_fail FROM fx.claimed1 ORDER BY work_item_id OFFSET 1 LIMIT 1 \gset
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT invoiceflow.daemon_finish_work(:w_done) IS NULL AS ok \gset
SELECT invoiceflow.daemon_finish_work(:w_fail, 'relay down', interval '10 minutes') IS NULL AS ok \gset
RESET SESSION AUTHORIZATION;
SELECT isnt((SELECT done_at FROM invoiceflow_private.work_item WHERE id = :w_done), NULL, 'a finished item is done');
SELECT is((SELECT row(done_at IS NULL, last_error, run_after > now() + interval '9 minutes', locked_by IS NULL)::text
           FROM invoiceflow_private.work_item WHERE id = :w_fail), '(t,"relay down",t,t)',
    'a failed item keeps its error, is released and waits for its back-off');

-- A worker that died: its lease runs out and another worker takes the item over.
UPDATE invoiceflow_private.work_item SET locked_until = now() - interval '1 second'
WHERE id IN (SELECT work_item_id FROM fx.claimed2 ORDER BY work_item_id LIMIT 2);
SET SESSION AUTHORIZATION invoiceflow_daemon;
INSERT INTO fx.claimed3 SELECT * FROM invoiceflow.daemon_claim_work('router-3', 1000);
RESET SESSION AUTHORIZATION;
SELECT is((SELECT array_agg(work_item_id ORDER BY work_item_id) FROM fx.claimed3),
    (SELECT array_agg(work_item_id ORDER BY work_item_id) FROM (SELECT work_item_id FROM fx.claimed2 ORDER BY work_item_id LIMIT 2) x),
    'items with an expired lease are claimable again, nothing else is');
SELECT is((SELECT max(attempts) FROM fx.claimed3), 2, 'the retake counts a second attempt');
SELECT is((SELECT count(*) FROM invoiceflow_private.work_item WHERE id = :w_done AND locked_by IS NULL), 1::bigint,
    'a done item is released and never claimed again');

SELECT * FROM finish();
ROLLBACK;
