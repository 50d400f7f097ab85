-- 51_customs.sql: the customs flag of migration 0050 — a content column of logistics_customs invoices,
-- set by the initiator at registration or in a draft, immutable once submitted, read by the router.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(14);

SELECT has_column('invoiceflow', 'invoice', 'customs', 'the invoice has a customs flag');
SELECT col_not_null('invoiceflow', 'invoice', 'customs', 'the customs flag is never NULL');
SELECT col_default_is('invoiceflow', 'invoice', 'customs', 'false', 'an invoice is not a customs payment by default');

-- Kirill (head-office logistics) registers a customs payment and an ordinary logistics bill.
SET SESSION AUTHORIZATION fx_kirill;
SELECT lives_ok($$SELECT set_config('t.customs', invoiceflow.create_invoice(
    p_invoice_type => 'logistics_customs', p_paying_subdivision_id => fx.sub('ho'), p_counterparty_id => fx.cp('medsupply'),
    p_supplier_invoice_number => 'ТД-51-1', p_supplier_invoice_date => current_date, p_amount_minor => 25000000,
    p_purpose => 'Таможенная пошлина', p_customs => true)::text, false)$$,
    'the initiator registers a customs payment with p_customs');
SELECT lives_ok($$SELECT set_config('t.plain', invoiceflow.create_invoice(
    p_invoice_type => 'logistics_customs', p_paying_subdivision_id => fx.sub('ho'), p_counterparty_id => fx.cp('medsupply'),
    p_supplier_invoice_number => 'ТД-51-2', p_supplier_invoice_date => current_date, p_amount_minor => 25000000,
    p_purpose => 'Перевозка')::text, false)$$,
    'calls written before 0050 (no p_customs) still work');
RESET SESSION AUTHORIZATION;
SELECT current_setting('t.customs')::bigint AS customs_id, current_setting('t.plain')::bigint AS plain_id \gset

SELECT is((SELECT customs FROM invoiceflow.invoice WHERE id = :customs_id), true, 'p_customs => true is stored');
SELECT is((SELECT customs FROM invoiceflow.invoice WHERE id = :plain_id), false, 'without p_customs the flag is false');

SET SESSION AUTHORIZATION fx_anna;
SELECT throws_ok($$SELECT invoiceflow.create_invoice(
    p_invoice_type => 'supplier_goods', p_paying_subdivision_id => fx.sub('ho'), p_counterparty_id => fx.cp('medsupply'),
    p_supplier_invoice_number => 'ТД-51-3', p_supplier_invoice_date => current_date, p_amount_minor => 100,
    p_purpose => 'x', p_customs => true)$$, 'IF001',
    'p_customs: only a logistics_customs invoice can be a customs payment',
    'only a logistics_customs invoice may be flagged customs, and the error names p_customs');
RESET SESSION AUTHORIZATION;

-- A draft's flag can be edited; the edit is audited with the flag in the content.
SET SESSION AUTHORIZATION fx_kirill;
SELECT lives_ok(format('SELECT invoiceflow.edit_draft(p_invoice_id => %s, p_customs => true)', :plain_id),
    'the initiator flags a draft as customs with edit_draft');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT customs FROM invoiceflow.invoice WHERE id = :plain_id), true, 'edit_draft stored the flag');
SELECT is((SELECT (after ->> 'customs')::boolean FROM invoiceflow.audit_log
           WHERE invoice_id = :plain_id AND action = 'edit' ORDER BY id DESC LIMIT 1), true,
    'the edit''s audit row carries the flag');

-- Once submitted, the flag is content: immutable, even for the superuser.
SET SESSION AUTHORIZATION fx_kirill;
SELECT invoiceflow.submit_invoice(:customs_id);
RESET SESSION AUTHORIZATION;
SELECT throws_ok(format('UPDATE invoiceflow.invoice SET customs = false WHERE id = %s', :customs_id), 'IF009', NULL,
    'a submitted invoice''s customs flag cannot change');

-- The router reads it.
SELECT is((invoiceflow.daemon_routing_state(:customs_id) ->> 'customs')::boolean, true,
    'daemon_routing_state reports a customs payment');
SELECT is((invoiceflow.daemon_routing_state(fx.inv('approval')) ->> 'customs')::boolean, false,
    'and an ordinary invoice as not customs');

SELECT * FROM finish();
ROLLBACK;
