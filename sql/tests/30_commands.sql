-- 30_commands.sql: the command functions — happy paths and refusals, stage checks, input errors that
-- name the field, exactly one audit row and one routing work item per state change, nothing partial.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(121);

-- Counters read as the superuser between persona steps.
CREATE FUNCTION pg_temp.audit_rows_since(p_id bigint) RETURNS bigint LANGUAGE sql AS
    $$ SELECT count(*) FROM invoiceflow.audit_log WHERE id > p_id $$;
CREATE FUNCTION pg_temp.work_since(p_id bigint, p_kind text) RETURNS bigint LANGUAGE sql AS
    $$ SELECT count(*) FROM invoiceflow_private.work_item WHERE id > p_id AND kind = p_kind $$;
CREATE FUNCTION pg_temp.stage(p_invoice bigint) RETURNS text LANGUAGE sql AS
    $$ SELECT stage::text FROM invoiceflow.invoice WHERE id = p_invoice $$;

-- ---------------------------------------------------------------- create and edit a draft
SELECT max(id) AS a0 FROM invoiceflow.audit_log \gset
SELECT coalesce(max(id), 0) AS w0 FROM invoiceflow_private.work_item \gset
SET SESSION AUTHORIZATION fx_anna;
SELECT lives_ok($$SELECT set_config('t.new', invoiceflow.create_invoice(
    p_invoice_type => 'operating_expenses', p_paying_subdivision_id => fx.sub('ho'), p_counterparty_id => fx.cp('cleanco'),
    p_supplier_invoice_number => 'CL-1', p_supplier_invoice_date => current_date, p_amount_minor => 100000,
    p_purpose => 'Уборка офиса')::text, false)$$, 'an employee creates a draft');
RESET SESSION AUTHORIZATION;
SELECT current_setting('t.new')::bigint AS new_id \gset
SELECT is(pg_temp.stage(:new_id), 'draft', 'a new invoice is a draft');
SELECT is((SELECT initiator_id FROM invoiceflow.invoice WHERE id = :new_id), fx.emp('anna'), 'the caller is its initiator');
SELECT is((SELECT initiator_department_id FROM invoiceflow.invoice WHERE id = :new_id), fx.dep('ho_purchasing'),
    'the initiator''s current department is kept');
SELECT is((SELECT currency || '/' || vat_minor FROM invoiceflow.invoice WHERE id = :new_id), 'RUB/0', 'currency and VAT default');
SELECT is(pg_temp.audit_rows_since(:a0), 1::bigint, 'create writes exactly one audit row');
SELECT is((SELECT action || '/' || channel || '/' || actor_employee_id FROM invoiceflow.audit_log WHERE id = :a0 + 1),
    'create/sql/' || fx.emp('anna'), 'the audit row names the action, the channel and the actor');
SELECT is(pg_temp.work_since(:w0, 'created'), 1::bigint, 'create queues one work item');

SET SESSION AUTHORIZATION fx_anna;
SELECT throws_ok($$SELECT invoiceflow.create_invoice(p_invoice_type => 'nonsense', p_paying_subdivision_id => fx.sub('ho'),
    p_counterparty_id => fx.cp('cleanco'), p_supplier_invoice_number => 'X', p_supplier_invoice_date => current_date,
    p_amount_minor => 1, p_purpose => 'x')$$, 'IF001', NULL, 'an unknown invoice type is IF001');
SELECT throws_like($$SELECT invoiceflow.create_invoice(p_invoice_type => 'operating_expenses', p_paying_subdivision_id => fx.sub('ho'),
    p_counterparty_id => fx.cp('cleanco'), p_supplier_invoice_number => 'X', p_supplier_invoice_date => current_date,
    p_amount_minor => 0, p_purpose => 'x')$$, '%p_amount_minor%', 'a zero amount is refused naming p_amount_minor');
SELECT throws_ok($$SELECT invoiceflow.create_invoice(p_invoice_type => 'operating_expenses', p_paying_subdivision_id => fx.sub('ho'),
    p_counterparty_id => fx.cp('cleanco'), p_supplier_invoice_number => 'X', p_supplier_invoice_date => current_date,
    p_amount_minor => -5, p_purpose => 'x')$$, 'IF001', 'p_amount_minor: must be a positive number of minor units',
    'a negative amount is IF001 with the field in the message');
SELECT throws_like($$SELECT invoiceflow.create_invoice(p_invoice_type => 'operating_expenses', p_paying_subdivision_id => fx.sub('ho'),
    p_counterparty_id => fx.cp('cleanco'), p_supplier_invoice_number => 'X', p_supplier_invoice_date => current_date,
    p_amount_minor => 10, p_currency => 'rub', p_purpose => 'x')$$, '%p_currency%', 'a lower-case currency is refused');
SELECT throws_like($$SELECT invoiceflow.create_invoice(p_invoice_type => 'operating_expenses', p_paying_subdivision_id => fx.sub('ho'),
    p_counterparty_id => fx.cp('cleanco'), p_supplier_invoice_number => 'X', p_supplier_invoice_date => current_date,
    p_amount_minor => 10, p_vat_minor => 11, p_purpose => 'x')$$, '%p_vat_minor%', 'VAT above the amount is refused');
SELECT throws_like($$SELECT invoiceflow.create_invoice(p_invoice_type => 'operating_expenses', p_paying_subdivision_id => fx.sub('ho'),
    p_counterparty_id => fx.cp('cleanco'), p_supplier_invoice_number => '  ', p_supplier_invoice_date => current_date,
    p_amount_minor => 10, p_purpose => 'x')$$, '%p_supplier_invoice_number%', 'a blank supplier number is refused');
SELECT throws_like($$SELECT invoiceflow.create_invoice(p_invoice_type => 'operating_expenses', p_paying_subdivision_id => fx.sub('ho'),
    p_counterparty_id => fx.cp('cleanco'), p_supplier_invoice_number => 'X', p_supplier_invoice_date => current_date + 30,
    p_amount_minor => 10, p_purpose => 'x')$$, '%p_supplier_invoice_date%', 'a supplier date in the future is refused');
SELECT throws_like($$SELECT invoiceflow.create_invoice(p_invoice_type => 'operating_expenses', p_paying_subdivision_id => fx.sub('ho'),
    p_counterparty_id => fx.cp('cleanco'), p_supplier_invoice_number => 'X', p_supplier_invoice_date => current_date,
    p_amount_minor => 10, p_purpose => '')$$, '%p_purpose%', 'a blank purpose is refused');
SELECT throws_like($$SELECT invoiceflow.create_invoice(p_invoice_type => 'operating_expenses', p_paying_subdivision_id => fx.sub('ho'),
    p_supplier_invoice_number => 'X', p_supplier_invoice_date => current_date, p_amount_minor => 10, p_purpose => 'x')$$,
    '%p_counterparty_id%', 'no receiver at all is refused');
SELECT throws_like($$SELECT invoiceflow.create_invoice(p_invoice_type => 'operating_expenses', p_paying_subdivision_id => fx.sub('ho'),
    p_counterparty_id => fx.cp('cleanco'), p_receiving_subdivision_id => fx.sub('wh'), p_supplier_invoice_number => 'X',
    p_supplier_invoice_date => current_date, p_amount_minor => 10, p_purpose => 'x')$$,
    '%p_counterparty_id%', 'two receivers are refused');
SELECT throws_like($$SELECT invoiceflow.create_invoice(p_invoice_type => 'intercompany', p_paying_subdivision_id => fx.sub('ho'),
    p_counterparty_id => fx.cp('cleanco'), p_supplier_invoice_number => 'X', p_supplier_invoice_date => current_date,
    p_amount_minor => 10, p_purpose => 'x')$$, '%p_receiving_subdivision_id%', 'an intercompany invoice needs a receiving subdivision');
SELECT throws_ok($$SELECT invoiceflow.create_invoice(p_invoice_type => 'operating_expenses', p_paying_subdivision_id => fx.sub('wh'),
    p_counterparty_id => fx.cp('cleanco'), p_supplier_invoice_number => 'X', p_supplier_invoice_date => current_date,
    p_amount_minor => 10, p_purpose => 'x')$$, 'IF002', NULL, 'an employee cannot charge a subdivision they are not assigned to');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.audit_rows_since(:a0), 1::bigint, 'refused creations wrote no audit rows');
SELECT is((SELECT count(*) FROM invoiceflow.invoice WHERE initiator_id = fx.emp('anna')), 8::bigint,
    'refused creations wrote no invoices (nothing partial)');

SET SESSION AUTHORIZATION fx_auditor;
SELECT throws_ok($$SELECT invoiceflow.create_invoice(p_invoice_type => 'operating_expenses', p_paying_subdivision_id => fx.sub('ho'),
    p_counterparty_id => fx.cp('cleanco'), p_supplier_invoice_number => 'AUD', p_supplier_invoice_date => current_date,
    p_amount_minor => 10, p_purpose => 'x')$$, '42501', NULL, 'an auditor cannot even call a command');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_nobody;
SELECT throws_ok($$SELECT invoiceflow.create_invoice(p_invoice_type => 'operating_expenses', p_paying_subdivision_id => fx.sub('ho'),
    p_counterparty_id => fx.cp('cleanco'), p_supplier_invoice_number => 'NB', p_supplier_invoice_date => current_date,
    p_amount_minor => 10, p_purpose => 'x')$$, 'IF002', NULL, 'a login role that is no employee is refused with IF002');
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION fx_anna;
SELECT is(invoiceflow.edit_draft(:new_id, p_expected_version => 1, p_amount_minor => 150000, p_purpose => 'Уборка офиса, ноябрь'),
    2, 'the initiator edits her draft and gets the new version');
SELECT throws_ok(format('SELECT invoiceflow.edit_draft(%s, p_expected_version => 1, p_amount_minor => 1)', :new_id),
    'IF006', NULL, 'an edit from a stale version is IF006');
SELECT throws_like(format('SELECT invoiceflow.edit_draft(%s, p_vat_minor => 999999999)', :new_id), '%p_vat_minor%',
    'an edit is validated like a creation');
SELECT lives_ok(format($$SELECT invoiceflow.add_attachment(%s, 'scan.pdf', 'application/pdf', '\x255044462d'::bytea)$$, :new_id),
    'the initiator attaches a file to her draft');
SELECT throws_like(format($$SELECT invoiceflow.add_attachment(%s, 'scan.pdf', 'application/pdf', '\x01'::bytea, '\x02'::bytea)$$,
    :new_id), '%p_sha256%', 'a hash that does not match the content is refused');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT amount_minor FROM invoiceflow.invoice WHERE id = :new_id), 150000::bigint, 'the edit changed the amount');
SELECT is((SELECT encode(sha256, 'hex') FROM invoiceflow.attachment WHERE invoice_id = :new_id),
    encode(sha256('\x255044462d'::bytea), 'hex'), 'the attachment''s SHA-256 is computed from its content');
SELECT is((SELECT before ->> 'amount_minor' || '→' || (after ->> 'amount_minor') FROM invoiceflow.audit_log
           WHERE invoice_id = :new_id AND action = 'edit'), '100000→150000', 'the edit''s audit row has before and after values');

SET SESSION AUTHORIZATION fx_boris;
SELECT throws_ok(format('SELECT invoiceflow.edit_draft(%s, p_amount_minor => 1)', :new_id), 'IF007', NULL,
    'someone else cannot even find another person''s draft');
SELECT throws_ok(format('SELECT invoiceflow.submit_invoice(%s)', :new_id), 'IF007', NULL, 'nor submit it');
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- submit, withdraw, return, resubmit
SELECT max(id) AS a1 FROM invoiceflow.audit_log \gset
SELECT max(id) AS w1 FROM invoiceflow_private.work_item \gset
SET SESSION AUTHORIZATION fx_anna;
SELECT throws_ok(format('SELECT invoiceflow.submit_invoice(%s, 1)', :new_id), 'IF006', NULL, 'submitting a stale version is IF006');
SELECT lives_ok(format('SELECT invoiceflow.submit_invoice(%s, 2)', :new_id), 'the initiator submits her draft');
SELECT throws_ok(format('SELECT invoiceflow.submit_invoice(%s)', :new_id), 'IF003', NULL, 'submitting twice is a wrong stage');
SELECT throws_ok(format('SELECT invoiceflow.edit_draft(%s, p_purpose => %L)', :new_id, 'changed'), 'IF003', NULL,
    'a submitted invoice cannot be edited');
SELECT throws_ok(format($$SELECT invoiceflow.add_attachment(%s, 'late.pdf', 'application/pdf', '\x01'::bytea)$$, :new_id),
    'IF003', NULL, 'nor get new attachments');
SELECT lives_ok(format($$SELECT invoiceflow.add_comment(%s, 'Срочно')$$, :new_id), 'but comments are allowed at every stage');
SELECT throws_like(format($$SELECT invoiceflow.add_comment(%s, ' ')$$, :new_id), '%p_body%', 'an empty comment is refused');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.stage(:new_id), 'approval', 'submission moves the invoice to approval');
SELECT isnt((SELECT submitted_at FROM invoiceflow.invoice WHERE id = :new_id), NULL, 'and stamps submitted_at');
SELECT is(pg_temp.audit_rows_since(:a1), 2::bigint, 'submit and comment wrote one audit row each; refusals none');
SELECT is(pg_temp.work_since(:w1, 'submitted'), 1::bigint, 'submission queues one routing work item');

SET SESSION AUTHORIZATION fx_vera;
SELECT throws_ok(format($$SELECT invoiceflow.return_for_rework(%s, 'fix it')$$, :new_id), 'IF007', NULL,
    'a stranger to the invoice cannot return it');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_anna;
SELECT throws_like(format($$SELECT invoiceflow.return_for_rework(%s, '')$$, :new_id), '%p_comment%', 'a return needs a comment');
SELECT lives_ok(format($$SELECT invoiceflow.return_for_rework(%s, 'забыла договор')$$, :new_id),
    'the initiator pulls her invoice back for rework');
SELECT lives_ok(format('SELECT invoiceflow.edit_draft(%s, p_purpose => %L)', :new_id, 'Уборка офиса по договору 12'),
    'after a return the draft can be edited');
SELECT lives_ok(format('SELECT invoiceflow.resubmit_invoice(%s)', :new_id), 'and resubmitted');
SELECT throws_ok(format('SELECT invoiceflow.resubmit_invoice(%s)', fx.inv('draft')), 'IF003', NULL,
    'resubmitting a never-submitted draft is a wrong stage');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT string_agg(action, ',' ORDER BY id) FROM invoiceflow.audit_log WHERE invoice_id = :new_id AND id > :a1),
    'submit,comment,return_for_rework,edit,resubmit', 'the history keeps every step of the rework');
SELECT is(pg_temp.work_since(:w1, 'resubmitted'), 1::bigint, 'resubmission queues a resubmitted work item');

SET SESSION AUTHORIZATION fx_anna;
SELECT throws_like(format($$SELECT invoiceflow.withdraw_invoice(%s, NULL)$$, :new_id), '%p_reason%', 'withdrawal needs a reason');
SELECT lives_ok(format($$SELECT invoiceflow.withdraw_invoice(%s, 'не нужно')$$, :new_id), 'the initiator withdraws her invoice');
SELECT throws_ok(format($$SELECT invoiceflow.withdraw_invoice(%s, 'again')$$, :new_id), 'IF003', NULL, 'a withdrawn invoice stays withdrawn');
SELECT throws_ok(format($$SELECT invoiceflow.withdraw_invoice(%s, 'too late')$$, fx.inv('payment')), 'IF003', NULL,
    'an invoice in payment can no longer be withdrawn');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.stage(:new_id), 'withdrawn', 'withdrawal is a stage, nothing is deleted');

-- ---------------------------------------------------------------- deciding tasks
SELECT max(id) AS a2 FROM invoiceflow.audit_log \gset
SELECT max(id) AS w2 FROM invoiceflow_private.work_item \gset
SET SESSION AUTHORIZATION fx_cfo;
SELECT throws_ok(format($$SELECT invoiceflow.decide_task(%s, 'approve')$$, fx.task('approval_boris')), 'IF002', NULL,
    'a visible task of someone else cannot be decided');
SELECT throws_like(format($$SELECT invoiceflow.decide_task(%s, 'maybe')$$, fx.task('approval_cfo')), '%p_decision%',
    'an unknown decision is refused naming p_decision');
SELECT throws_like(format($$SELECT invoiceflow.decide_task(%s, 'reject')$$, fx.task('approval_cfo')), '%p_comment%',
    'a rejection needs a comment');
SELECT throws_like(format($$SELECT invoiceflow.decide_task(%s, 'approve_with_remarks', ' ')$$, fx.task('approval_cfo')),
    '%p_comment%', 'approval with remarks needs the remarks');
SELECT lives_ok(format($$SELECT invoiceflow.decide_task(%s, 'approve')$$, fx.task('approval_cfo')), 'the CFO approves his task');
SELECT throws_ok(format($$SELECT invoiceflow.decide_task(%s, 'reject', 'changed my mind')$$, fx.task('approval_cfo')),
    'IF006', NULL, 'a decided task cannot be decided again');
SELECT throws_ok(format($$SELECT invoiceflow.decide_task(%s, 'approve')$$, fx.task('payment_pay')), 'IF002', NULL,
    'someone else''s pay task is not his to decide');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT outcome::text || '/' || (decided_by = fx.emp('cfo')) FROM invoiceflow.task WHERE id = fx.task('approval_cfo')),
    'approved/true', 'the decision is recorded on the task');
SELECT is(pg_temp.audit_rows_since(:a2), 1::bigint, 'one decision, one audit row');
SELECT is(pg_temp.work_since(:w2, 'task_decided'), 1::bigint, 'a decision queues routing');
SELECT is(pg_temp.stage(fx.inv('approval')), 'approval', 'an approval leaves the stage to the router');

SET SESSION AUTHORIZATION fx_treasurer;
SELECT throws_ok(format($$SELECT invoiceflow.decide_task(%s, 'approve')$$, fx.task('payment_pay')), 'IF003', NULL,
    'a pay task is completed by record_payment, not decided');
RESET SESSION AUTHORIZATION;

-- vera substitutes for boris now: she decides his task in his name
SET SESSION AUTHORIZATION fx_vera;
SELECT is((SELECT count(*) FROM invoiceflow.my_tasks WHERE task_id = fx.task('approval_boris') AND acting_for_id = fx.emp('boris')),
    1::bigint, 'the current deputy sees the absent approver''s task in my_tasks, marked for whom');
SELECT lives_ok(format($$SELECT invoiceflow.decide_task(%s, 'reject', 'Цена выше договорной')$$, fx.task('approval_boris')),
    'the deputy rejects for the absent approver');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT decided_by || '/' || decided_for_id FROM invoiceflow.task WHERE id = fx.task('approval_boris')),
    fx.emp('vera') || '/' || fx.emp('boris'), 'the task records who decided and for whom');
SELECT is((SELECT actor_employee_id || '/' || acting_for_employee_id || '/' || comment FROM invoiceflow.audit_log
           WHERE entity = 'task' AND entity_id = fx.task('approval_boris') AND action = 'reject'),
    fx.emp('vera') || '/' || fx.emp('boris') || '/Цена выше договорной', 'so does the audit row, with the comment');
SELECT is(pg_temp.stage(fx.inv('approval')), 'rejected', 'a rejection returns the invoice to its initiator');
SELECT is(pg_temp.work_since(:w2, 'rejected'), 1::bigint, 'and queues routing (the initiator gets told)');

SET SESSION AUTHORIZATION fx_gleb;
SELECT throws_ok(format($$SELECT invoiceflow.decide_task(%s, 'approve')$$, fx.task('payroll_chief')), 'IF007', NULL,
    'a deputy outside his substitution''s time range finds nothing');
RESET SESSION AUTHORIZATION;

-- delegation
SET SESSION AUTHORIZATION fx_kirill;
SELECT throws_like(format($$SELECT invoiceflow.delegate_task(%s, %s, '')$$, fx.task('intercompany_kirill'), fx.emp('ceo')),
    '%p_comment%', 'delegation needs a reason');
SELECT throws_ok(format($$SELECT invoiceflow.delegate_task(%s, %s, 'сам не могу')$$, fx.task('intercompany_kirill'), fx.emp('wh_ivan')),
    'IF005', NULL, 'a task cannot be delegated to the invoice''s initiator');
SELECT lives_ok(format($$SELECT set_config('t.delegated', invoiceflow.delegate_task(%s, %s, 'в отпуске')::text, false)$$,
    fx.task('intercompany_kirill'), fx.emp('ceo')), 'the holder delegates his task');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT outcome::text FROM invoiceflow.task WHERE id = fx.task('intercompany_kirill')), 'delegated',
    'the original task ends as delegated');
SELECT is((SELECT assignee_id || '/' || delegated_from_task_id FROM invoiceflow.task WHERE id = current_setting('t.delegated')::bigint),
    fx.emp('ceo') || '/' || fx.task('intercompany_kirill'), 'a new task for the delegate points to the original');

-- ---------------------------------------------------------------- payments, documents, close
SELECT max(id) AS a3 FROM invoiceflow.audit_log \gset
SET SESSION AUTHORIZATION fx_anna;
SELECT throws_ok(format($$SELECT invoiceflow.record_payment(%s, 100, current_date, 'X')$$, fx.inv('payment')), 'IF002', NULL,
    'an initiator without a finance role cannot record payments');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_wh_treasurer;
SELECT throws_ok(format($$SELECT invoiceflow.record_payment(%s, 100, current_date, 'X')$$, fx.inv('payment')), 'IF007', NULL,
    'a treasurer of another subdivision does not even see the invoice');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_treasurer;
SELECT throws_ok(format($$SELECT invoiceflow.record_payment(%s, 100, current_date, 'X')$$, fx.inv('approval')), 'IF003', NULL,
    'payments are refused outside the payment stage');
SELECT throws_like(format($$SELECT invoiceflow.record_payment(%s, 100, current_date, '')$$, fx.inv('payment')), '%p_reference%',
    'a payment needs its reference');
SELECT throws_like(format($$SELECT invoiceflow.record_payment(%s, 100, current_date + 3, 'X')$$, fx.inv('payment')), '%p_paid_on%',
    'a payment cannot be dated in the future');
SELECT throws_like(format($$SELECT invoiceflow.record_payment(%s, 100, current_date, 'X', 'USD')$$, fx.inv('payment')),
    '%currency%', 'a payment in another currency is refused');
SELECT lives_ok(format($$SELECT invoiceflow.record_payment(%s, 1800000, current_date, 'ПП-1')$$, fx.inv('payment')),
    'the treasurer records a partial payment');
SELECT throws_ok(format($$SELECT invoiceflow.record_payment(%s, 3000001, current_date, 'ПП-2')$$, fx.inv('payment')), 'IF010', NULL,
    'payments cannot add up to more than the amount');
SELECT is(pg_temp.stage(fx.inv('payment')), 'payment', 'a partial payment keeps the invoice in payment');
SELECT lives_ok(format($$SELECT invoiceflow.record_payment(%s, 3000000, current_date, 'ПП-2')$$, fx.inv('payment')),
    'the rest is paid');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT sum(amount_minor) FROM invoiceflow.payment WHERE invoice_id = fx.inv('payment')), 4800000::numeric,
    'partial payments add up to the amount');
SELECT is(pg_temp.stage(fx.inv('payment')), 'closing_documents', 'a fully paid invoice moves to closing documents');
SELECT is((SELECT outcome::text FROM invoiceflow.task WHERE id = fx.task('payment_pay')), 'done', 'its pay task is done');
SELECT is(pg_temp.audit_rows_since(:a3), 2::bigint, 'two payments, two audit rows');

SET SESSION AUTHORIZATION fx_outsider;
SELECT throws_ok(format($$SELECT invoiceflow.record_closing_document(%s, 'upd', '1', current_date)$$, fx.inv('closing')),
    'IF007', NULL, 'an unrelated employee cannot record documents');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_clerk;
SELECT throws_ok(format($$SELECT invoiceflow.close_invoice(%s)$$, fx.inv('closing')), 'IF003', NULL,
    'an invoice without closing documents cannot be closed');
SELECT throws_like(format($$SELECT invoiceflow.record_closing_document(%s, 'receipt', '1', current_date)$$, fx.inv('closing')),
    '%p_kind%', 'an unknown document kind is refused');
SELECT throws_ok(format($$SELECT invoiceflow.record_closing_document(%s, 'upd', '1', current_date)$$, fx.inv('draft')),
    'IF007', NULL, 'a draft is not visible to the clerk');
SELECT lives_ok(format($$SELECT invoiceflow.record_closing_document(%s, 'upd', 'УПД-77', current_date)$$, fx.inv('closing')),
    'the document clerk records the УПД');
SELECT lives_ok(format($$SELECT invoiceflow.close_invoice(%s)$$, fx.inv('closing')), 'and closes the invoice');
SELECT throws_ok(format($$SELECT invoiceflow.close_invoice(%s)$$, fx.inv('closing')), 'IF003', NULL, 'a closed invoice stays closed');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.stage(fx.inv('closing')), 'closed', 'the invoice is closed');
SELECT is((SELECT outcome::text FROM invoiceflow.task WHERE id = fx.task('closing_collect')), 'done', 'its collection task is done');

-- ---------------------------------------------------------------- administration and the daemon's functions
SET SESSION AUTHORIZATION fx_anna;
SELECT throws_ok($$SELECT invoiceflow.hire_employee('X', 'x@example.test')$$, '42501', NULL, 'employees cannot administer');
SELECT throws_ok(format('SELECT invoiceflow.daemon_create_task(%s, %L, %L, %s)', fx.inv('draft'), 's', 'approve', fx.emp('boris')),
    '42501', NULL, 'people cannot call the daemon''s functions');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION fx_admin;
SELECT throws_like($$SELECT invoiceflow.add_counterparty('Bad', '7701000018', '770101001', '044525225', '40702810100000000101')$$,
    '%p_inn%', 'an invalid ИНН is refused naming p_inn');
SELECT throws_like($$SELECT invoiceflow.add_counterparty('Bad', '7701000019', '770101001', '044525225', '40702810100000000102')$$,
    '%p_settlement_account%', 'an account failing the БИК key is refused');
SELECT throws_like($$SELECT invoiceflow.add_counterparty('Bad', '7701000019', NULL, '044525225', '40702810100000000101')$$,
    '%p_kpp%', 'a legal entity needs a КПП');
SELECT throws_ok($$SELECT invoiceflow.add_counterparty('Twin', '5004000040', '500401001', '044525593', '40702810700000000101')$$,
    'IF011', NULL, 'the same ИНН and КПП twice is a conflict');
SELECT throws_ok(format($$SELECT invoiceflow.assign_employee(%s, %s, 'specialist', now() - interval '1 day')$$,
    fx.emp('anna'), fx.dep('ho_purchasing')), 'IF011', NULL, 'an overlapping duplicate assignment is refused');
SELECT throws_like(format($$SELECT invoiceflow.add_substitution(%s, %s, now(), now() + interval '1 day', 'x')$$,
    fx.emp('anna'), fx.emp('anna')), '%p_deputy_employee_id%', 'nobody substitutes for themselves');
SELECT throws_ok($$SELECT invoiceflow.hire_employee('Me Myself', 'me@example.test', 'fx_admin')$$, 'IF005', NULL,
    'an admin cannot map their own login role to an employee (no self-granted authority)');
SELECT throws_ok(format($$SELECT invoiceflow.add_substitution(%s, %s, now(), now() + interval '1 day', 'x')$$,
    fx.emp('boris'), fx.emp('gleb')), 'IF011', NULL, 'two deputies for one person at once are ambiguous');
SELECT throws_ok(format($$SELECT invoiceflow.add_substitution(%s, %s, now(), now() + interval '1 day', 'x')$$,
    fx.emp('vera'), fx.emp('gleb')), 'IF011', NULL, 'a deputy who is away herself would make a chain');
SELECT lives_ok(format($$SELECT invoiceflow.end_assignment(a.id) FROM invoiceflow.assignment a WHERE a.employee_id = %s$$,
    fx.emp('outsider') || ' AND upper_inf(a.valid)'), 'an admin ends an assignment');
RESET SESSION AUTHORIZATION;
SELECT ok((SELECT NOT upper_inf(valid) FROM invoiceflow.assignment WHERE employee_id = fx.emp('outsider') AND lower(valid) > now() - interval '13 months'),
    'the ended assignment keeps its history with an upper bound');

SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT throws_ok(format('SELECT invoiceflow.daemon_create_task(%s, %L, %L, %s)', fx.inv('draft'), 's', 'approve', fx.emp('boris')),
    'IF003', NULL, 'the router cannot create an approval task for a draft');
SELECT throws_ok(format('SELECT invoiceflow.daemon_set_stage(%s, %L)', fx.inv('rejected'), 'payment'), 'IF003', NULL,
    'the router cannot move a rejected invoice to payment');
SELECT throws_ok(format('SELECT invoiceflow.daemon_set_stage(%s, %L)', fx.inv('intercompany'), 'payment'), 'IF003', NULL,
    'nor an invoice with open approval tasks');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
