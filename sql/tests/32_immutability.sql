-- 32_immutability.sql: a submitted invoice's content is immutable (DESIGN.md invariant 8), enforced by
-- triggers that bind even the owner and a superuser writing the table directly; changes need a return
-- for rework; registry rows are never deleted.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(42);

-- Every content column, for invoices in every non-draft stage, written directly by the superuser.
SELECT throws_ok(format('UPDATE invoiceflow.invoice SET %I = %s WHERE id = %s', c.col, c.val, fx.inv(s.stage)), 'IF009', NULL,
    format('%s: %s cannot change', s.stage, c.col))
FROM (VALUES ('amount_minor', '1'), ('currency', $$'EUR'$$), ('vat_minor', '0'), ('purpose', $$'forged'$$),
             ('supplier_invoice_number', $$'X-1'$$), ('supplier_invoice_date', 'current_date - 100'),
             ('counterparty_id', (SELECT fx.cp('cleanco'))::text), ('paying_subdivision_id', (SELECT fx.sub('wh'))::text),
             ('initiator_id', (SELECT fx.emp('boris'))::text), ('due_date', 'current_date + 99'),
             ('prepayment', 'NOT prepayment'), ('urgent', 'NOT urgent'), ('outside_budget', 'NOT outside_budget'),
             ('goods_received', 'NOT goods_received'), ('invoice_type_id', 'invoice_type_id + 1'),
             ('confidential', 'NOT confidential')) AS c (col, val)
CROSS JOIN (VALUES ('approval')) AS s (stage);
SELECT throws_ok(format('UPDATE invoiceflow.invoice SET amount_minor = amount_minor + 1 WHERE id = %s', fx.inv(s)), 'IF009', NULL,
    format('the amount of an invoice in stage %s cannot change', s))
FROM unnest(ARRAY['payment', 'closing', 'closed', 'rejected', 'withdrawn', 'payroll', 'intercompany']) AS s;

SET ROLE invoiceflow_owner;
SELECT throws_ok(format('UPDATE invoiceflow.invoice SET purpose = %L WHERE id = %s', 'owner edit', fx.inv('payment')), 'IF009', NULL,
    'not even the owner changes a submitted invoice');
RESET ROLE;

SELECT lives_ok(format('UPDATE invoiceflow.invoice SET purpose = %L WHERE id = %s', 'still a draft', fx.inv('draft')),
    'a draft''s content can change');
SELECT is((SELECT version FROM invoiceflow.invoice WHERE id = fx.inv('draft')), 2, 'every change bumps the version');
SELECT lives_ok(format('UPDATE invoiceflow.invoice SET stage = %L WHERE id = %s', 'payment', fx.inv('intercompany')),
    'a stage change alone passes the content guard (commands decide whether it is allowed)');
SELECT ok((SELECT stage_changed_at = now() FROM invoiceflow.invoice WHERE id = fx.inv('intercompany')),
    'and stamps when the stage changed');

-- Attachments are content too.
SELECT throws_ok(format($$INSERT INTO invoiceflow.attachment (invoice_id, file_name, media_type, size_bytes, sha256, uploaded_by)
    VALUES (%s, 'late.pdf', 'application/pdf', 1, sha256('\x01'), %s)$$, fx.inv('approval'), fx.emp('anna')), 'IF009', NULL,
    'no attachment is added to a submitted invoice, even directly');
SELECT throws_ok(format('UPDATE invoiceflow.attachment SET file_name = %L WHERE invoice_id = %s', 'renamed.pdf', fx.inv('approval')),
    'IF009', NULL, 'none is changed');
SELECT throws_ok(format('DELETE FROM invoiceflow.attachment WHERE invoice_id = %s', fx.inv('approval')), 'IF009', NULL,
    'none is removed');
SELECT throws_ok(format($$UPDATE invoiceflow.attachment SET content = '\x00' WHERE invoice_id = %s$$, fx.inv('approval')),
    'IF009', NULL, 'its content cannot be swapped');

-- Nothing is deleted from the registry.
SELECT throws_ok(format('DELETE FROM invoiceflow.invoice WHERE id = %s', fx.inv('draft')), 'IF002', NULL, 'invoices are never deleted');
SELECT throws_ok(format('DELETE FROM invoiceflow.payment WHERE invoice_id = %s', fx.inv('closed')), 'IF002', NULL,
    'payments are never deleted');
SELECT throws_ok(format('DELETE FROM invoiceflow.task WHERE invoice_id = %s', fx.inv('closed')), 'IF002', NULL,
    'tasks are never deleted');

-- People cannot write the tables at all; the commands refuse outside draft.
SET SESSION AUTHORIZATION fx_anna;
SELECT throws_ok(format('UPDATE invoiceflow.invoice SET purpose = %L WHERE id = %s', 'x', fx.inv('draft')), '42501', NULL,
    'the initiator cannot update her own draft directly');
SELECT throws_ok(format('SELECT invoiceflow.edit_draft(%s, p_amount_minor => 1)', fx.inv('rejected')), 'IF003', NULL,
    'a rejected invoice is not editable until returned for rework');
SELECT lives_ok(format($$SELECT invoiceflow.return_for_rework(%s, 'исправлю цену')$$, fx.inv('rejected')),
    'the initiator returns her rejected invoice for rework');
SELECT lives_ok(format('SELECT invoiceflow.edit_draft(%s, p_amount_minor => 650000)', fx.inv('rejected')),
    'now it is a draft and can be fixed');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT (before ->> 'amount_minor') || '→' || (after ->> 'amount_minor') FROM invoiceflow.audit_log
           WHERE invoice_id = fx.inv('rejected') AND action = 'edit'), '700000→650000',
    'the history keeps the submitted amount and the fix');
SELECT is((SELECT string_agg(action, ',' ORDER BY id) FROM invoiceflow.audit_log WHERE invoice_id = fx.inv('rejected')),
    'create,submit,assign_task,reject,return_for_rework,edit', 'the whole rework is in the history, in order');
SELECT is((SELECT count(*) FROM invoiceflow.task WHERE invoice_id = fx.inv('rejected') AND outcome = 'rejected'), 1::bigint,
    'the rejection decision itself is kept');

SELECT * FROM finish();
ROLLBACK;
