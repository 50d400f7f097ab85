-- 71_reports.sql: the reporting views on a generated history with known answers, and who sees what in them.
--
-- On top of fixtures/personas.sql, five invoices R1..R5 get a hand-written history in November 2026
-- (audit rows for every stage change, tasks with due dates, payments, one closing document). Every
-- expected number below was worked out by hand from that history (Moscow time, 09:00–18:00, Wednesday
-- 4 November a holiday) and is written as a literal; percentiles are interpolated (percentile_cont):
-- for sorted values v0..vn-1 the p-quantile is v[k] + f * (v[k+1] - v[k]) with k + f = p * (n - 1).
--
--   R1 HO  ivan  supplier_goods      draft 10:00 Mon 2 → approval 12:00 (petr rep_check due 18:00, approved
--                                     Tue 3 12:00: 9 h, overdue 3 h) → payment (kate rep_pay, done Thu 5
--                                     12:00: 9 h over the holiday) → closing_documents, collector ivan, no document
--   R2 HO  ivan  supplier_goods      Mon 9: draft 09–10 → approval (petr rejects 14:00: 4 h) → rejected → Tue 10
--                                     09:00 return → draft → 11:00 resubmit → approval (sasha decides for petr,
--                                     Wed 11 10:00: 8 h) → payment (kate, Thu 12 10:00: 9 h) → closing_documents
--                                     (document Fri 13, closed 10:00: 9 h) → closed
--   R3 HO  ivan  supplier_goods      Mon 16: draft 09–13 → approval, petr's task open since, due Tue 17 13:00
--   R4 WH  olga  operating_expenses  Mon 2: draft 09–12 → approval (rita, due Tue 3 12:00, approved Fri 6
--                                     12:00: 27 h, overdue 18 h) → payment (uma, Tue 10 12:00: 18 h) →
--                                     closing_documents (Wed 11 12:00: 9 h) → closed
--   R5 WH  olga  operating_expenses  Mon 23: draft 09–10 → approval (vera for rita, rejects 12:00: 2 h) →
--                                     rejected → withdrawn Tue 24 09:00 (rejected 6 h business, 21 h wall)
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/personas.sql

SELECT plan(52);

-- The history -----------------------------------------------------------------------------------------

CREATE TEMPORARY TABLE rep_invoice (label text PRIMARY KEY, id bigint NOT NULL) ON COMMIT DROP;
GRANT SELECT ON rep_invoice TO PUBLIC;

WITH spec (label, initiator, payer, type_code, amount, stage) AS (
    VALUES ('R1', 'ifp_ivan', 'ifp_ho', 'supplier_goods', 1000000, 'closing_documents'),
           ('R2', 'ifp_ivan', 'ifp_ho', 'supplier_goods', 2000000, 'closed'),
           ('R3', 'ifp_ivan', 'ifp_ho', 'supplier_goods', 3000000, 'approval'),
           ('R4', 'ifp_olga', 'ifp_wh', 'operating_expenses', 400000, 'closed'),
           ('R5', 'ifp_olga', 'ifp_wh', 'operating_expenses', 500000, 'withdrawn')
), inserted AS (
    INSERT INTO invoiceflow.invoice (invoice_type_id, confidential, paying_subdivision_id, counterparty_id,
        initiator_id, initiator_department_id, supplier_invoice_number, supplier_invoice_date, amount_minor, purpose)
    SELECT t.id, t.confidential, p.id, (SELECT c.id FROM invoiceflow.counterparty AS c WHERE c.name LIKE '%(C1)'), e.id,
        (SELECT a.department_id FROM invoiceflow.assignment AS a WHERE a.employee_id = e.id LIMIT 1),
        'REP-' || s.label, DATE '2026-10-30', s.amount, 'reports ' || s.label
    FROM spec AS s
    JOIN invoiceflow.invoice_type AS t ON t.code = s.type_code
    JOIN invoiceflow.subdivision AS p ON p.code = s.payer
    JOIN invoiceflow.employee AS e ON e.login_role = s.initiator
    RETURNING id, supplier_invoice_number
)
INSERT INTO rep_invoice SELECT substr(i.supplier_invoice_number, 5), i.id FROM inserted AS i;

UPDATE invoiceflow.invoice AS i SET stage = s.stage::invoiceflow.invoice_stage, submitted_at = s.submitted
FROM (VALUES ('R1', 'closing_documents', TIMESTAMPTZ '2026-11-02 12:00+03'), ('R2', 'closed', '2026-11-09 10:00+03'),
             ('R3', 'approval', '2026-11-16 13:00+03'), ('R4', 'closed', '2026-11-02 12:00+03'),
             ('R5', 'withdrawn', '2026-11-23 10:00+03')) AS s (label, stage, submitted)
JOIN rep_invoice AS r ON r.label = s.label
WHERE i.id = r.id;

-- Stage changes as the commands write them (after.stage differs from before.stage), in time order.
INSERT INTO invoiceflow.audit_log (occurred_at, invoice_id, entity, entity_id, action, channel, before, after, prev_hash, hash)
SELECT h.at, r.id, 'invoice', r.id, h.action, 'sql',
    CASE WHEN h.from_stage IS NOT NULL THEN jsonb_build_object('stage', h.from_stage) END,
    jsonb_build_object('stage', h.to_stage), '\x', '\x'
FROM (VALUES
    ('R1', TIMESTAMPTZ '2026-11-02 10:00+03', NULL, 'draft', 'create'),
    ('R1', '2026-11-02 12:00+03', 'draft', 'approval', 'submit'),
    ('R1', '2026-11-03 12:00+03', 'approval', 'payment', 'stage_payment'),
    ('R1', '2026-11-05 12:00+03', 'payment', 'closing_documents', 'pay'),
    ('R2', '2026-11-09 09:00+03', NULL, 'draft', 'create'),
    ('R2', '2026-11-09 10:00+03', 'draft', 'approval', 'submit'),
    ('R2', '2026-11-09 14:00+03', 'approval', 'rejected', 'reject'),
    ('R2', '2026-11-10 09:00+03', 'rejected', 'draft', 'return_for_rework'),
    ('R2', '2026-11-10 11:00+03', 'draft', 'approval', 'resubmit'),
    ('R2', '2026-11-11 10:00+03', 'approval', 'payment', 'stage_payment'),
    ('R2', '2026-11-12 10:00+03', 'payment', 'closing_documents', 'pay'),
    ('R2', '2026-11-13 10:00+03', 'closing_documents', 'closed', 'close'),
    ('R3', '2026-11-16 09:00+03', NULL, 'draft', 'create'),
    ('R3', '2026-11-16 13:00+03', 'draft', 'approval', 'submit'),
    ('R4', '2026-11-02 09:00+03', NULL, 'draft', 'create'),
    ('R4', '2026-11-02 12:00+03', 'draft', 'approval', 'submit'),
    ('R4', '2026-11-06 12:00+03', 'approval', 'payment', 'stage_payment'),
    ('R4', '2026-11-10 12:00+03', 'payment', 'closing_documents', 'pay'),
    ('R4', '2026-11-11 12:00+03', 'closing_documents', 'closed', 'close'),
    ('R5', '2026-11-23 09:00+03', NULL, 'draft', 'create'),
    ('R5', '2026-11-23 10:00+03', 'draft', 'approval', 'submit'),
    ('R5', '2026-11-23 12:00+03', 'approval', 'rejected', 'reject'),
    ('R5', '2026-11-24 09:00+03', 'rejected', 'withdrawn', 'withdraw')
) AS h (label, at, from_stage, to_stage, action)
JOIN rep_invoice AS r ON r.label = h.label
ORDER BY h.at, h.label;

INSERT INTO invoiceflow.task (invoice_id, step_key, kind, assignee_id, acting_for_id, due_at, created_at, outcome,
    decided_at, decided_by, decided_for_id, comment)
SELECT r.id, t.step, t.kind::invoiceflow.task_kind, a.id, f.id, t.due, t.created, t.outcome::invoiceflow.task_outcome,
    t.decided, d.id, df.id, CASE WHEN t.outcome = 'rejected' THEN 'reports: not this way' END
FROM (VALUES
    ('R1', 'rep_check', 'approve', 'ifp_petr', NULL, TIMESTAMPTZ '2026-11-02 18:00+03', TIMESTAMPTZ '2026-11-02 12:00+03',
        'approved', TIMESTAMPTZ '2026-11-03 12:00+03', 'ifp_petr', NULL),
    ('R1', 'rep_pay', 'pay', 'ifp_kate', NULL, '2026-11-05 18:00+03', '2026-11-03 12:00+03',
        'done', '2026-11-05 12:00+03', 'ifp_kate', NULL),
    ('R1', 'rep_collect', 'collect_documents', 'ifp_ivan', NULL, NULL, '2026-11-05 12:00+03', NULL, NULL, NULL, NULL),
    ('R2', 'rep_check', 'approve', 'ifp_petr', NULL, '2026-11-10 10:00+03', '2026-11-09 10:00+03',
        'rejected', '2026-11-09 14:00+03', 'ifp_petr', NULL),
    ('R2', 'rep_check', 'approve', 'ifp_petr', NULL, '2026-11-11 11:00+03', '2026-11-10 11:00+03',
        'approved', '2026-11-11 10:00+03', 'ifp_sasha', 'ifp_petr'),
    ('R2', 'rep_pay', 'pay', 'ifp_kate', NULL, NULL, '2026-11-11 10:00+03', 'done', '2026-11-12 10:00+03', 'ifp_kate', NULL),
    ('R3', 'rep_check', 'approve', 'ifp_petr', NULL, '2026-11-17 13:00+03', '2026-11-16 13:00+03', NULL, NULL, NULL, NULL),
    ('R4', 'rep_check', 'approve', 'ifp_rita', NULL, '2026-11-03 12:00+03', '2026-11-02 12:00+03',
        'approved', '2026-11-06 12:00+03', 'ifp_rita', NULL),
    ('R4', 'rep_pay', 'pay', 'ifp_uma', NULL, NULL, '2026-11-06 12:00+03', 'done', '2026-11-10 12:00+03', 'ifp_uma', NULL),
    ('R5', 'rep_check', 'approve', 'ifp_vera', 'ifp_rita', NULL, '2026-11-23 10:00+03',
        'rejected', '2026-11-23 12:00+03', 'ifp_vera', 'ifp_rita')
) AS t (label, step, kind, assignee, acting_for, due, created, outcome, decided, decider, decided_for)
JOIN rep_invoice AS r ON r.label = t.label
JOIN invoiceflow.employee AS a ON a.login_role = t.assignee
LEFT JOIN invoiceflow.employee AS f ON f.login_role = t.acting_for
LEFT JOIN invoiceflow.employee AS d ON d.login_role = t.decider
LEFT JOIN invoiceflow.employee AS df ON df.login_role = t.decided_for;

INSERT INTO invoiceflow.payment (invoice_id, paid_on, reference, amount_minor, currency, recorded_by)
SELECT r.id, p.paid_on, 'п/п ' || r.label, i.amount_minor, 'RUB', e.id
FROM (VALUES ('R1', DATE '2026-11-05', 'ifp_kate'), ('R2', '2026-11-12', 'ifp_kate'), ('R4', '2026-11-10', 'ifp_uma'))
    AS p (label, paid_on, payer)
JOIN rep_invoice AS r ON r.label = p.label
JOIN invoiceflow.invoice AS i ON i.id = r.id
JOIN invoiceflow.employee AS e ON e.login_role = p.payer;

INSERT INTO invoiceflow.closing_document (invoice_id, kind, number, document_date, recorded_by)
SELECT r.id, 'upd', 'УПД-' || r.label, DATE '2026-11-13', e.id
FROM rep_invoice AS r JOIN invoiceflow.employee AS e ON e.login_role = 'ifp_ivan'
WHERE r.label IN ('R2', 'R4');

-- A BI login through the read-only reporting role.
CREATE ROLE ifr_bi LOGIN IN ROLE invoiceflow_reporting;

-- Known answers (read as the BI login) ----------------------------------------------------------------

SET SESSION AUTHORIZATION ifr_bi;

SELECT results_eq(
    $$SELECT r.label, s.seq::integer, s.stage, s.business_hours, s.wall_hours
      FROM reporting.stage_span AS s JOIN rep_invoice AS r ON r.id = s.invoice_id
      WHERE NOT s.is_current ORDER BY r.label, s.seq$$,
    $$VALUES ('R1', 1, 'draft', 2.00, 2.00), ('R1', 2, 'approval', 9.00, 24.00), ('R1', 3, 'payment', 9.00, 48.00),
             ('R2', 1, 'draft', 1.00, 1.00), ('R2', 2, 'approval', 4.00, 4.00), ('R2', 3, 'rejected', 4.00, 19.00),
             ('R2', 4, 'draft', 2.00, 2.00), ('R2', 5, 'approval', 8.00, 23.00), ('R2', 6, 'payment', 9.00, 24.00),
             ('R2', 7, 'closing_documents', 9.00, 24.00),
             ('R3', 1, 'draft', 4.00, 4.00),
             ('R4', 1, 'draft', 3.00, 3.00), ('R4', 2, 'approval', 27.00, 96.00), ('R4', 3, 'payment', 18.00, 96.00),
             ('R4', 4, 'closing_documents', 9.00, 24.00),
             ('R5', 1, 'draft', 1.00, 1.00), ('R5', 2, 'approval', 2.00, 2.00), ('R5', 3, 'rejected', 6.00, 21.00)$$,
    'stage_span: every finished stay with its business and wall hours, across weekends and the 4 November holiday');
SELECT results_eq(
    $$SELECT r.label, s.stage, s.next_stage IS NULL FROM reporting.stage_span AS s JOIN rep_invoice AS r ON r.id = s.invoice_id
      WHERE s.is_current ORDER BY r.label$$,
    $$VALUES ('R1', 'closing_documents', true), ('R2', 'closed', true), ('R3', 'approval', true), ('R4', 'closed', true),
             ('R5', 'withdrawn', true)$$,
    'stage_span: the current stay of each invoice is its stage now');
SELECT is((SELECT s.entered_at FROM reporting.stage_span AS s JOIN rep_invoice AS r ON r.id = s.invoice_id
           WHERE r.label = 'R2' AND s.seq = 4),
    TIMESTAMPTZ '2026-11-10 09:00+03', 'stage_span: the return for rework starts a second draft stay');

SELECT results_eq(
    $$SELECT r.label, s.step_key, s.outcome::text, s.business_hours, s.wall_hours, s.sla_breached, s.overdue_business_hours
      FROM reporting.step_span AS s JOIN rep_invoice AS r ON r.id = s.invoice_id
      WHERE NOT s.is_open ORDER BY r.label, s.created_at$$,
    $$VALUES ('R1', 'rep_check', 'approved', 9.00, 24.00, true, 3.00), ('R1', 'rep_pay', 'done', 9.00, 48.00, false, NULL),
             ('R2', 'rep_check', 'rejected', 4.00, 4.00, false, NULL), ('R2', 'rep_check', 'approved', 8.00, 23.00, false, NULL),
             ('R2', 'rep_pay', 'done', 9.00, 24.00, false, NULL),
             ('R4', 'rep_check', 'approved', 27.00, 96.00, true, 18.00), ('R4', 'rep_pay', 'done', 18.00, 96.00, false, NULL),
             ('R5', 'rep_check', 'rejected', 2.00, 2.00, false, NULL)$$,
    'step_span: each decided task''s durations, SLA breach and business hours overdue');

SELECT results_eq(
    $$SELECT s.dimension, s.stage, s.key, s.stays::integer, s.p50_business_hours, s.p90_business_hours, s.max_business_hours,
             s.p50_wall_hours, s.p90_wall_hours, s.max_wall_hours
      FROM reporting.stage_duration_stats AS s
      WHERE (s.dimension, s.key) IN (('stage', 'all'), ('subdivision', 'ifp_ho'), ('invoice_type', 'operating_expenses'),
                                     ('month', '2026-11'))
        AND s.stage IN ('draft', 'approval')
      ORDER BY s.dimension, s.stage, s.key$$,
    $$VALUES
        ('invoice_type', 'approval', 'operating_expenses', 2, 14.50, 24.50, 27.00, 49.00, 86.60, 96.00),
        ('invoice_type', 'draft', 'operating_expenses', 2, 2.00, 2.80, 3.00, 2.00, 2.80, 3.00),
        ('month', 'approval', '2026-11', 5, 8.00, 19.80, 27.00, 23.00, 67.20, 96.00),
        ('month', 'draft', '2026-11', 6, 2.00, 3.50, 4.00, 2.00, 3.50, 4.00),
        ('stage', 'approval', 'all', 5, 8.00, 19.80, 27.00, 23.00, 67.20, 96.00),
        ('stage', 'draft', 'all', 6, 2.00, 3.50, 4.00, 2.00, 3.50, 4.00),
        ('subdivision', 'approval', 'ifp_ho', 3, 8.00, 8.80, 9.00, 23.00, 23.80, 24.00),
        ('subdivision', 'draft', 'ifp_ho', 4, 2.00, 3.40, 4.00, 2.00, 3.40, 4.00)$$,
    'stage_duration_stats: p50/p90/max per stage overall, per type, subdivision and month equal the hand-computed values');

SELECT results_eq(
    $$SELECT s.dimension, s.step_key, s.key, s.tasks::integer, s.p50_business_hours, s.p90_business_hours,
             s.max_business_hours
      FROM reporting.step_duration_stats AS s
      WHERE s.step_key LIKE 'rep\_%' AND s.dimension IN ('step', 'approver')
      ORDER BY s.dimension, s.step_key, s.key$$,
    $$VALUES
        ('approver', 'rep_check', 'Вера Межфирменная', 1, 2.00, 2.00, 2.00),
        ('approver', 'rep_check', 'Пётр Закупкин', 3, 8.00, 8.80, 9.00),
        ('approver', 'rep_check', 'Рита Складова', 1, 27.00, 27.00, 27.00),
        ('approver', 'rep_pay', 'Катя Казначеева', 2, 9.00, 9.00, 9.00),
        ('approver', 'rep_pay', 'Ума Посторонняя', 1, 18.00, 18.00, 18.00),
        ('step', 'rep_check', 'all', 5, 8.00, 19.80, 27.00),
        ('step', 'rep_pay', 'all', 3, 9.00, 16.20, 18.00)$$,
    'step_duration_stats: per step and per approver (holder), open and cancelled tasks left out');

SELECT results_eq(
    $$SELECT r.label, s.step_key, s.is_open, s.overdue_business_hours IS NOT NULL AND s.overdue_business_hours > 0
      FROM reporting.sla_breach AS s JOIN rep_invoice AS r ON r.id = s.invoice_id ORDER BY r.label$$,
    $$VALUES ('R1', 'rep_check', false, true), ('R3', 'rep_check', true, true), ('R4', 'rep_check', false, true)$$,
    'sla_breach: the two late decisions and the task still open past its due time, nothing else');
SELECT results_eq(
    $$SELECT b.step_key, b.kind::text, b.breaches::integer, b.open_breaches::integer, b.oldest_open_due_at,
             b.refreshed_at IS NULL
      FROM reporting.sla_breach_summary AS b WHERE b.step_key LIKE 'rep\_%'$$,
    $$VALUES ('rep_check', 'approve', 3, 1, TIMESTAMPTZ '2026-11-17 13:00+03', true)$$,
    'sla_breach_summary: three breaches of rep_check, one still open (R3, due 17 November 13:00); live before a refresh');
-- Independent check: count the working minutes from the due time to now one by one (no holiday falls in
-- between until 31 December; the test is good until then) and allow one minute for rounding.
SELECT ok(abs((SELECT s.overdue_business_hours FROM reporting.sla_breach AS s JOIN rep_invoice AS r ON r.id = s.invoice_id
               WHERE r.label = 'R3')
              - (SELECT count(*)::numeric / 60
                 FROM generate_series(TIMESTAMPTZ '2026-11-17 13:00+03', now() - INTERVAL '1 minute', INTERVAL '1 minute') AS m
                 CROSS JOIN LATERAL (SELECT (m AT TIME ZONE 'UTC') + INTERVAL '3 hours' AS l) AS x
                 WHERE x.l::time >= TIME '09:00' AND x.l::time < TIME '18:00' AND EXTRACT(isodow FROM x.l) < 6))
          <= 0.02 OR now() >= TIMESTAMPTZ '2026-12-31 00:00+03',
    'sla_breach: an open task''s overdue business hours run up to now (checked against a minute-by-minute count)');

SELECT results_eq(
    $$SELECT o.step_key, o.bucket, o.tasks::integer, o.breached::integer FROM reporting.open_task_age AS o
      WHERE o.step_key LIKE 'rep\_%' ORDER BY o.step_key$$,
    $$VALUES ('rep_check', '≥ 5 working days', 1, 1), ('rep_collect', '≥ 5 working days', 1, 0)$$,
    'open_task_age: the open approval (past due) and the open collection, both older than five working days');

SELECT results_eq(
    $$SELECT r.invoice_type, r.decisions::integer, r.rejected::integer, r.rejection_rate
      FROM reporting.rejection_rate AS r WHERE r.step_key = 'rep_check' ORDER BY r.invoice_type$$,
    $$VALUES ('operating_expenses', 2, 1, 0.5000), ('supplier_goods', 3, 1, 0.3333)$$,
    'rejection_rate: rejected / decided approvals per type and step');
SELECT results_eq(
    $$SELECT r.reworked_invoices::integer, r.returns::integer, r.submitted_invoices::integer, r.rework_rate
      FROM reporting.rework_rate AS r WHERE r.invoice_type = 'supplier_goods'$$,
    $$SELECT 1, 1, count(*)::integer, round(1::numeric / count(*), 4) FROM invoiceflow.invoice AS i
      JOIN invoiceflow.invoice_type AS t ON t.id = i.invoice_type_id
      WHERE t.code = 'supplier_goods' AND i.submitted_at IS NOT NULL$$,
    'rework_rate: one supplier invoice returned once among all submitted supplier invoices');

SELECT results_eq(
    $$SELECT r.label, p.collector_name, p.paid_on, p.paid_minor, p.days_since_payment, p.age_bucket
      FROM reporting.paid_without_documents AS p LEFT JOIN rep_invoice AS r ON r.id = p.invoice_id$$,
    $$SELECT 'R1', 'Иван Инициаторов', DATE '2026-11-05', 1000000::bigint, current_date - DATE '2026-11-05',
             CASE WHEN current_date - DATE '2026-11-05' <= 30 THEN '8–30 days' ELSE '31–90 days' END$$,
    'paid_without_documents: only R1 (paid in full, no document), with its collector and age; R2, R4 have documents');

SELECT results_eq(
    $$SELECT b.collector_name, b.age_bucket, b.bucket_order, b.currency, b.invoices::integer, b.amount_minor,
             b.oldest_paid_on, b.refreshed_at IS NULL
      FROM reporting.paid_without_documents_by_collector AS b$$,
    $$SELECT 'Иван Инициаторов', CASE WHEN current_date - DATE '2026-11-05' <= 30 THEN '8–30 days' ELSE '31–90 days' END,
             CASE WHEN current_date - DATE '2026-11-05' <= 30 THEN 2 ELSE 3 END, 'RUB', 1, 1000000::bigint,
             DATE '2026-11-05', true$$,
    'paid_without_documents_by_collector: R1''s collector, age bucket, count and sum; live before the first refresh');

SELECT results_eq(
    $$SELECT p.paid_on, p.is_payment_day, p.paying_subdivision, p.currency, p.payments::integer, p.invoices::integer,
             p.amount_minor
      FROM reporting.payment_registry AS p ORDER BY p.paid_on, p.paying_subdivision$$,
    $$VALUES (DATE '2026-11-05', true, 'ifp_ho', 'RUB', 1, 1, 1000000::bigint),
             (DATE '2026-11-10', true, 'ifp_wh', 'RUB', 1, 1, 400000::bigint),
             (DATE '2026-11-12', true, 'ifp_ho', 'RUB', 1, 1, 2000000::bigint),
             (DATE '2026-11-20', false, 'ifp_ho', 'RUB', 2, 1, 900000::bigint)$$,
    'payment_registry: totals per payment day; the fixture''s Friday payments are flagged off the registry days');

SELECT results_eq(
    $$SELECT r.label, s.deputy_name, s.absent_name, s.how, s.outcome::text
      FROM reporting.substitution_use AS s JOIN rep_invoice AS r ON r.id = s.invoice_id ORDER BY r.label$$,
    $$VALUES ('R2', 'Саша Заместитель', 'Пётр Закупкин', 'decided_as_deputy', 'approved'),
             ('R5', 'Вера Межфирменная', 'Рита Складова', 'assigned_to_deputy', 'rejected')$$,
    'substitution_use: a deputy deciding for the absent holder, and a task the router gave to a deputy');

SELECT results_eq(
    $$SELECT r.label, s.stage::text, s.holders, s.is_open FROM reporting.invoice_status AS s
      JOIN rep_invoice AS r ON r.id = s.invoice_id ORDER BY r.label$$,
    $$VALUES ('R1', 'closing_documents', 'Иван Инициаторов', true), ('R2', 'closed', NULL, false),
             ('R3', 'approval', 'Пётр Закупкин', true), ('R4', 'closed', NULL, false), ('R5', 'withdrawn', NULL, false)$$,
    'invoice_status: stage and holder of each invoice now');
SELECT is_empty($$SELECT * FROM reporting.escalation$$, 'escalation: none in this history');

-- Every business-time figure of the views equals invoiceflow.business_hours() of its two ends: the function
-- path (two look-ups through business_seconds_at, checked against a brute-force count in 70_working_calendar)
-- is independent of the views' joins (0031), keyed joins (0061, 0062) and key look-ups (0063).
SELECT is_empty(
    $$SELECT s.invoice_id FROM reporting.invoice_status AS s JOIN invoiceflow.invoice AS i ON i.id = s.invoice_id
      WHERE s.stage_age_business_hours IS DISTINCT FROM invoiceflow.business_hours(i.stage_changed_at, now())
         OR s.age_since_submission_business_hours IS DISTINCT FROM invoiceflow.business_hours(i.submitted_at, now())$$,
    'invoice_status: stage and submission ages in business hours equal business_hours() up to now, for every invoice');
SELECT is_empty(
    $$SELECT s.invoice_id, s.seq FROM reporting.stage_span AS s
      WHERE s.business_hours IS DISTINCT FROM invoiceflow.business_hours(s.entered_at, coalesce(s.left_at, now()))$$,
    'stage_span: every stay''s business hours (finished and current) equal business_hours() of its ends');
SELECT is_empty(
    $$SELECT b.task_id FROM reporting.sla_breach AS b
      WHERE b.overdue_business_hours IS DISTINCT FROM invoiceflow.business_hours(b.due_at, coalesce(b.decided_at, now()))$$,
    'sla_breach: business hours overdue equal business_hours() from due_at to the decision or now');
-- R3 was submitted on Monday 16 November 13:00: count its working minutes since one by one (no holiday falls
-- in between until 31 December; the test is good until then), allowing a minute for rounding.
SELECT ok(abs((SELECT s.age_since_submission_business_hours FROM reporting.invoice_status AS s
               JOIN rep_invoice AS r ON r.id = s.invoice_id WHERE r.label = 'R3')
              - (SELECT count(*)::numeric / 60
                 FROM generate_series(TIMESTAMPTZ '2026-11-16 13:00+03', now() - INTERVAL '1 minute', INTERVAL '1 minute') AS m
                 CROSS JOIN LATERAL (SELECT (m AT TIME ZONE 'UTC') + INTERVAL '3 hours' AS l) AS x
                 WHERE x.l::time >= TIME '09:00' AND x.l::time < TIME '18:00' AND EXTRACT(isodow FROM x.l) < 6))
          <= 0.02 OR now() >= TIMESTAMPTZ '2026-12-31 00:00+03',
    'invoice_status: business hours since submission across weekends (checked against a minute-by-minute count)');

RESET SESSION AUTHORIZATION;

-- Escalations are recognised in the router's audit detail -----------------------------------------------

INSERT INTO invoiceflow.audit_log (occurred_at, invoice_id, entity, entity_id, action, channel, after, comment, prev_hash, hash)
SELECT TIMESTAMPTZ '2026-11-16 13:00+03', r.id, 'invoice', r.id, a.action, 'daemon', a.after::jsonb, 'test', '\x', '\x'
FROM rep_invoice AS r
CROSS JOIN (VALUES
    ('route_step_started', '{"step": "rep_check", "resolution": {"participants": [{"escalatedVia": [7, 3]}]}}'),
    ('route_step_started', '{"step": "rep_other", "resolution": {"participants": [{"escalatedVia": []}]}}'),
    ('route_escalated', '{"step": "rep_check"}')) AS a (action, after)
WHERE r.label = 'R3';
-- The scheduler's rows about R1: its late approval escalated (naming the task), its documents overdue twice
-- (the collector, then the head), once through daemon_note_routing's route_* name; an unrelated route_ note.
INSERT INTO invoiceflow.audit_log (occurred_at, invoice_id, entity, entity_id, action, channel, after, comment, prev_hash, hash)
SELECT TIMESTAMPTZ '2026-11-20 09:00+03', r.id, 'invoice', r.id, a.action,
    'daemon', replace(a.after, '$task', t.id::text)::jsonb, 'test', '\x', '\x'
FROM rep_invoice AS r
JOIN invoiceflow.task AS t ON t.invoice_id = r.id AND t.step_key = 'rep_check'
CROSS JOIN (VALUES
    ('route_escalated', '{"step": "rep_check", "task_id": $task}'),
    ('documents_overdue', '{"step": "rep_collect"}'),
    ('route_documents_overdue', '{"step_key": "rep_collect"}'),
    ('route_step_completed', '{"step": "rep_check"}')) AS a (action, after)
WHERE r.label = 'R1';
SET SESSION AUTHORIZATION ifr_bi;
SELECT results_eq(
    $$SELECT r.label, e.step_key, e.reason, e.task_id IS NOT NULL FROM reporting.escalation AS e
      JOIN rep_invoice AS r ON r.id = e.invoice_id ORDER BY r.label, e.reason, e.audit_id$$,
    $$VALUES ('R1', 'rep_collect', 'documents_overdue', false), ('R1', 'rep_collect', 'documents_overdue', false),
             ('R1', 'rep_check', 'overdue', true),
             ('R3', 'rep_check', 'nobody_could_act', false), ('R3', 'rep_check', 'overdue', false)$$,
    'escalation: routing-time (non-empty escalatedVia), overdue (route_escalated) and documents_overdue (both spellings); '
    'an empty path or another route_ note is not one');
SELECT results_eq(
    $$SELECT r.label, s.escalations::integer FROM reporting.sla_breach AS s JOIN rep_invoice AS r ON r.id = s.invoice_id
      ORDER BY r.label$$,
    $$VALUES ('R1', 1), ('R3', 1), ('R4', 0)$$,
    'sla_breach: escalations per late task (R1 by its task id, R3 by its step; R4 was never escalated)');
SELECT is((SELECT e.task_id FROM reporting.escalation AS e JOIN rep_invoice AS r ON r.id = e.invoice_id
           WHERE r.label = 'R1' AND e.reason = 'overdue'),
    (SELECT t.id FROM invoiceflow.task AS t JOIN rep_invoice AS r ON r.id = t.invoice_id
     WHERE r.label = 'R1' AND t.step_key = 'rep_check'),
    'escalation: task_id is the late task named in the detail');
RESET SESSION AUTHORIZATION;

-- Who sees what -------------------------------------------------------------------------------------------

-- R-invoice truth, worked out from invariant 6: initiators their own; task holders theirs (Sasha stands in for
-- Petr now and decided on R2; Vera holds R5 but substitutes Rita for intercompany only, so not R4; Rita sees R5,
-- whose task was given to Vera for her); HO
-- finance (Kate the treasurer, Cora the CEO) the HO invoices; Uma paid R4; the auditor everything.
CREATE TEMPORARY TABLE rep_sees (login_role text, label text) ON COMMIT DROP;
INSERT INTO rep_sees SELECT r, unnest(string_to_array(l, ' '))
FROM (VALUES ('ifp_ivan', 'R1 R2 R3'), ('ifp_olga', 'R4 R5'), ('ifp_petr', 'R1 R2 R3'), ('ifp_sasha', 'R1 R2 R3'),
             ('ifp_rita', 'R4 R5'), ('ifp_vera', 'R5'), ('ifp_kate', 'R1 R2 R3'), ('ifp_cora', 'R1 R2 R3'),
             ('ifp_uma', 'R4'), ('ifp_alex', 'R1 R2 R3 R4 R5'), ('ifr_bi', 'R1 R2 R3 R4 R5')) AS t (r, l);
INSERT INTO rep_sees SELECT 'ifr_bi', s.label FROM persona_sees AS s WHERE s.login_role = 'ifp_alex';
CREATE TEMPORARY TABLE all_sees ON COMMIT DROP AS
SELECT login_role, label FROM persona_sees UNION SELECT login_role, label FROM rep_sees;
CREATE TEMPORARY TABLE any_label ON COMMIT DROP AS
SELECT label, id FROM persona_invoice UNION ALL SELECT label, id FROM rep_invoice;
GRANT SELECT ON all_sees, any_label TO PUBLIC;

CREATE TEMPORARY TABLE rep_view (relation text) ON COMMIT DROP;
INSERT INTO rep_view VALUES ('reporting.invoice_status'), ('reporting.stage_span'), ('reporting.step_span'),
    ('reporting.sla_breach'), ('reporting.escalation'), ('reporting.paid_without_documents'),
    ('reporting.substitution_use');
CREATE TEMPORARY TABLE rep_viewer ON COMMIT DROP AS
SELECT login_role FROM persona WHERE login_role NOT IN ('ifp_adam') UNION ALL SELECT 'ifr_bi';

-- Per-invoice views: the labels each viewer finds equal what it may see among the labels present.
CREATE TEMPORARY TABLE rep_observed (viewer text, relation text, seen text, expected text) ON COMMIT DROP;
DO $$
DECLARE
    v record;
    r record;
    seen text;
    present text[];
    names text[] := '{}';
    rels text[] := '{}';
    results text[] := '{}';
BEGIN
    FOR v IN SELECT * FROM rep_viewer ORDER BY login_role LOOP
        FOR r IN SELECT * FROM rep_view ORDER BY relation LOOP
            EXECUTE format('SET SESSION AUTHORIZATION %I', v.login_role);
            BEGIN
                EXECUTE format('SELECT coalesce(string_agg(DISTINCT coalesce(l.label, %L), %L ORDER BY coalesce(l.label, %L)), %L) '
                    'FROM %s AS x LEFT JOIN any_label AS l ON l.id = x.invoice_id', '?', ' ', '?', '', r.relation) INTO seen;
            EXCEPTION WHEN OTHERS THEN
                seen := 'error ' || SQLSTATE;
            END;
            RESET SESSION AUTHORIZATION;
            names := names || v.login_role;
            rels := rels || r.relation;
            results := results || seen;
        END LOOP;
    END LOOP;
    INSERT INTO rep_observed (viewer, relation, seen) SELECT * FROM unnest(names, rels, results);
    FOR r IN SELECT * FROM rep_view LOOP
        EXECUTE format('SELECT array_agg(DISTINCT l.label) FROM %s AS x JOIN any_label AS l ON l.id = x.invoice_id', r.relation)
            INTO present;
        UPDATE rep_observed AS o SET expected = (
            SELECT coalesce(string_agg(s.label, ' ' ORDER BY s.label), '') FROM all_sees AS s
            WHERE s.login_role = o.viewer AND s.label = ANY (coalesce(present, '{}')))
        WHERE o.relation = r.relation;
    END LOOP;
END
$$;

SELECT is((SELECT count(*)::integer FROM rep_observed), 14 * 7, 'fourteen viewers × seven per-invoice report views observed');
SELECT is_empty(
    $$SELECT viewer, relation, seen, expected FROM rep_observed WHERE seen IS DISTINCT FROM expected ORDER BY 1, 2$$,
    'every viewer finds in every per-invoice report exactly the invoices it may see (initiators, approvers, deputies, '
    'finance, auditor, BI role; nobody else anything)');
SELECT is((SELECT seen FROM rep_observed WHERE viewer = 'ifp_kate' AND relation = 'reporting.stage_span'), 'R1 R2 R3',
    'the HO treasurer''s stage report covers the HO invoices only');
SELECT is((SELECT seen FROM rep_observed WHERE viewer = 'ifp_uma' AND relation = 'reporting.step_span'), 'R4',
    'the employee who paid R4 sees R4''s steps and nothing else');
SELECT is((SELECT seen FROM rep_observed WHERE viewer = 'ifp_ghost' AND relation = 'reporting.invoice_status'), '',
    'a login that is nobody sees no invoice in any report');

-- Aggregates: counted over what the viewer may see (finished stays and decided rep_* tasks per R invoice).
CREATE TEMPORARY TABLE rep_count (label text, finished_stays integer, decided_rep_tasks integer) ON COMMIT DROP;
INSERT INTO rep_count VALUES ('R1', 3, 2), ('R2', 7, 3), ('R3', 1, 0), ('R4', 4, 2), ('R5', 3, 1);
GRANT SELECT ON rep_count TO PUBLIC;
CREATE TEMPORARY TABLE agg_observed (viewer text, stays integer, tasks integer) ON COMMIT DROP;
DO $$
DECLARE
    v record;
    n_stays integer;
    n_tasks integer;
    names text[] := '{}';
    s_arr integer[] := '{}';
    t_arr integer[] := '{}';
BEGIN
    FOR v IN SELECT * FROM rep_viewer ORDER BY login_role LOOP
        EXECUTE format('SET SESSION AUTHORIZATION %I', v.login_role);
        SELECT coalesce(sum(s.stays), 0) INTO n_stays FROM reporting.stage_duration_stats AS s
        WHERE s.dimension = 'stage';
        SELECT coalesce(sum(s.tasks), 0) INTO n_tasks FROM reporting.step_duration_stats AS s
        WHERE s.dimension = 'step' AND s.step_key LIKE 'rep\_%';
        RESET SESSION AUTHORIZATION;
        names := names || v.login_role;
        s_arr := s_arr || n_stays;
        t_arr := t_arr || n_tasks;
    END LOOP;
    INSERT INTO agg_observed SELECT * FROM unnest(names, s_arr, t_arr);
END
$$;
SELECT is_empty(
    $$SELECT o.viewer, o.stays, o.tasks, e.stays, e.tasks FROM agg_observed AS o
      LEFT JOIN (SELECT v.login_role, coalesce(sum(c.finished_stays), 0)::integer AS stays,
                        coalesce(sum(c.decided_rep_tasks), 0)::integer AS tasks
                 FROM rep_viewer AS v LEFT JOIN rep_sees AS s ON s.login_role = v.login_role
                 LEFT JOIN rep_count AS c ON c.label = s.label GROUP BY v.login_role) AS e ON e.login_role = o.viewer
      WHERE (o.stays, o.tasks) IS DISTINCT FROM (e.stays, e.tasks)$$,
    'duration statistics aggregate only what each viewer may see (e.g. Uma: 4 stays, 2 tasks; Kate: 11, 5)');

-- The reporting role and admins --------------------------------------------------------------------------

SET SESSION AUTHORIZATION ifp_adam;
SELECT throws_ok($$SELECT * FROM reporting.stage_span$$, '42501', NULL, 'an admin (not an employee) gets no report data');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ifr_bi;
SELECT throws_ok($$INSERT INTO invoiceflow.invoice_comment (invoice_id, author_id, body) SELECT id, 1, 'x' FROM rep_invoice LIMIT 1$$,
    '42501', NULL, 'the reporting role writes no table');
SELECT throws_ok($$SELECT invoiceflow.add_comment((SELECT id FROM rep_invoice LIMIT 1), 'x')$$, '42501', NULL,
    'the reporting role runs no command');
SELECT throws_ok($$SELECT invoiceflow.set_working_day('2027-01-11', false, 'x')$$, '42501', NULL,
    'the reporting role cannot change the calendar');
SELECT throws_ok($$UPDATE invoiceflow.invoice SET purpose = 'x' WHERE id = (SELECT id FROM rep_invoice LIMIT 1)$$,
    '42501', NULL, 'the reporting role updates no invoice');
SELECT throws_ok($$SELECT * FROM invoiceflow.refresh_reports()$$, '42501', NULL,
    'the reporting role cannot refresh the snapshots it reads');
SELECT is((SELECT count(*)::integer FROM invoiceflow.audit_log WHERE invoice_id IS NULL) > 0, true,
    'the reporting role reads the whole audit log like an auditor');
RESET SESSION AUTHORIZATION;

-- Snapshots: auditors read stored aggregates after refresh_reports(), everyone else live figures --------

SET SESSION AUTHORIZATION ifp_ivan;
SELECT throws_ok($$SELECT * FROM invoiceflow.refresh_reports()$$, '42501', NULL, 'an employee cannot refresh the reports');
SELECT is((SELECT count(*)::integer FROM invoiceflow_private.report_snapshot_rows('stage_duration_stats')), 0,
    'an employee gets nothing from the snapshot reader');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT results_eq($$SELECT report, row_count > 0 FROM invoiceflow.refresh_reports() ORDER BY report$$,
    $$VALUES ('open_task_age', true), ('paid_without_documents_by_collector', true), ('payment_registry', true),
             ('rejection_rate', true), ('rework_rate', true), ('sla_breach_summary', true), ('stage_duration_stats', true),
             ('step_duration_stats', true)$$,
    'the daemon refreshes the eight aggregate reports');
RESET SESSION AUTHORIZATION;

-- A change after the refresh: R3 leaves approval (one more finished approval stay).
INSERT INTO invoiceflow.audit_log (occurred_at, invoice_id, entity, entity_id, action, channel, before, after, prev_hash, hash)
SELECT TIMESTAMPTZ '2026-11-18 13:00+03', r.id, 'invoice', r.id, 'stage_payment', 'daemon',
    '{"stage": "approval"}', '{"stage": "payment"}', '\x', '\x'
FROM rep_invoice AS r WHERE r.label = 'R3';

SET SESSION AUTHORIZATION ifr_bi;
SELECT results_eq(
    $$SELECT s.stays::integer, s.p50_business_hours, s.p90_business_hours, s.max_business_hours, s.refreshed_at IS NOT NULL
      FROM reporting.stage_duration_stats AS s WHERE s.dimension = 'stage' AND s.stage = 'approval'$$,
    $$VALUES (5, 8.00, 19.80, 27.00, true)$$,
    'the reporting role reads the snapshot: the figures as refreshed, with refreshed_at');
SELECT is((SELECT count(*)::integer FROM reporting.payment_registry WHERE refreshed_at IS NULL), 0,
    'every aggregate row the reporting role reads comes from the snapshot');
SELECT results_eq(
    $$SELECT b.collector_name, b.invoices::integer, b.amount_minor, b.refreshed_at IS NOT NULL
      FROM reporting.paid_without_documents_by_collector AS b$$,
    $$VALUES ('Иван Инициаторов', 1, 1000000::bigint, true)$$,
    'the reporting role reads the documents backlog from the snapshot');
SELECT results_eq(
    $$SELECT b.breaches::integer, b.open_breaches::integer, b.refreshed_at IS NOT NULL
      FROM reporting.sla_breach_summary AS b WHERE b.step_key = 'rep_check'$$,
    $$VALUES (3, 1, true)$$,
    'the reporting role reads the SLA breach counts from the snapshot');
RESET SESSION AUTHORIZATION;
-- The backlog by collector follows visibility: R1 for its initiator and HO finance, nothing for the WH side.
CREATE TEMPORARY TABLE backlog_seen (login_role text, rows_seen integer, live boolean) ON COMMIT DROP;
GRANT INSERT ON backlog_seen TO PUBLIC;
DO $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['ifp_ivan', 'ifp_kate', 'ifp_olga', 'ifp_uma', 'ifp_ghost'] LOOP
        EXECUTE format('SET SESSION AUTHORIZATION %I', v);
        INSERT INTO backlog_seen
        SELECT v, coalesce(sum(b.invoices), 0)::integer, bool_and(b.refreshed_at IS NULL) IS NOT FALSE
        FROM reporting.paid_without_documents_by_collector AS b;
        RESET SESSION AUTHORIZATION;
    END LOOP;
END
$$;
SELECT results_eq(
    $$SELECT login_role, rows_seen, live FROM backlog_seen ORDER BY login_role$$,
    $$VALUES ('ifp_ghost', 0, true), ('ifp_ivan', 1, true), ('ifp_kate', 1, true), ('ifp_olga', 0, true), ('ifp_uma', 0, true)$$,
    'paid_without_documents_by_collector: employees get live figures over what they may see (R1: Ivan, HO finance)');
SET SESSION AUTHORIZATION ifp_ivan;
SELECT results_eq(
    $$SELECT s.stays::integer, s.refreshed_at IS NULL
      FROM reporting.stage_duration_stats AS s WHERE s.dimension = 'stage' AND s.stage = 'approval'$$,
    $$VALUES (4, true)$$,
    'the initiator reads live figures over his own invoices, including the change after the refresh');
RESET SESSION AUTHORIZATION;

-- The reporting schema's own hygiene (00_catalog_hygiene walks only the invoiceflow* schemas) ------------

SELECT is_empty(
    $$SELECT c.relname FROM pg_catalog.pg_class AS c
      WHERE c.relnamespace = 'reporting'::regnamespace
        AND (c.relkind <> 'v' OR NOT coalesce('security_invoker=true' = ANY (c.reloptions), false)
             OR pg_catalog.pg_get_userbyid(c.relowner) <> 'invoiceflow_owner'
             OR coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '') = '')$$,
    'the reporting schema holds only security_invoker views owned by invoiceflow_owner, each with a COMMENT');
SELECT is_empty(
    $$SELECT c.relname || ' ' || a.privilege_type || ' ' || coalesce(r.rolname, 'PUBLIC')
      FROM pg_catalog.pg_class AS c,
           LATERAL pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) AS a
      LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = a.grantee
      WHERE c.relnamespace = 'reporting'::regnamespace AND a.grantee <> c.relowner
        AND (a.privilege_type <> 'SELECT' OR a.grantee = 0)$$,
    'report views grant only SELECT, and nothing to PUBLIC');
SELECT is_empty(
    $$SELECT p.proname FROM pg_catalog.pg_proc AS p WHERE p.pronamespace = 'reporting'::regnamespace$$,
    'no function lives in the reporting schema (nothing there runs with other rights)');
SELECT is((SELECT r.rolcanlogin OR r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolcreatedb
           FROM pg_catalog.pg_roles AS r WHERE r.rolname = 'invoiceflow_reporting'), false,
    'invoiceflow_reporting cannot log in by itself and holds no special attribute');
SELECT is_empty(
    $$SELECT n.nspname FROM pg_catalog.pg_namespace AS n
      WHERE n.nspname = 'reporting' AND (pg_catalog.pg_get_userbyid(n.nspowner) <> 'invoiceflow_owner'
          OR pg_catalog.has_schema_privilege('invoiceflow_reporting', n.oid, 'CREATE')
          OR pg_catalog.has_schema_privilege('invoiceflow_employee', n.oid, 'CREATE'))$$,
    'the reporting schema belongs to the owner and nobody else may create in it');

SELECT * FROM finish();
ROLLBACK;
