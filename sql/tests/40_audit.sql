-- 40_audit.sql: the audit log is append-only even for its owner and a superuser going through the
-- triggers; its hash chain is intact after normal work; audit_verify finds edits, deletions and
-- truncations made with the triggers disabled, and an anchor catches a fully rewritten chain; rows
-- carry who, for whom, and the channel; visibility follows the invoice.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(42);

-- ---------------------------------------------------------------- the chain after normal work
SELECT ok((SELECT count(*) FROM invoiceflow.audit_log) > 90, 'the fixture''s commands wrote an audit trail');
SELECT is((SELECT row(ok, first_broken_id)::text FROM invoiceflow.audit_verify()), '(t,)', 'the chain verifies');
SELECT is((SELECT checked FROM invoiceflow.audit_verify()), (SELECT count(*) FROM invoiceflow.audit_log), 'every row was checked');
SELECT is((SELECT row(head_id, head_hash)::text FROM invoiceflow.audit_verify()), (SELECT row(id, hash)::text FROM invoiceflow.audit_head()),
    'the verified head is the recorded head');
SELECT is_empty($$SELECT a.id FROM invoiceflow.audit_log a JOIN invoiceflow.audit_log b ON b.id = a.id - 1 WHERE a.prev_hash <> b.hash$$,
    'each row carries the hash of its predecessor');
SELECT is_empty($$SELECT id FROM invoiceflow.audit_log WHERE hash <> sha256(prev_hash || convert_to(jsonb_build_object(
        'v', 1, 'id', id, 'at', (EXTRACT(epoch FROM occurred_at) * 1000000)::bigint, 'invoice', invoice_id, 'entity', entity,
        'entity_id', entity_id, 'action', action, 'actor', actor_employee_id, 'for', acting_for_employee_id,
        'role', session_role::text, 'channel', channel, 'before', before, 'after', after, 'comment', comment,
        'xid', transaction_id::text)::text, 'UTF8'))$$,
    'each hash is sha256(prev_hash || canonical text v1), recomputable outside the database');
SELECT is((SELECT count(*) FROM invoiceflow.audit_log WHERE length(hash) <> 32 OR length(prev_hash) <> 32), 0::bigint,
    'hashes are 32-byte SHA-256 values');
SELECT is((SELECT max(id) - min(id) + 1 FROM invoiceflow.audit_log), (SELECT count(*) FROM invoiceflow.audit_log),
    'ids are gapless: the chain order');
SET timezone = 'Asia/Vladivostok';
SELECT is((SELECT ok FROM invoiceflow.audit_verify()), true, 'verification does not depend on the session time zone');
RESET timezone;

-- ---------------------------------------------------------------- append-only, even for the owner
SELECT throws_ok('UPDATE invoiceflow.audit_log SET comment = $$x$$ WHERE id = (SELECT max(id) FROM invoiceflow.audit_log)',
    'IF008', NULL, 'a superuser''s UPDATE is refused by the trigger');
SELECT throws_ok('DELETE FROM invoiceflow.audit_log WHERE id = (SELECT max(id) FROM invoiceflow.audit_log)', 'IF008', NULL,
    'a superuser''s DELETE is refused');
SELECT throws_ok('TRUNCATE invoiceflow.audit_log', 'IF008', NULL, 'a superuser''s TRUNCATE is refused');
SET ROLE invoiceflow_owner;
SELECT throws_ok('UPDATE invoiceflow.audit_log SET comment = $$x$$', 'IF008', NULL, 'the owner''s UPDATE is refused');
SELECT throws_ok('DELETE FROM invoiceflow.audit_log', 'IF008', NULL, 'the owner''s DELETE is refused');
SELECT throws_ok('TRUNCATE invoiceflow.audit_log', 'IF008', NULL, 'the owner''s TRUNCATE is refused');
SELECT throws_ok('TRUNCATE invoiceflow_private.audit_chain_head', 'IF008', NULL, 'the chain head cannot be truncated either');
RESET ROLE;
SET SESSION AUTHORIZATION fx_auditor;
SELECT throws_ok('UPDATE invoiceflow.audit_log SET comment = $$x$$', '42501', NULL, 'an auditor cannot write the log');
SELECT throws_ok($$INSERT INTO invoiceflow.audit_log (entity, action, channel, prev_hash, hash) VALUES ('x', 'x', 'sql', '\x', '\x')$$,
    '42501', NULL, 'nor forge a row');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_anna;
SELECT throws_ok('DELETE FROM invoiceflow.audit_log', '42501', NULL, 'an employee cannot delete audit rows');
SELECT throws_ok('SELECT * FROM invoiceflow.audit_verify()', '42501', NULL, 'verification is for auditors, admins and the daemon');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_auditor;
SELECT is((SELECT ok FROM invoiceflow.audit_verify()), true, 'an auditor can verify the chain');
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- tampering with the triggers disabled
SELECT id AS head_id, hash AS head_hash FROM invoiceflow.audit_head() \gset
SELECT id AS mid FROM invoiceflow.audit_log WHERE action = 'reject' \gset

SAVEPOINT tamper;
ALTER TABLE invoiceflow.audit_log DISABLE TRIGGER ALL;
UPDATE invoiceflow.audit_log SET comment = 'Всё хорошо' WHERE id = :mid;
ALTER TABLE invoiceflow.audit_log ENABLE TRIGGER ALL;
SELECT is((SELECT row(ok, first_broken_id)::text FROM invoiceflow.audit_verify()), row(false, :mid)::text,
    'an edited comment is detected at the edited row');
ROLLBACK TO SAVEPOINT tamper;

SAVEPOINT tamper;
ALTER TABLE invoiceflow.audit_log DISABLE TRIGGER ALL;
UPDATE invoiceflow.audit_log SET actor_employee_id = NULL WHERE id = :mid;
ALTER TABLE invoiceflow.audit_log ENABLE TRIGGER ALL;
SELECT is((SELECT first_broken_id FROM invoiceflow.audit_verify()), :mid::bigint, 'an erased actor is detected');
ROLLBACK TO SAVEPOINT tamper;

SAVEPOINT tamper;
ALTER TABLE invoiceflow.audit_log DISABLE TRIGGER ALL;
DELETE FROM invoiceflow.audit_log WHERE id = :mid;
ALTER TABLE invoiceflow.audit_log ENABLE TRIGGER ALL;
SELECT is((SELECT row(ok, first_broken_id)::text FROM invoiceflow.audit_verify()), row(false, :mid + 1)::text,
    'a deleted row breaks the link of its successor');
ROLLBACK TO SAVEPOINT tamper;

SAVEPOINT tamper;
ALTER TABLE invoiceflow.audit_log DISABLE TRIGGER ALL;
DELETE FROM invoiceflow.audit_log WHERE id = :head_id;
ALTER TABLE invoiceflow.audit_log ENABLE TRIGGER ALL;
SELECT is((SELECT row(ok, first_broken_id)::text FROM invoiceflow.audit_verify()), row(false, :head_id)::text,
    'a deleted last row is detected through the chain head');
ROLLBACK TO SAVEPOINT tamper;

-- The full forgery: edit a row, recompute every later hash and the head. Only an anchor kept outside catches it.
SAVEPOINT tamper;
ALTER TABLE invoiceflow.audit_log DISABLE TRIGGER ALL;
UPDATE invoiceflow.audit_log SET comment = 'Всё хорошо' WHERE id = :mid;
DO $$
DECLARE
    r invoiceflow.audit_log;
    v_prev bytea;
BEGIN
    FOR r IN SELECT * FROM invoiceflow.audit_log WHERE id >= (SELECT id FROM invoiceflow.audit_log WHERE comment = 'Всё хорошо')
             ORDER BY id LOOP
        IF v_prev IS NOT NULL THEN
            r.prev_hash := v_prev;
        END IF;
        r.hash := invoiceflow_private.audit_row_hash(r);
        UPDATE invoiceflow.audit_log SET prev_hash = r.prev_hash, hash = r.hash WHERE id = r.id;
        v_prev := r.hash;
    END LOOP;
    UPDATE invoiceflow_private.audit_chain_head SET last_hash = v_prev;
END
$$;
ALTER TABLE invoiceflow.audit_log ENABLE TRIGGER ALL;
SELECT is((SELECT ok FROM invoiceflow.audit_verify()), true, 'a fully recomputed chain looks consistent on its own ...');
SELECT is((SELECT row(ok, first_broken_id)::text FROM invoiceflow.audit_verify(:head_id, decode(:'head_hash', 'hex'))),
    row(false, :head_id)::text, '... but not against the anchor taken before');
ROLLBACK TO SAVEPOINT tamper;

SAVEPOINT tamper;
ALTER TABLE invoiceflow.audit_log DISABLE TRIGGER ALL;
DELETE FROM invoiceflow.audit_log WHERE id > :mid;
UPDATE invoiceflow_private.audit_chain_head SET last_id = :mid, last_hash = (SELECT hash FROM invoiceflow.audit_log WHERE id = :mid);
ALTER TABLE invoiceflow.audit_log ENABLE TRIGGER ALL;
SELECT is((SELECT row(ok, first_broken_id)::text FROM invoiceflow.audit_verify(:head_id, decode(:'head_hash', 'hex'))),
    row(false, :head_id)::text, 'a chain cut back before the anchor is detected');
ROLLBACK TO SAVEPOINT tamper;

SELECT is((SELECT ok FROM invoiceflow.audit_verify(:head_id, decode(:'head_hash', 'hex'))), true,
    'the untouched chain matches its anchor');
SELECT throws_ok(format('SELECT * FROM invoiceflow.audit_verify(%s)', :head_id), 'IF001', NULL,
    'an anchor id without its hash is refused');

-- ---------------------------------------------------------------- who, for whom, which channel
SELECT is((SELECT channel || '/' || session_role FROM invoiceflow.audit_log WHERE action = 'assign_task' LIMIT 1),
    'daemon/invoiceflow_daemon', 'the router''s own steps are recorded as channel daemon');
SELECT max(id) AS a0 FROM invoiceflow.audit_log \gset
SET SESSION AUTHORIZATION invoiceflow_daemon;
\o /dev/null
SELECT set_config('invoiceflow.acting_employee', fx.emp('vera')::text, true);
\o
\o /dev/null
SELECT set_config('invoiceflow.channel', 'email_link', true);
\o
SELECT lives_ok(format($$SELECT invoiceflow.decide_task(%s, 'approve')$$, fx.task('approval_boris')),
    'the daemon confirms vera''s approval from an email link');
\o /dev/null
SELECT set_config('invoiceflow.acting_employee', '', true);
\o
\o /dev/null
SELECT set_config('invoiceflow.channel', '', true);
\o
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION invoiceflow_daemon;
\o /dev/null
SELECT set_config('invoiceflow.acting_employee', fx.emp('auditor')::text, true);
\o
SELECT throws_ok(format($$SELECT invoiceflow.add_comment(%s, 'x')$$, fx.inv('approval')), 'IF002', NULL,
    'the daemon acting for an auditor cannot write either');
\o /dev/null
SELECT set_config('invoiceflow.acting_employee', '', true);
\o
RESET SESSION AUTHORIZATION;
SELECT is((SELECT concat_ws('/', channel, session_role, actor_employee_id, acting_for_employee_id) FROM invoiceflow.audit_log WHERE id > :a0),
    concat_ws('/', 'email_link', 'invoiceflow_daemon', fx.emp('vera'), fx.emp('boris')),
    'its audit row: channel email_link, the daemon''s session, vera acting for boris');
SET SESSION AUTHORIZATION fx_cfo;
\o /dev/null
SELECT set_config('invoiceflow.channel', 'daemon', true);
\o
SELECT lives_ok(format($$SELECT invoiceflow.add_comment(%s, 'ok')$$, fx.inv('approval')), 'a person comments with a forged channel');
\o /dev/null
SELECT set_config('invoiceflow.channel', '', true);
\o
RESET SESSION AUTHORIZATION;
SELECT is((SELECT channel FROM invoiceflow.audit_log WHERE id = (SELECT max(id) FROM invoiceflow.audit_log)), 'sql',
    'a person''s own session is always channel sql, whatever they set');

-- ---------------------------------------------------------------- visibility of the log and the timeline
SET SESSION AUTHORIZATION fx_anna;
SELECT is_empty($$SELECT id FROM invoiceflow.audit_log WHERE invoice_id IS NULL OR invoice_id NOT IN (SELECT id FROM invoiceflow.invoice)$$,
    'an initiator sees audit rows of her visible invoices only');
SELECT is((SELECT array_agg(step ORDER BY step) FROM invoiceflow.invoice_timeline WHERE invoice_id = fx.inv('closed')),
    (SELECT array_agg(g::bigint) FROM generate_series(1, 11) AS g), 'her closed invoice''s timeline has its eleven steps in order');
SELECT is((SELECT description FROM invoiceflow.invoice_timeline WHERE invoice_id = fx.inv('closed') AND step = 2),
    'Anna (fixture) submitted for approval: draft → approval', 'the timeline reads as a sentence');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_outsider;
SELECT is((SELECT count(*) FROM invoiceflow.audit_log), 0::bigint, 'an unrelated employee sees no audit rows');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_admin;
SELECT is((SELECT count(*) FROM invoiceflow.audit_log WHERE invoice_id IS NOT NULL), 0::bigint,
    'an admin sees administration rows only');
RESET SESSION AUTHORIZATION;
SELECT count(*) AS total FROM invoiceflow.audit_log \gset
SET SESSION AUTHORIZATION fx_auditor;
SELECT is((SELECT count(*) FROM invoiceflow.audit_log), :total::bigint, 'an auditor sees every audit row');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
