-- bench/reports/generate.sql: a generated registry of :invoices invoices (psql -v invoices=N) with their full
-- history: audit rows for every stage change and decision, tasks with due dates, payments, closing
-- documents, spread over 2025–2026 (about one invoice a minute). Run as a superuser on a freshly migrated
-- database. The load switches triggers off (session_replication_role = replica) to write millions of rows
-- in minutes: the guards and the audit hash chain are not exercised here (the pgTAP suites do that), so
-- audit_verify() would report this chain as broken. Only reading speed is measured.
\set ON_ERROR_STOP on
SET session_replication_role = replica;
SET synchronous_commit = off;

INSERT INTO invoiceflow.subdivision (code, name, inn, kpp, bik, settlement_account, correspondent_account)
VALUES ('ho', 'ООО «Медтехника»', '7725088527', '772501001', '044525225', '40702810938000012345', '30101810400000000225'),
       ('wh', 'ООО «Медтехника-Склад»', '7715034360', '771501001', '044030827', '40702810900000002851', '30101810200000000827');
INSERT INTO invoiceflow.counterparty (name, inn, kpp, bik, settlement_account)
VALUES ('ООО «Поставщик»', '7707083893', '770701001', '045004641', '40702810600000000001');
INSERT INTO invoiceflow.employee (full_name, email)
SELECT 'Сотрудник ' || g, 'e' || g || '@example.test' FROM generate_series(1, 300) AS g;

CREATE TEMPORARY TABLE plan_row AS
SELECT g,
       (SELECT array_agg(t.id ORDER BY t.id) FROM invoiceflow.invoice_type AS t
        WHERE t.code IN ('supplier_goods', 'operating_expenses', 'intercompany'))[1 + g % 2] AS type_id,
       (SELECT s.id FROM invoiceflow.subdivision AS s WHERE s.code = CASE WHEN g % 3 = 0 THEN 'wh' ELSE 'ho' END) AS sub_id,
       (SELECT min(e.id) FROM invoiceflow.employee AS e) + g % 200 AS initiator,
       (SELECT min(e.id) FROM invoiceflow.employee AS e) + 200 + g % 60 AS approver,
       (SELECT min(e.id) FROM invoiceflow.employee AS e) + 260 + g % 40 AS payer,
       g % 20 AS fate,
       TIMESTAMPTZ '2025-01-09 09:00+03' + g * INTERVAL '59 seconds' AS t0,
       ((g * 7919) % 480) * INTERVAL '1 minute' AS d_draft,
       ((g * 104729) % 5760) * INTERVAL '1 minute' AS d_approval,
       ((g * 1299709) % 4320) * INTERVAL '1 minute' AS d_payment,
       ((g * 15485863) % 20160) * INTERVAL '1 minute' AS d_documents
FROM generate_series(1::bigint, :invoices) AS g;
-- fate: 0–13 closed, 14 closing_documents, 15 payment, 16–17 approval, 18 rejected, 19 withdrawn

INSERT INTO invoiceflow.invoice (invoice_type_id, paying_subdivision_id, counterparty_id, initiator_id,
    supplier_invoice_number, supplier_invoice_date, amount_minor, purpose, stage, created_at, submitted_at, stage_changed_at)
SELECT p.type_id, p.sub_id, (SELECT c.id FROM invoiceflow.counterparty AS c), p.initiator, 'B-' || p.g,
    (p.t0 AT TIME ZONE 'UTC')::date, 10000 + (p.g * 31) % 10000000, 'bench ' || p.g,
    (CASE WHEN p.fate <= 13 THEN 'closed' WHEN p.fate = 14 THEN 'closing_documents' WHEN p.fate = 15 THEN 'payment'
          WHEN p.fate <= 17 THEN 'approval' WHEN p.fate = 18 THEN 'rejected' ELSE 'withdrawn' END)::invoiceflow.invoice_stage,
    p.t0, p.t0 + p.d_draft,
    CASE WHEN p.fate <= 13 THEN p.t0 + p.d_draft + p.d_approval + p.d_payment + p.d_documents
         WHEN p.fate = 14 THEN p.t0 + p.d_draft + p.d_approval + p.d_payment
         WHEN p.fate = 15 THEN p.t0 + p.d_draft + p.d_approval
         WHEN p.fate <= 17 THEN p.t0 + p.d_draft
         ELSE p.t0 + p.d_draft + p.d_approval END
FROM plan_row AS p;

CREATE TEMPORARY TABLE inv_map AS
SELECT p.*, i.id AS invoice_id FROM plan_row AS p JOIN invoiceflow.invoice AS i ON i.supplier_invoice_number = 'B-' || p.g;

-- The audit history: ids g*8+k keep each invoice's rows in time order.
INSERT INTO invoiceflow.audit_log (id, occurred_at, invoice_id, entity, entity_id, action, channel, before, after,
    session_role, transaction_id, prev_hash, hash)
SELECT m.invoice_id * 8 + e.k, e.at, m.invoice_id, 'invoice', m.invoice_id, e.action, 'sql',
    CASE WHEN e.from_stage IS NOT NULL THEN jsonb_build_object('stage', e.from_stage) END,
    jsonb_build_object('stage', e.to_stage), 'postgres', '0'::xid8, '\x', '\x'
FROM inv_map AS m
CROSS JOIN LATERAL (VALUES
    (0, m.t0, 'create', NULL, 'draft', true),
    (1, m.t0 + m.d_draft, 'submit', 'draft', 'approval', true),
    (2, m.t0 + m.d_draft + m.d_approval, 'approve', 'approval', 'approval', m.fate <= 15),
    (3, m.t0 + m.d_draft + m.d_approval, 'stage_payment', 'approval', 'payment', m.fate <= 15),
    (4, m.t0 + m.d_draft + m.d_approval + m.d_payment, 'pay', 'payment', 'closing_documents', m.fate <= 14),
    (5, m.t0 + m.d_draft + m.d_approval + m.d_payment + m.d_documents, 'close', 'closing_documents', 'closed', m.fate <= 13),
    (2, m.t0 + m.d_draft + m.d_approval, 'reject', 'approval', 'rejected', m.fate = 18),
    (2, m.t0 + m.d_draft + m.d_approval, 'withdraw', 'approval', 'withdrawn', m.fate = 19)
) AS e (k, at, action, from_stage, to_stage, wanted)
WHERE e.wanted;
UPDATE invoiceflow_private.audit_chain_head SET last_id = (SELECT max(id) FROM invoiceflow.audit_log);

INSERT INTO invoiceflow.task (invoice_id, step_key, kind, assignee_id, due_at, created_at, outcome, decided_at, decided_by, comment)
SELECT m.invoice_id, x.step, x.kind::invoiceflow.task_kind, x.who, x.created + INTERVAL '1 day', x.created,
    x.outcome::invoiceflow.task_outcome, CASE WHEN x.outcome IS NOT NULL THEN x.created + x.took END,
    CASE WHEN x.outcome IS NOT NULL THEN x.who END, CASE WHEN x.outcome = 'rejected' THEN 'bench' END
FROM inv_map AS m
CROSS JOIN LATERAL (VALUES
    (CASE WHEN m.g % 2 = 0 THEN 'department_head' ELSE 'cfo' END, 'approve', m.approver, m.t0 + m.d_draft, m.d_approval,
     CASE WHEN m.fate <= 15 THEN 'approved' WHEN m.fate = 18 THEN 'rejected' WHEN m.fate = 19 THEN 'cancelled' END, true),
    ('payment', 'pay', m.payer, m.t0 + m.d_draft + m.d_approval, m.d_payment,
     CASE WHEN m.fate <= 14 THEN 'done' END, m.fate <= 15),
    ('closing_documents', 'collect_documents', m.initiator, m.t0 + m.d_draft + m.d_approval + m.d_payment, m.d_documents,
     CASE WHEN m.fate <= 13 THEN 'done' END, m.fate <= 14)
) AS x (step, kind, who, created, took, outcome, wanted)
WHERE x.wanted;

INSERT INTO invoiceflow.payment (invoice_id, paid_on, reference, amount_minor, currency, recorded_by, recorded_at)
SELECT m.invoice_id, ((m.t0 + m.d_draft + m.d_approval + m.d_payment) AT TIME ZONE 'Europe/Moscow')::date, 'п/п ' || m.g,
    i.amount_minor, 'RUB', m.payer, m.t0 + m.d_draft + m.d_approval + m.d_payment
FROM inv_map AS m JOIN invoiceflow.invoice AS i ON i.id = m.invoice_id
WHERE m.fate <= 14;

INSERT INTO invoiceflow.closing_document (invoice_id, kind, number, document_date, recorded_by, recorded_at)
SELECT m.invoice_id, 'upd', 'УПД-' || m.g, ((m.t0 + m.d_draft + m.d_approval + m.d_payment + m.d_documents)
    AT TIME ZONE 'Europe/Moscow')::date, m.initiator, m.t0 + m.d_draft + m.d_approval + m.d_payment + m.d_documents
FROM inv_map AS m WHERE m.fate <= 13;

RESET session_replication_role;
-- A live registry is vacuumed by autovacuum as it grows; a bulk load of minutes is not yet, and without
-- the visibility map the covering indexes of 0032 (paid_without_documents) cannot answer index-only.
VACUUM (ANALYZE) invoiceflow.invoice, invoiceflow.task, invoiceflow.payment, invoiceflow.closing_document,
    invoiceflow.audit_log;
ANALYZE;
