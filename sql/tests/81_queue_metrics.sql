-- 81_queue_metrics.sql: daemon_queue_metrics(), what /metrics and /healthz read at scrape time — only the
-- daemon may call it, its counts and ages agree with the tables as rows are queued, parked, sent and
-- dead-lettered, it reports a paused outbox, and its figures read the partial indexes, not the history.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(20);

CREATE TABLE fx.metrics AS SELECT * FROM invoiceflow.daemon_queue_metrics() WITH NO DATA;
GRANT ALL ON fx.metrics TO PUBLIC;
-- Takes a reading as the daemon; the tests compare readings with what the tables hold.
CREATE FUNCTION fx.read_metrics() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM fx.metrics;
    SET LOCAL SESSION AUTHORIZATION invoiceflow_daemon;
    INSERT INTO fx.metrics SELECT * FROM invoiceflow.daemon_queue_metrics();
    RESET SESSION AUTHORIZATION;
END
$$;

-- Who may read it ----------------------------------------------------------------------------------------

SET SESSION AUTHORIZATION fx_anna;
SELECT throws_ok('SELECT * FROM invoiceflow.daemon_queue_metrics()', '42501', NULL, 'a person cannot read the queue figures');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_admin;
SELECT throws_ok('SELECT * FROM invoiceflow.daemon_queue_metrics()', '42501', NULL,
    'nor an administrator (they have mail_queue_status())');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT is((SELECT count(*) FROM invoiceflow.daemon_queue_metrics()), 1::bigint, 'the daemon reads exactly one row');
RESET SESSION AUTHORIZATION;

-- Routing queue -------------------------------------------------------------------------------------------

-- A known state: the fixture's submissions left work items; make their ages definite.
UPDATE invoiceflow_private.work_item SET created_at = now() - interval '10 minutes', run_after = now()
WHERE done_at IS NULL AND parked_at IS NULL;
UPDATE invoiceflow_private.work_item SET created_at = now() - interval '2 hours'
WHERE id = (SELECT min(id) FROM invoiceflow_private.work_item WHERE done_at IS NULL AND parked_at IS NULL);
SELECT fx.read_metrics();
SELECT is((SELECT routing_pending FROM fx.metrics),
    (SELECT count(*) FROM invoiceflow_private.work_item WHERE done_at IS NULL AND parked_at IS NULL),
    'routing_pending counts the unfinished, unparked work items');
SELECT ok((SELECT routing_pending > 0 FROM fx.metrics), 'the fixture left routing work pending');
SELECT ok((SELECT routing_oldest_pending_seconds BETWEEN 7200 AND 7260 FROM fx.metrics),
    'the oldest pending item''s age is measured by the server from its created_at');

UPDATE invoiceflow_private.work_item SET run_after = now() + interval '1 hour'
WHERE id = (SELECT max(id) FROM invoiceflow_private.work_item WHERE done_at IS NULL AND parked_at IS NULL);
SELECT invoiceflow.daemon_park_routing(
    (SELECT min(id) FROM invoiceflow_private.work_item WHERE done_at IS NULL AND parked_at IS NULL), 'test: no approver');
SELECT fx.read_metrics();
SELECT is((SELECT routing_parked FROM fx.metrics), 1::bigint, 'a parked item is counted as parked');
SELECT is((SELECT routing_pending FROM fx.metrics),
    (SELECT count(*) FROM invoiceflow_private.work_item WHERE done_at IS NULL AND parked_at IS NULL),
    'and no longer as pending');
SELECT is((SELECT routing_due FROM fx.metrics), (SELECT routing_pending - 1 FROM fx.metrics),
    'an item backing off (run_after in the future) is pending but not due');
SELECT ok((SELECT routing_oldest_pending_seconds BETWEEN 590 AND 660 FROM fx.metrics),
    'the parked item no longer sets the oldest pending age');

UPDATE invoiceflow_private.work_item SET done_at = now() WHERE done_at IS NULL AND parked_at IS NULL;
SELECT fx.read_metrics();
SELECT is((SELECT (routing_pending, routing_due, routing_oldest_pending_seconds)::text FROM fx.metrics), '(0,0,0)',
    'an empty queue reads zero pending, zero due and age 0');

-- Mail outbox ---------------------------------------------------------------------------------------------

CREATE FUNCTION fx.enqueue(p_id text, p_age interval) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    SET LOCAL SESSION AUTHORIZATION invoiceflow_daemon;
    v_id := invoiceflow.daemon_enqueue_mail(p_id || '@metrics.test', 'test', 'noreply@metrics.test', 'b@example.org', '\x41');
    RESET SESSION AUTHORIZATION;
    UPDATE invoiceflow_private.mail_outbox SET created_at = now() - p_age, next_attempt_at = now() WHERE id = v_id;
    RETURN v_id;
END
$$;
SELECT fx.enqueue('old', interval '30 minutes'), fx.enqueue('new', interval '1 minute'),
    fx.enqueue('later', interval '5 minutes'), fx.enqueue('dead', interval '3 hours'),
    fx.enqueue('sent', interval '4 hours');
UPDATE invoiceflow_private.mail_outbox SET next_attempt_at = now() + interval '10 minutes'
WHERE message_id = 'later@metrics.test';
UPDATE invoiceflow_private.mail_outbox SET state = 'dead', finished_at = now() WHERE message_id = 'dead@metrics.test';
UPDATE invoiceflow_private.mail_outbox SET state = 'sent', finished_at = now() WHERE message_id = 'sent@metrics.test';
SELECT fx.read_metrics();
SELECT is((SELECT mail_pending FROM fx.metrics), 3::bigint, 'mail_pending counts messages not yet sent, dead or cancelled');
SELECT is((SELECT mail_due FROM fx.metrics), 2::bigint, 'mail_due leaves out the one waiting for its retry time');
SELECT is((SELECT mail_dead FROM fx.metrics), 1::bigint, 'mail_dead counts dead-lettered messages');
SELECT ok((SELECT mail_oldest_pending_seconds BETWEEN 1800 AND 1860 FROM fx.metrics),
    'the oldest pending message''s age ignores sent and dead ones');
SELECT is((SELECT (mail_paused, mail_paused_reason)::text FROM fx.metrics), '(f,)',
    'the outbox is not paused');

UPDATE invoiceflow_private.mail_queue SET paused_at = now(), paused_reason = '535 5.7.8 authentication failed';
SELECT fx.read_metrics();
SELECT is((SELECT (mail_paused, mail_paused_reason)::text FROM fx.metrics), '(t,"535 5.7.8 authentication failed")',
    'a paused outbox is reported with its reason');

-- Cost: the figures read the partial indexes, not the sent history ----------------------------------------

INSERT INTO invoiceflow_private.mail_outbox (message_id, kind, sender, recipient, content, state, finished_at, give_up_at)
SELECT 'h' || i || '@metrics.test', 'test', 'noreply@metrics.test', 'b@example.org', '\x41', 'sent', now(),
    now() + interval '1 day'
FROM generate_series(1, 20000) AS i;
INSERT INTO invoiceflow_private.work_item (invoice_id, kind, created_at, done_at)
SELECT fx.inv('approval'), 'submitted', now() - interval '1 day', now() FROM generate_series(1, 20000);
ANALYZE invoiceflow_private.mail_outbox;
ANALYZE invoiceflow_private.work_item;
SELECT unalike(fx.plan_text($$SELECT min(created_at) FROM invoiceflow_private.mail_outbox WHERE state = 'pending'$$),
    '%Seq Scan%', 'the oldest pending message is found without a sequential scan of the outbox');
SELECT unalike(fx.plan_text($$SELECT count(*) FROM invoiceflow_private.mail_outbox WHERE state = 'dead'$$),
    '%Seq Scan%', 'dead messages are counted without a sequential scan');
-- Either partial index of unfinished items answers it (0076's work_item_unfinished_invoice_idx ties with
-- work_item_pending_created_idx on a queue this small); neither reads the finished history.
SELECT ok(fx.plan_text($$SELECT min(created_at) FROM invoiceflow_private.work_item WHERE done_at IS NULL AND parked_at IS NULL$$)
    SIMILAR TO '%(work_item_pending_created_idx|work_item_unfinished_invoice_idx)%',
    'the oldest pending routing item is read from a partial index of unfinished items');

SELECT * FROM finish();
ROLLBACK;
