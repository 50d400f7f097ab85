-- The benchmark's company (run as the superuser on a migrated database): one subdivision, a management,
-- finance and office department, the approvers of the operating-expenses route, and INITIATORS office
-- specialists who log in as themselves (bench_initiator_N, members of invoiceflow_employee), as real
-- employees do, and 200 suppliers. psql variable: initiators.
\set ON_ERROR_STOP on
SELECT format('CREATE ROLE bench_initiator_%s LOGIN IN ROLE invoiceflow_employee', n)
FROM generate_series(1, :initiators) AS n \gexec

BEGIN;
INSERT INTO invoiceflow.subdivision (code, name, inn, kpp, bik, settlement_account, correspondent_account)
VALUES ('head_office', 'ООО «Медтех Групп»', '7701000019', '770101001', '044525225', '40702810100000000101',
        '30101810400000000225');
INSERT INTO invoiceflow.department (subdivision_id, name)
SELECT id, 'Management' FROM invoiceflow.subdivision;
INSERT INTO invoiceflow.department (subdivision_id, parent_id, name)
SELECT d.subdivision_id, d.id, n FROM invoiceflow.department AS d, unnest(ARRAY['Finance', 'Office']) AS n
WHERE d.name = 'Management';
INSERT INTO invoiceflow.employee (full_name, email, login_role)
SELECT p.name, p.name || '@example.com', p.login
FROM (VALUES ('ceo', NULL), ('cfo', NULL), ('chief_acc', NULL), ('treasurer', NULL), ('accountant', NULL),
             ('accountant2', NULL), ('clerk', NULL), ('olga', NULL)) AS p (name, login)
UNION ALL
SELECT 'initiator ' || n, 'initiator' || n || '@example.com', 'bench_initiator_' || n FROM generate_series(1, :initiators) AS n;
INSERT INTO invoiceflow.assignment (employee_id, department_id, subdivision_id, position_id, valid)
SELECT e.id, d.id, d.subdivision_id, p.id, tstzrange(now() - interval '1 year', NULL)
FROM (VALUES ('ceo', 'Management', 'ceo'), ('cfo', 'Finance', 'cfo'), ('chief_acc', 'Finance', 'chief_accountant'),
             ('treasurer', 'Finance', 'treasurer'), ('accountant', 'Finance', 'accountant'),
             ('accountant2', 'Finance', 'accountant'), ('clerk', 'Finance', 'document_clerk'),
             ('olga', 'Office', 'head_of_department')) AS a (who, department, position)
JOIN invoiceflow.employee AS e ON e.full_name = a.who
JOIN invoiceflow.department AS d ON d.name = a.department
JOIN invoiceflow.position AS p ON p.code = a.position
UNION ALL
SELECT e.id, d.id, d.subdivision_id, p.id, tstzrange(now() - interval '1 year', NULL)
FROM invoiceflow.employee AS e, invoiceflow.department AS d, invoiceflow.position AS p
WHERE e.login_role LIKE 'bench_initiator_%' AND d.name = 'Office' AND p.code = 'specialist';
-- Suppliers: invoices spread over 200 of them, as in a real registry (the router asks, per step, whether
-- anything was ever paid to the invoice's counterparty).
INSERT INTO invoiceflow.counterparty (name, inn, kpp, bik, settlement_account, correspondent_account)
SELECT 'ООО «Поставщик ' || n || '»', '6605000053', '660501' || lpad(n::text, 3, '0'), '044525225', '40702810300000000202',
       '30101810400000000225'
FROM generate_series(1, 200) AS n;
COMMIT;
