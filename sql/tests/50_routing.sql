-- 50_routing.sql: the router's SQL (0020) — immutable route versions, idempotent installation of the
-- defaults, the per-invoice claim, back-off and parking, pinning, and who may call any of it.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(22);

-- ---------------------------------------------------------------- who may call the router's functions
SET SESSION AUTHORIZATION fx_anna;
SELECT throws_ok($$SELECT * FROM invoiceflow.daemon_claim_routing('anna')$$, '42501', NULL,
    'a person cannot claim routing work');
SELECT throws_ok($$SELECT invoiceflow.daemon_org_snapshot()$$, '42501', NULL, 'nor read the org snapshot as the daemon');
SELECT throws_ok($$SELECT invoiceflow.daemon_install_routes('[]')$$, '42501', NULL, 'nor install routes');
SELECT throws_ok($$SELECT invoiceflow.retry_parked_routing(1)$$, '42501', NULL, 'nor release parked work');
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- routes: installed once, immutable
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT is(invoiceflow.daemon_install_routes(
    '[{"type": "payroll", "version": 1, "name": "Зарплата", "steps": []}]'), 1,
    'a type without a route gets the given one');
SELECT is(invoiceflow.daemon_install_routes(
    '[{"type": "payroll", "version": 7, "name": "Зарплата", "steps": []}]'), 0,
    'installing again changes nothing: a type with a route keeps it');
SELECT throws_ok($$SELECT invoiceflow.daemon_install_routes('[{"type": "nonsense", "version": 1}]')$$, 'IF001', NULL,
    'an unknown type is refused');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT array_agg(version) FROM invoiceflow.route_version v JOIN invoiceflow.invoice_type t
           ON t.id = v.invoice_type_id WHERE t.code = 'payroll'), ARRAY[1], 'exactly one payroll version');
SELECT throws_ok($$UPDATE invoiceflow.route_version SET body = '{}'$$, 'IF009', NULL,
    'a route version is never updated, not even by a superuser');
SELECT throws_ok($$DELETE FROM invoiceflow.route_version$$, 'IF009', NULL, 'nor deleted');
SELECT is((SELECT count(*) FROM invoiceflow.audit_log WHERE action = 'install_route'), 1::bigint,
    'installation is audited');

-- ---------------------------------------------------------------- reads the daemon needs despite RLS
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT is(jsonb_array_length(invoiceflow.daemon_org_snapshot() -> 'subdivisions'), 2,
    'the org snapshot holds every subdivision, though RLS hides them from the daemon itself');
SELECT is(invoiceflow.daemon_routing_state(fx.inv('approval')) ->> 'type', 'supplier_goods',
    'the routing state names the invoice type');
SELECT ok(jsonb_array_length(invoiceflow.daemon_routing_state(fx.inv('approval')) -> 'tasks') >= 1,
    'and lists its tasks');
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- claim: oldest item of an invoice first
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT * FROM invoiceflow.daemon_claim_routing('t1') \gset claimed_
RESET SESSION AUTHORIZATION;
SELECT is(:claimed_work_item_id::bigint,
    (SELECT min(id) FROM invoiceflow_private.work_item WHERE invoice_id = :claimed_invoice_id AND done_at IS NULL),
    'the claimed item is the oldest unfinished one of its invoice');

-- ---------------------------------------------------------------- failure: back-off, then parked
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT is(invoiceflow.daemon_fail_routing(:claimed_work_item_id, 'boom', 2), false, 'a first failure is not parked');
RESET SESSION AUTHORIZATION;
SELECT ok((SELECT run_after > now() AND attempts = 1 AND last_error = 'boom'
           FROM invoiceflow_private.work_item WHERE id = :claimed_work_item_id), 'it backs off with its error');
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT is((SELECT count(*) FROM invoiceflow.daemon_claim_routing('t2') AS c WHERE c.invoice_id = :claimed_invoice_id),
    0::bigint, 'while it backs off, no later item of the same invoice is claimed');
SELECT is(invoiceflow.daemon_fail_routing(:claimed_work_item_id, 'boom again', 2), true, 'the last allowed failure parks it');
RESET SESSION AUTHORIZATION;
SELECT ok((SELECT parked_at IS NOT NULL AND done_at IS NULL FROM invoiceflow_private.work_item
           WHERE id = :claimed_work_item_id), 'parked, not dropped');
SET SESSION AUTHORIZATION fx_admin;
SELECT is(invoiceflow.retry_parked_routing(:claimed_invoice_id), 1, 'an administrator releases it');
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- pinning happens once
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT throws_ok($$SELECT invoiceflow.daemon_pin_route(fx.inv('approval'), 99)$$, 'IF001', NULL,
    'pinning to a version that does not exist is refused');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
