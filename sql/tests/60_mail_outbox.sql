-- 60_mail_outbox.sql: the mail outbox — idempotent enqueue with NOTIFY, leased claims that never hand one
-- message to two mailers, outcomes (sent, retry, dead-letter, give-up at the maximum age), the paused
-- queue on a configuration fault, reminders of decided tasks cancelled, and who may touch any of it.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(37);

CREATE TABLE fx.claim (mail_id bigint, message_id text, sender text, recipient text, content bytea, attempts integer);
CREATE TABLE fx.claim2 (LIKE fx.claim);
CREATE TABLE fx.result (name text PRIMARY KEY, value text);
GRANT ALL ON fx.claim, fx.claim2, fx.result TO PUBLIC;
CREATE FUNCTION fx.mail(p_message_id text) RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER AS
    $$ SELECT id FROM invoiceflow_private.mail_outbox WHERE message_id = p_message_id $$;
GRANT EXECUTE ON FUNCTION fx.mail(text) TO PUBLIC;

-- Who may touch the outbox ---------------------------------------------------------------------------

SET SESSION AUTHORIZATION fx_anna;
SELECT throws_ok($$SELECT invoiceflow.daemon_enqueue_mail('x@example.org', 'test', 'a@example.org', 'b@example.org', '\x41')$$,
    '42501', NULL, 'a person cannot enqueue mail');
SELECT throws_ok($$SELECT * FROM invoiceflow.daemon_claim_mail('anna')$$, '42501', NULL, 'nor claim it');
SELECT throws_ok('SELECT * FROM invoiceflow_private.mail_outbox', '42501', NULL, 'nor read the outbox');
SELECT throws_ok('SELECT * FROM invoiceflow_private.mail_attempt', '42501', NULL, 'nor the attempts');
SELECT throws_ok('SELECT invoiceflow.resume_mail_queue()', '42501', NULL, 'nor resume the queue');
SELECT throws_ok($$SELECT * FROM invoiceflow.daemon_mail_recipients(ARRAY[1::bigint])$$, '42501', NULL,
    'nor read other people''s addresses through the mail functions');
RESET SESSION AUTHORIZATION;

-- Enqueue ----------------------------------------------------------------------------------------------

SET SESSION AUTHORIZATION invoiceflow_daemon;
LISTEN invoiceflow_mail;
INSERT INTO fx.result SELECT 'first', invoiceflow.daemon_enqueue_mail('m1.outbox@invoiceflow.test', 'task_assigned',
    'noreply@invoiceflow.test', 'boris@example.org', convert_to('Subject: a' || chr(13) || chr(10), 'UTF8'),
    p_recipient_employee_id => fx.emp('boris'), p_invoice_id => fx.inv('approval'), p_task_id => fx.task('approval_boris'));
INSERT INTO fx.result SELECT 'again', invoiceflow.daemon_enqueue_mail('m1.outbox@invoiceflow.test', 'task_assigned',
    'noreply@invoiceflow.test', 'boris@example.org', '\x42');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT value FROM fx.result WHERE name = 'again'), (SELECT value FROM fx.result WHERE name = 'first'),
    'enqueueing the same Message-ID twice returns the first message');
SELECT is((SELECT content FROM invoiceflow_private.mail_outbox WHERE message_id = 'm1.outbox@invoiceflow.test'),
    convert_to('Subject: a' || chr(13) || chr(10), 'UTF8'), 'and keeps its original bytes');
SELECT is((SELECT give_up_at - created_at FROM invoiceflow_private.mail_outbox WHERE message_id = 'm1.outbox@invoiceflow.test'),
    interval '48 hours', 'the default maximum age is 48 hours');

SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT throws_ok($$SELECT invoiceflow.daemon_enqueue_mail('no-at-sign', 'test', 'a@example.org', 'b@example.org', '\x41')$$,
    'IF001', NULL, 'a malformed Message-ID is refused with IF001');
SELECT throws_ok($$SELECT invoiceflow.daemon_enqueue_mail('m2@x.test', 'test', 'a@example.org', 'b@example.org' || chr(10) || 'RCPT TO:<c@d.e>', '\x41')$$,
    'IF001', NULL, 'a recipient with a line break is refused');
SELECT throws_ok($$SELECT invoiceflow.daemon_enqueue_mail('m2@x.test', 'spam', 'a@example.org', 'b@example.org', '\x41')$$,
    'IF001', NULL, 'an unknown kind is refused');
SELECT throws_ok($$SELECT invoiceflow.daemon_enqueue_mail('m2@x.test', 'reminder', 'a@example.org', 'b@example.org', '\x41',
    p_only_while_task_open => true)$$, 'IF001', NULL, 'a task-bound message needs its task');
SELECT throws_ok($$SELECT invoiceflow.daemon_enqueue_mail('m2@x.test', 'test', 'a@example.org', 'b@example.org', '\x')$$,
    'IF001', NULL, 'an empty message is refused');
-- Reminders: one for an open task, one for a task decided since.
SELECT invoiceflow.daemon_enqueue_mail('r-open@x.test', 'reminder', 'a@example.org', 'boris@example.org', '\x41',
    p_task_id => fx.task('approval_boris'), p_only_while_task_open => true);
SELECT invoiceflow.daemon_enqueue_mail('r-decided@x.test', 'reminder', 'a@example.org', 'boris@example.org', '\x41',
    p_task_id => fx.task('payment_boris'), p_only_while_task_open => true);
SELECT invoiceflow.daemon_enqueue_mail('later@x.test', 'digest', 'a@example.org', 'boris@example.org', '\x41',
    p_send_after => now() + interval '1 hour');
RESET SESSION AUTHORIZATION;

-- Mail facts -------------------------------------------------------------------------------------------

SET SESSION AUTHORIZATION invoiceflow_daemon;
INSERT INTO fx.result SELECT 'facts', row_to_json(f)::text FROM invoiceflow.daemon_invoice_mail_facts(fx.inv('approval')) AS f;
INSERT INTO fx.result SELECT 'recipients', string_agg(r.email || ' ' || r.locale, ', ' ORDER BY r.employee_id)
FROM invoiceflow.daemon_mail_recipients(ARRAY[fx.emp('anna'), fx.emp('boris')]) AS r;
RESET SESSION AUTHORIZATION;
SELECT is((SELECT (value::jsonb) - 'invoice_id' FROM fx.result WHERE name = 'facts'),
    (SELECT jsonb_build_object('number', i.supplier_invoice_number, 'counterparty', c.name, 'amount_minor', i.amount_minor,
        'currency', i.currency, 'purpose', i.purpose, 'initiator', e.full_name, 'paying_subdivision', s.name)
     FROM invoiceflow.invoice i JOIN invoiceflow.counterparty c ON c.id = i.counterparty_id
     JOIN invoiceflow.employee e ON e.id = i.initiator_id JOIN invoiceflow.subdivision s ON s.id = i.paying_subdivision_id
     WHERE i.id = fx.inv('approval')),
    'the daemon reads the card''s key facts for a mail');
SELECT is((SELECT value FROM fx.result WHERE name = 'recipients'),
    (SELECT string_agg(e.email || ' ' || e.locale, ', ' ORDER BY e.id) FROM invoiceflow.employee e
     WHERE e.id IN (fx.emp('anna'), fx.emp('boris'))),
    'and the recipients'' addresses and languages');
-- Someone who has left gets no mail (the superuser stands in for the admin's command here).
UPDATE invoiceflow.employee SET active = false WHERE id = fx.emp('anna');
SET SESSION AUTHORIZATION invoiceflow_daemon;
INSERT INTO fx.result SELECT 'after_leaving', coalesce(string_agg(r.email, ', '), '')
FROM invoiceflow.daemon_mail_recipients(ARRAY[fx.emp('anna')]) AS r;
RESET SESSION AUTHORIZATION;
UPDATE invoiceflow.employee SET active = true WHERE id = fx.emp('anna');
SELECT is((SELECT value FROM fx.result WHERE name = 'after_leaving'), '', 'people who have left get no mail');

-- Claims -----------------------------------------------------------------------------------------------

SET SESSION AUTHORIZATION invoiceflow_daemon;
INSERT INTO fx.claim SELECT * FROM invoiceflow.daemon_claim_mail('mailer-1', 10, interval '15 minutes');
INSERT INTO fx.claim2 SELECT * FROM invoiceflow.daemon_claim_mail('mailer-2', 10, interval '15 minutes');
RESET SESSION AUTHORIZATION;
SELECT bag_eq('SELECT message_id FROM fx.claim', $$VALUES ('m1.outbox@invoiceflow.test'), ('r-open@x.test')$$,
    'a claim takes the due messages, not the reminder of a decided task nor one scheduled later');
SELECT is_empty('SELECT * FROM fx.claim2', 'a second mailer gets nothing while the leases hold');
SELECT is((SELECT state::text FROM invoiceflow_private.mail_outbox WHERE message_id = 'r-decided@x.test'), 'cancelled',
    'the reminder of a decided task is cancelled');
SELECT is((SELECT outcome FROM invoiceflow_private.mail_attempt WHERE mail_id = fx.mail('r-decided@x.test')), 'cancelled',
    'and the cancellation is recorded as an attempt');
SELECT is((SELECT attempts FROM fx.claim WHERE message_id = 'r-open@x.test'), 1, 'a claim counts the attempt');

-- Outcomes ---------------------------------------------------------------------------------------------

SET SESSION AUTHORIZATION invoiceflow_daemon;
INSERT INTO fx.result SELECT 'sent', invoiceflow.daemon_record_mail_attempt(fx.mail('m1.outbox@invoiceflow.test'), 'mailer-1',
    'sent', 'finalDot', 250, '2.0.0', 'OK queued');
INSERT INTO fx.result SELECT 'stranger', invoiceflow.daemon_record_mail_attempt(fx.mail('r-open@x.test'), 'mailer-2',
    'sent', 'finalDot', 250);
INSERT INTO fx.result SELECT 'retry', invoiceflow.daemon_record_mail_attempt(fx.mail('r-open@x.test'), 'mailer-1',
    'transient', 'finalDot', 451, '4.3.0', 'Try again later', NULL, interval '2 minutes');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT value FROM fx.result WHERE name = 'sent'), 'sent', '250 after the final dot: sent');
SELECT is((SELECT state::text || ' ' || (finished_at IS NOT NULL) || ' ' || (locked_by IS NULL)
           FROM invoiceflow_private.mail_outbox WHERE message_id = 'm1.outbox@invoiceflow.test'), 'sent true true',
    'a sent message is finished and its lease released');
SELECT is((SELECT value FROM fx.result WHERE name = 'stranger'), 'lease_lost',
    'a mailer that does not hold the lease cannot move the message');
SELECT is((SELECT value FROM fx.result WHERE name = 'retry'), 'pending', '451: retried later');
SELECT ok((SELECT next_attempt_at > now() + interval '119 seconds' AND state = 'pending' AND last_error LIKE '451 4.3.0%'
           FROM invoiceflow_private.mail_outbox WHERE message_id = 'r-open@x.test'),
    'after the back-off, with the reply kept as the last error');
SELECT is((SELECT count(*) FROM invoiceflow_private.mail_attempt WHERE mail_id = fx.mail('r-open@x.test')), 2::bigint,
    'every attempt is recorded, even one by a mailer without the lease');

-- Give up past the maximum age, dead-letter on 5xx.
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT invoiceflow.daemon_enqueue_mail('old@x.test', 'test', 'a@example.org', 'b@example.org', '\x41', p_max_age => interval '1 minute');
SELECT invoiceflow.daemon_enqueue_mail('bad@x.test', 'test', 'a@example.org', 'nobody@example.org', '\x41');
DELETE FROM fx.claim;
INSERT INTO fx.claim SELECT * FROM invoiceflow.daemon_claim_mail('mailer-1');
INSERT INTO fx.result SELECT 'old', invoiceflow.daemon_record_mail_attempt(fx.mail('old@x.test'), 'mailer-1', 'unknown_after_final_dot',
    'finalDot', NULL, NULL, NULL, 'connection lost', interval '5 minutes');
INSERT INTO fx.result SELECT 'bad', invoiceflow.daemon_record_mail_attempt(fx.mail('bad@x.test'), 'mailer-1', 'permanent',
    'recipient', 550, '5.1.1', 'No such user');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT value FROM fx.result WHERE name = 'old'), 'dead', 'a retry past the maximum age dead-letters instead');
SELECT ok((SELECT last_error LIKE 'gave up after 1 attempts:%' FROM invoiceflow_private.mail_outbox WHERE message_id = 'old@x.test'),
    'saying it gave up');
SELECT is((SELECT value FROM fx.result WHERE name = 'bad'), 'dead', '550 5.1.1: dead-lettered at once');

-- Configuration fault: pause, keep, do not count; resume ------------------------------------------------

SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT invoiceflow.daemon_enqueue_mail('conf@x.test', 'test', 'a@example.org', 'b@example.org', '\x41');
DELETE FROM fx.claim;
INSERT INTO fx.claim SELECT * FROM invoiceflow.daemon_claim_mail('mailer-1');
INSERT INTO fx.result SELECT 'conf', invoiceflow.daemon_record_mail_attempt(fx.mail('conf@x.test'), 'mailer-1', 'configuration',
    'authentication', 535, '5.7.8', 'Authentication credentials invalid');
DELETE FROM fx.claim2;
INSERT INTO fx.claim2 SELECT * FROM invoiceflow.daemon_claim_mail('mailer-2');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT value FROM fx.result WHERE name = 'conf'), 'paused', '535: the queue pauses');
SELECT is((SELECT state::text || ' ' || attempts FROM invoiceflow_private.mail_outbox WHERE message_id = 'conf@x.test'), 'pending 0',
    'the message is kept and the attempt not counted');
SELECT is_empty('SELECT * FROM fx.claim2', 'a paused queue hands out nothing');
SELECT ok((SELECT paused_reason LIKE '535 5.7.8%' FROM invoiceflow.mail_queue_status()), 'the status says why it is paused');
SELECT is((SELECT action FROM invoiceflow.audit_log WHERE entity = 'mail_queue' ORDER BY id DESC LIMIT 1), 'pause',
    'the pause is audited');

SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT invoiceflow.resume_mail_queue('password fixed');
DELETE FROM fx.claim2;
INSERT INTO fx.claim2 SELECT * FROM invoiceflow.daemon_claim_mail('mailer-2');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT message_id FROM fx.claim2), 'conf@x.test', 'after resume_mail_queue the kept message is claimed again');

SELECT * FROM finish();
ROLLBACK;
