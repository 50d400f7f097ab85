-- 51_router_round_trips.sql: migration 0051 — the router's two calls per step and the reference version
-- that lets it cache the company structure and the calendar.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/company.sql

SELECT plan(18);

CREATE FUNCTION pg_temp.ref_version() RETURNS bigint LANGUAGE sql AS
    $$ SELECT version FROM invoiceflow_private.routing_reference_version $$;

-- The version moves with every change to what the router caches, and only then.
SELECT pg_temp.ref_version() AS v0 \gset
UPDATE invoiceflow.employee SET locale = 'en' WHERE id = fx.emp('anna');
SELECT is(pg_temp.ref_version(), :v0::bigint + 1, 'a change to employees bumps the reference version');
UPDATE invoiceflow.assignment SET valid = valid WHERE employee_id = fx.emp('anna');
SELECT is(pg_temp.ref_version(), :v0::bigint + 2, 'a change to assignments bumps it');
SELECT invoiceflow.set_working_day(current_date + 30, false, 'pgTAP: office closed');
SELECT cmp_ok(pg_temp.ref_version(), '>', :v0::bigint + 2, 'a change to the working calendar bumps it');
SELECT pg_temp.ref_version() AS v1 \gset
SET SESSION AUTHORIZATION fx_anna;
SELECT invoiceflow.add_comment(fx.inv('approval'), 'не меняет структуру');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.ref_version(), :v1::bigint, 'invoice activity leaves it alone');
SELECT cmp_ok(invoiceflow_private.routing_reference_horizon(), '<=',
    (date_trunc('day', now() AT TIME ZONE 'Europe/Moscow') + interval '1 day') AT TIME ZONE 'Europe/Moscow',
    'cached reference data expires at the next Moscow midnight at the latest');

-- daemon_next_routing: claim + state, the reference data only when the caller's version is stale.
SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT invoiceflow.daemon_next_routing('pgtap', NULL) AS first \gset
SELECT ok((:'first'::jsonb -> 'state' ->> 'invoiceID')::bigint = (:'first'::jsonb ->> 'invoiceID')::bigint,
    'a claimed item comes with its invoice''s routing state');
SELECT is((:'first'::jsonb -> 'reference' ->> 'version')::bigint, :v1::bigint,
    'a caller without a version gets the reference data and its version');
SELECT ok(jsonb_typeof(:'first'::jsonb -> 'reference' -> 'org' -> 'assignments') = 'array'
          AND :'first'::jsonb -> 'reference' -> 'calendar' ? 'holidays',
    'the reference data holds the org snapshot and the calendar');
-- daemon_apply_routing: the decision in one call, then the item is done.
SELECT throws_ok(format($$SELECT invoiceflow.daemon_apply_routing(%s, %s, '[{"op": "launch"}]')$$,
    :'first'::jsonb ->> 'workItemID', :'first'::jsonb ->> 'invoiceID'), 'IF001', NULL, 'an unknown action is IF001');
SELECT throws_ok(format($$SELECT invoiceflow.daemon_apply_routing(%s, %s, '{"op": "park"}')$$,
    :'first'::jsonb ->> 'workItemID', :'first'::jsonb ->> 'invoiceID'), 'IF001', NULL, 'actions come as an array');
SELECT lives_ok(format($$SELECT invoiceflow.daemon_apply_routing(%s, %s, '[]')$$,
    :'first'::jsonb ->> 'workItemID', :'first'::jsonb ->> 'invoiceID'), 'an empty decision completes the item');
RESET SESSION AUTHORIZATION;
SELECT ok((SELECT done_at IS NOT NULL FROM invoiceflow_private.work_item
           WHERE id = (:'first'::jsonb ->> 'workItemID')::bigint), 'the item is done');

SET SESSION AUTHORIZATION invoiceflow_daemon;
SELECT invoiceflow.daemon_next_routing('pgtap', :v1) AS second \gset
SELECT ok(:'second'::jsonb ? 'workItemID' AND (:'second'::jsonb -> 'reference') = 'null'::jsonb,
    'a caller with the current version gets none');
SELECT isnt((:'second'::jsonb ->> 'workItemID')::bigint, (:'first'::jsonb ->> 'workItemID')::bigint,
    'once it is done, the next claim is another item');

SELECT invoiceflow.daemon_apply_routing((:'second'::jsonb ->> 'workItemID')::bigint,
    (:'second'::jsonb ->> 'invoiceID')::bigint,
    jsonb_build_array(
        jsonb_build_object('op', 'task', 'step', 'pgtap', 'kind', 'approve', 'assignee', fx.emp('cfo'),
                           'dueAt', (extract(epoch FROM now() + interval '1 day') * 1000000)::bigint),
        jsonb_build_object('op', 'note', 'action', 'route_step_started', 'detail', '{"step": "pgtap"}'::jsonb,
                           'comment', 'pgTAP')),
    true) AS applied \gset
RESET SESSION AUTHORIZATION;
SELECT is((SELECT assignee_id FROM invoiceflow.task WHERE id = (:'applied'::jsonb -> 'tasks' ->> 0)::bigint), fx.emp('cfo'),
    'a task action creates the task and returns its id');
SELECT ok(:'applied'::jsonb -> 'recipients' @> jsonb_build_array(jsonb_build_object('id', fx.emp('cfo'))),
    'with mail, the new task''s assignee comes back as a recipient');
SELECT is((:'applied'::jsonb -> 'invoice' ->> 'invoice_id')::bigint, (:'second'::jsonb ->> 'invoiceID')::bigint,
    'with mail, the invoice''s mail facts come back');

SELECT ok(NOT has_function_privilege('invoiceflow_employee', 'invoiceflow.daemon_apply_routing(bigint, bigint, jsonb, boolean)', 'EXECUTE')
          AND NOT has_function_privilege('invoiceflow_employee', 'invoiceflow.daemon_next_routing(text, bigint)', 'EXECUTE'),
    'employees may not call the router''s functions');

SELECT * FROM finish();
ROLLBACK;
