-- Drafts for one initiator (run as bench_initiator_N): :count operating-expenses invoices of 10 000 RUB
-- to the suppliers in turn (the route's first step asks the head of the initiator's department), numbered
-- :prefix-1, -2, ...
\set ON_ERROR_STOP on
SELECT count(invoiceflow.create_invoice(
    p_invoice_type => 'operating_expenses',
    p_paying_subdivision_id => (SELECT id FROM invoiceflow.subdivision WHERE code = 'head_office'),
    p_supplier_invoice_number => :'prefix' || '-' || n, p_supplier_invoice_date => current_date,
    p_amount_minor => 1000000, p_purpose => 'Уборка офиса',
    p_counterparty_id => c.ids[1 + n % cardinality(c.ids)]))
FROM generate_series(1, :count) AS n, (SELECT array_agg(id ORDER BY id) AS ids FROM invoiceflow.counterparty) AS c;
