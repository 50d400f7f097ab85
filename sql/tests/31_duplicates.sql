-- 31_duplicates.sql: duplicate invoice detection — normalized supplier numbers, date-or-amount match,
-- withdrawn invoices not counting, and the visibility rule: the error names the earlier invoice only
-- to someone who may see it.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(32);

-- sqlstate | column | message | detail of whatever the statement raises, run as the current persona.
CREATE FUNCTION fx.error_of(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text; v_column text; v_message text; v_detail text;
BEGIN
    EXECUTE p_sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_column = COLUMN_NAME, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
    RETURN concat_ws(' | ', v_state, v_column, v_message, nullif(v_detail, ''));
END
$$;
GRANT EXECUTE ON FUNCTION fx.error_of(text) TO PUBLIC;

-- A creation by anna for medsupply with the given number, date offset (days ago) and amount.
CREATE FUNCTION fx.create_for(p_number text, p_days_ago integer, p_amount bigint, p_counterparty text DEFAULT 'medsupply')
RETURNS text LANGUAGE sql AS $$
    SELECT format($f$SELECT invoiceflow.create_invoice(p_invoice_type => 'supplier_goods', p_paying_subdivision_id => %s,
        p_counterparty_id => %s, p_supplier_invoice_number => %L, p_supplier_invoice_date => current_date - %s,
        p_amount_minor => %s, p_purpose => 'dup test')$f$, fx.sub('ho'), fx.cp(p_counterparty), p_number, p_days_ago, p_amount)
$$;
GRANT EXECUTE ON FUNCTION fx.create_for(text, integer, bigint, text) TO PUBLIC;

SELECT is(invoiceflow.normalize_invoice_number(n), 'MC1', format('%L normalizes to MC1', n))
FROM unnest(ARRAY['МС-1', 'мс-1', 'MC 1', 'МС/1', '№ МС-1', 'mc.1', 'МC_1']) AS n;
SELECT is(invoiceflow.normalize_invoice_number('00123'), '123', 'leading zeros are stripped');
SELECT isnt(invoiceflow.normalize_invoice_number('MC-10'), invoiceflow.normalize_invoice_number('MC-1'),
    'a different number stays different');

SET SESSION AUTHORIZATION fx_anna;
-- fixture: draft МС-1 dated current_date - 1 for 1 200 000; approval МС-2 dated -2 for 2 500 000; withdrawn МС-7
SELECT is(fx.error_of(fx.create_for('МС-1', 1, 999)),
    format('IF004 | p_supplier_invoice_number | duplicate invoice: the same receiver, supplier invoice number and date or amount as invoice %s | earlier_invoice_id=%s',
           fx.inv('draft'), fx.inv('draft')),
    'same counterparty, number and date: IF004 naming her own earlier invoice');
SELECT throws_ok(fx.create_for('мс 1', 1, 999), 'IF004', NULL, 'the number is compared normalized (case, Cyrillic, separators)');
SELECT throws_ok(fx.create_for('MC-1', 40, 1200000), 'IF004', NULL, 'same number and amount on another date is a duplicate');
SELECT lives_ok(fx.create_for('MC-1', 40, 1200001), 'same number, another date and another amount is a new invoice');
SELECT lives_ok(fx.create_for('МС-1', 1, 1200000, 'cleanco'), 'the same number from another counterparty is a new invoice');
SELECT lives_ok(fx.create_for('МС-7', 7, 350000), 'a withdrawn invoice does not count as a duplicate');
SELECT throws_ok(fx.create_for('MC7', 7, 1), 'IF004', NULL, '... but its live replacement does');
SELECT lives_ok($$SELECT set_config('t.other', (SELECT id FROM invoiceflow.invoice
    WHERE supplier_invoice_number = 'MC-1' AND amount_minor = 1200001)::text, false)$$, 'remember the new invoice');
SELECT throws_ok(format('SELECT invoiceflow.edit_draft(%s, p_supplier_invoice_date => current_date - 1)', current_setting('t.other')),
    'IF004', NULL, 'an edit that makes a draft a duplicate is refused');
SELECT throws_ok(format('SELECT invoiceflow.edit_draft(%s, p_amount_minor => 1200000)', current_setting('t.other')),
    'IF004', NULL, 'so is an edit to the same amount');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*) FROM invoiceflow.invoice WHERE purpose = 'dup test'), 3::bigint, 'only the three new invoices were written');

-- vera cannot see anna's draft, but can see the invoice in approval (she substitutes its approver).
SET SESSION AUTHORIZATION fx_vera;
SELECT is(fx.error_of(fx.create_for('МС-1', 1, 5)),
    'IF004 | p_supplier_invoice_number | duplicate invoice: the same receiver, supplier invoice number and date or amount as an existing invoice',
    'a duplicate of an invoice the caller cannot see is refused without naming it');
SELECT is(fx.error_of(fx.create_for('МС-2', 2, 5)),
    format('IF004 | p_supplier_invoice_number | duplicate invoice: the same receiver, supplier invoice number and date or amount as invoice %s | earlier_invoice_id=%s',
           fx.inv('approval'), fx.inv('approval')),
    'a duplicate of an invoice the caller can see names it');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_wh_ivan;
SELECT is(fx.error_of(format($f$SELECT invoiceflow.create_invoice(p_invoice_type => 'operating_expenses',
        p_paying_subdivision_id => %s, p_counterparty_id => %s, p_supplier_invoice_number => 'МС-3',
        p_supplier_invoice_date => current_date - 3, p_amount_minor => 1, p_purpose => 'x')$f$, fx.sub('wh'), fx.cp('medsupply'))),
    'IF004 | p_supplier_invoice_number | duplicate invoice: the same receiver, supplier invoice number and date or amount as an existing invoice',
    'an initiator of another subdivision is refused but learns nothing about the earlier invoice');
SELECT throws_ok(format($f$SELECT invoiceflow.create_invoice(p_invoice_type => 'intercompany', p_paying_subdivision_id => %s,
        p_receiving_subdivision_id => %s, p_supplier_invoice_number => 'вг 7', p_supplier_invoice_date => current_date - 30,
        p_amount_minor => 120000000, p_purpose => 'x')$f$, fx.sub('wh'), fx.sub('ho')),
    'IF004', NULL, 'intercompany invoices are matched on the receiving subdivision');
SELECT has_index('invoiceflow', 'invoice', 'invoice_intercompany_duplicate_by_amount_key',
    'with their own unique backstop');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_treasurer;
SELECT ok(invoiceflow_private.invoice_visible(fx.inv('payment')) AND NOT invoiceflow_private.invoice_visible(fx.inv('draft')),
    'invoice_visible agrees with the policy for the treasurer (payment yes, draft no)');
SELECT ok(fx.inv('payment') IN (SELECT id FROM invoiceflow.invoice) AND fx.inv('draft') NOT IN (SELECT id FROM invoiceflow.invoice),
    'the policy agrees for the treasurer (payment yes, draft no)');
SELECT is((SELECT count(*) FROM (SELECT r.id FROM fx.ref AS r WHERE r.kind = 'invoice'
                                 AND invoiceflow_private.invoice_visible(r.id) <> (r.id IN (SELECT id FROM invoiceflow.invoice))) x),
    0::bigint, 'invoice_visible() matches the invoice_read policy for every fixture invoice');
RESET SESSION AUTHORIZATION;

-- The same comparison for every persona: the helper and the policy never disagree.
CREATE FUNCTION pg_temp.visibility_mismatches() RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    p record;
    v_bad text[] := '{}';
    v_seen bigint[];
    v_helper bigint[];
    v_all bigint[] := ARRAY(SELECT id FROM invoiceflow.invoice ORDER BY id);
BEGIN
    FOR p IN SELECT name, login_role FROM fx.person ORDER BY name LOOP
        EXECUTE format('SET SESSION AUTHORIZATION %I', p.login_role);
        BEGIN
            v_seen := ARRAY(SELECT id FROM invoiceflow.invoice ORDER BY id);
        EXCEPTION WHEN insufficient_privilege THEN
            v_seen := '{}';
        END;
        v_helper := ARRAY(SELECT i FROM unnest(v_all) AS i WHERE invoiceflow_private.invoice_visible(i) ORDER BY i);
        RESET SESSION AUTHORIZATION;
        IF v_seen IS DISTINCT FROM v_helper THEN
            v_bad := v_bad || format('%s: policy %s, helper %s', p.name, v_seen, v_helper);
        END IF;
    END LOOP;
    RETURN v_bad;
END
$$;
SELECT is(pg_temp.visibility_mismatches(), '{}'::text[], 'invoice_visible() and the policy agree for every persona');
SELECT ok((SELECT count(*) FROM fx.person) >= 20, 'that comparison covered all twenty personas');

-- The backstop for two concurrent creations: unique indexes over live invoices.
SELECT has_index('invoiceflow', 'invoice', 'invoice_duplicate_by_date_key', 'a unique index catches same-date races');
SELECT has_index('invoiceflow', 'invoice', 'invoice_duplicate_by_amount_key', 'a unique index catches same-amount races');

SELECT * FROM finish();
ROLLBACK;
