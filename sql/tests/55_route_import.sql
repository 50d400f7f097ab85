-- 55_route_import.sql: store_route_version (0025), what `invoiceflow routes import` calls — only an
-- administrator stores a version, each store is the next number of its type, a stale comparison is
-- refused, earlier versions stay as they were, and every store is audited.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(11);

-- ---------------------------------------------------------------- who may store a version
SET SESSION AUTHORIZATION fx_anna;
SELECT throws_ok($$SELECT invoiceflow.store_route_version('{"type": "payroll", "version": 1, "steps": []}', NULL)$$,
    '42501', NULL, 'an employee cannot store a route version');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT throws_ok($$SELECT invoiceflow.store_route_version('{"type": "payroll", "version": 1, "steps": []}', NULL)$$,
    '42501', NULL, 'nor can the daemon: it installs defaults only');
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- the version chain
SET SESSION AUTHORIZATION fx_admin;
SELECT is(invoiceflow.store_route_version('{"type": "payroll", "version": 1, "name": "v1", "steps": []}', NULL), 1,
    'the first route of a type is version 1');
SELECT is(invoiceflow.store_route_version('{"type": "payroll", "version": 1, "name": "v2", "steps": []}', 1), 2,
    'an edit compared against version 1 becomes version 2, whatever version the file names');
SELECT throws_ok($$SELECT invoiceflow.store_route_version('{"type": "payroll", "version": 1, "name": "x"}', 1)$$,
    'IF006', NULL, 'an edit compared against a version that is no longer current is refused');
SELECT throws_ok($$SELECT invoiceflow.store_route_version('{"type": "payroll", "version": 1, "name": "x"}', NULL)$$,
    'IF006', NULL, 'so is one that believes the type has no route yet');
SELECT throws_ok($$SELECT invoiceflow.store_route_version('{"type": "bonus", "version": 1}', NULL)$$,
    'IF001', NULL, 'an unknown invoice type is refused');
SELECT throws_ok($$SELECT invoiceflow.store_route_version('[]', NULL)$$, 'IF001', NULL, 'so is anything but one route');
RESET SESSION AUTHORIZATION;

SELECT is((SELECT array_agg((v.body ->> 'version') || ':' || (v.body ->> 'name') ORDER BY v.version)
           FROM invoiceflow.route_version AS v JOIN invoiceflow.invoice_type AS t ON t.id = v.invoice_type_id
           WHERE t.code = 'payroll'), ARRAY['1:v1', '2:v2'],
    'both versions are kept, each body carrying its own number');
SELECT is((SELECT array_agg(a.after ->> 'version' ORDER BY a.id) FROM invoiceflow.audit_log AS a
           WHERE a.action = 'store_route_version'), ARRAY['1', '2'], 'each store is audited');
SELECT is((SELECT a.before ->> 'version' FROM invoiceflow.audit_log AS a
           WHERE a.action = 'store_route_version' ORDER BY a.id DESC LIMIT 1), '1',
    'the audit row names the version it replaced');

SELECT * FROM finish();
ROLLBACK;
