-- 41_concurrency.sql: commands driven from several sessions at once (dblink). Two sessions deciding the
-- same task: exactly one wins, the other gets IF006 and writes nothing; concurrent partial payments
-- cannot overshoot the amount; concurrent duplicate creations leave one invoice; NOTIFY carries ids
-- only and is sent only by the committed winner; the audit chain stays intact.
--
-- Other sessions only see committed data, so this test works in a scratch database of its own
-- (<this database>_concurrency): it applies sql/migrations/*.sql and fixtures/company.sql there
-- (read from the repository the test runs in: pg_prove is started from the repository root), commits,
-- races, and drops the database and any fixture roles it created at the end.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS dblink;
\set repo `pwd`
SELECT set_config('t.repo', :'repo', false) IS NOT NULL AS ok \gset
SELECT plan(27);

CREATE FUNCTION pg_temp.conninfo(p_db text, p_user text) RETURNS text LANGUAGE sql AS $$
    SELECT format('host=%s port=%s dbname=%s user=%s application_name=concurrency_test',
        split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'), p_db, p_user)
$$;
CREATE FUNCTION pg_temp.scratch() RETURNS text LANGUAGE sql AS $$ SELECT current_database() || '_concurrency' $$;

-- Build the scratch database: migrations, then the company fixture, committed.
CREATE TEMPORARY TABLE preexisting_roles AS SELECT rolname FROM pg_roles WHERE rolname LIKE 'fx\_%';
SELECT dblink_connect('setup', pg_temp.conninfo(current_database(), 'postgres')) IS NOT NULL AS ok \gset
SELECT dblink_exec('setup', format('DROP DATABASE IF EXISTS %I WITH (FORCE)', pg_temp.scratch())) IS NOT NULL AS ok \gset
SELECT dblink_exec('setup', format('CREATE DATABASE %I', pg_temp.scratch())) IS NOT NULL AS ok \gset
SELECT dblink_disconnect('setup') IS NOT NULL AS ok \gset
SELECT dblink_connect('adm', pg_temp.conninfo(pg_temp.scratch(), 'postgres')) IS NOT NULL AS ok \gset

CREATE FUNCTION pg_temp.apply(p_conn text, p_sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dblink_exec(p_conn, 'BEGIN');
    PERFORM dblink_exec(p_conn, p_sql);
    PERFORM dblink_exec(p_conn, 'COMMIT');
END
$$;
SELECT lives_ok($$SELECT pg_temp.apply('adm', pg_read_file(current_setting('t.repo') || '/sql/migrations/' || f))
                  FROM (SELECT f FROM pg_ls_dir(current_setting('t.repo') || '/sql/migrations') AS f
                        WHERE f ~ '^[0-9]{4}_.*\.sql$' ORDER BY f) AS files$$,
    'the scratch database gets every migration, each in its own transaction');
-- psql meta-commands (\o) are dropped: the fixture is plain SQL otherwise.
SELECT lives_ok($$SELECT pg_temp.apply('adm', regexp_replace(
        pg_read_file(current_setting('t.repo') || '/sql/tests/fixtures/company.sql'), '^\\[^\n]*$', '', 'gn'))$$,
    'and the company fixture, committed so that other sessions see it');
SELECT lives_ok($$SELECT pg_temp.apply('adm', $f$
    CREATE FUNCTION fx.attempt(p_sql text) RETURNS text LANGUAGE plpgsql AS $b$
    BEGIN
        EXECUTE p_sql;
        RETURN 'ok';
    EXCEPTION WHEN OTHERS THEN
        RETURN SQLSTATE || ': ' || SQLERRM;
    END $b$;
    GRANT EXECUTE ON FUNCTION fx.attempt(text) TO PUBLIC;
    CREATE FUNCTION fx.waiting(p_user name) RETURNS boolean LANGUAGE sql AS $b$
        SELECT EXISTS (SELECT FROM pg_stat_activity WHERE usename = p_user AND wait_event_type = 'Lock') $b$;
    $f$)$$, 'with a helper that reports a command''s SQLSTATE instead of failing');

CREATE FUNCTION pg_temp.q(p_conn text, p_sql text) RETURNS text LANGUAGE sql AS $$
    SELECT r FROM dblink(p_conn, p_sql) AS t (r text)
$$;
CREATE FUNCTION pg_temp.id(p_kind text, p_name text) RETURNS bigint LANGUAGE sql AS $$
    SELECT pg_temp.q('adm', format('SELECT fx.ref(%L, %L)::text', p_kind, p_name))::bigint
$$;
-- Wait (up to 10 s) until a session of that user is blocked on a lock.
CREATE FUNCTION pg_temp.wait_for_lock(p_user text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..200 LOOP
        IF pg_temp.q('adm', format('SELECT fx.waiting(%L)::text', p_user))::boolean THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END
$$;
CREATE FUNCTION pg_temp.attempt(p_conn text, p_sql text) RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.q(p_conn, format('SELECT fx.attempt(%L)', p_sql))
$$;
CREATE FUNCTION pg_temp.send(p_conn text, p_sql text) RETURNS integer LANGUAGE sql AS $$
    SELECT dblink_send_query(p_conn, format('SELECT fx.attempt(%L)', p_sql))
$$;
CREATE FUNCTION pg_temp.result(p_conn text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    SELECT r INTO v FROM dblink_get_result(p_conn) AS t (r text);
    PERFORM * FROM dblink_get_result(p_conn) AS t (r text);  -- the empty result that frees the connection
    RETURN v;
END
$$;

SELECT dblink_connect('vera', pg_temp.conninfo(pg_temp.scratch(), 'fx_vera')) IS NOT NULL AS ok \gset
SELECT dblink_connect('boris', pg_temp.conninfo(pg_temp.scratch(), 'fx_boris')) IS NOT NULL AS ok \gset
SELECT dblink_connect('listener', pg_temp.conninfo(pg_temp.scratch(), 'postgres')) IS NOT NULL AS ok \gset
SELECT dblink_exec('listener', 'LISTEN invoiceflow_work') IS NOT NULL AS ok \gset

-- ---------------------------------------------------------------- round 1: one task, two deciders
SELECT pg_temp.id('task', 'approval_boris') AS task, pg_temp.id('invoice', 'approval') AS invoice \gset
SELECT dblink_exec('vera', 'BEGIN') IS NOT NULL AS ok \gset
SELECT is(pg_temp.attempt('vera', format($$SELECT invoiceflow.decide_task(%s, 'approve')$$, :task)), 'ok',
    'vera (boris''s deputy) approves inside an open transaction');
SELECT is(pg_temp.send('boris', format($$SELECT invoiceflow.decide_task(%s, 'reject', 'нет')$$, :task)), 1,
    'boris, back early, rejects the same task at the same moment');
SELECT ok(pg_temp.wait_for_lock('fx_boris'), 'boris''s command waits on the invoice lock vera holds');
SELECT dblink_exec('vera', 'COMMIT') IS NOT NULL AS ok \gset
SELECT matches(pg_temp.result('boris'), format('^IF006: task %s was already decided \(approved\)', :task),
    'once vera commits, boris gets IF006: already decided');
SELECT is(pg_temp.q('adm', format('SELECT outcome || %L || decided_by FROM invoiceflow.task WHERE id = %s', '/', :task)),
    'approved/' || pg_temp.q('adm', $$SELECT fx.emp('vera')::text$$), 'exactly one decision stands: vera''s approval');
SELECT is(pg_temp.q('adm', format($$SELECT count(*)::text FROM invoiceflow.audit_log WHERE entity = 'task' AND entity_id = %s
                                   AND action IN ('approve', 'reject')$$, :task)), '1', 'and one audit row for it');
SELECT is(pg_temp.q('adm', format('SELECT stage::text FROM invoiceflow.invoice WHERE id = %s', :invoice)), 'approval',
    'the losing rejection changed nothing');
CREATE TEMPORARY TABLE heard AS SELECT n.notify_name, n.extra FROM dblink_get_notify('listener') AS n;
SELECT is((SELECT count(*) FROM heard WHERE notify_name = 'invoiceflow_work'), 1::bigint,
    'one NOTIFY from the winner, none from the loser');
SELECT is((SELECT array_agg(k) FROM heard, jsonb_object_keys(extra::jsonb) AS k), ARRAY['work_item_id'],
    'its payload is the work item''s id and nothing else');
SELECT is(pg_temp.q('adm', format('SELECT kind || %L || invoice_id FROM invoiceflow_private.work_item WHERE id = %s', '/',
        (SELECT (extra::jsonb ->> 'work_item_id')::bigint FROM heard))), 'task_decided/' || :invoice,
    'the work item it names is the decision on that invoice');

-- ---------------------------------------------------------------- round 2: the same person in two sessions
SELECT dblink_connect('cfo1', pg_temp.conninfo(pg_temp.scratch(), 'fx_cfo')) IS NOT NULL AS ok \gset
SELECT dblink_connect('cfo2', pg_temp.conninfo(pg_temp.scratch(), 'fx_cfo')) IS NOT NULL AS ok \gset
SELECT pg_temp.id('task', 'approval_cfo') AS task2 \gset
SELECT pg_temp.send('cfo1', format($$SELECT invoiceflow.decide_task(%s, 'approve')$$, :task2)) +
       pg_temp.send('cfo2', format($$SELECT invoiceflow.decide_task(%s, 'reject', 'дубль')$$, :task2)) AS sent \gset
SELECT pg_temp.result('cfo1') AS r1, pg_temp.result('cfo2') AS r2 \gset
SELECT is((SELECT count(*) FROM unnest(ARRAY[:'r1', :'r2']) AS r WHERE r = 'ok'), 1::bigint,
    'two tabs of the CFO deciding at once: exactly one wins');
SELECT is((SELECT count(*) FROM unnest(ARRAY[:'r1', :'r2']) AS r WHERE r LIKE 'IF006: %'), 1::bigint, 'the other gets IF006');
SELECT is(pg_temp.q('adm', format($$SELECT count(*)::text FROM invoiceflow.audit_log WHERE entity = 'task' AND entity_id = %s
                                   AND action IN ('approve', 'reject')$$, :task2)), '1', 'one audit row for the one decision');

-- ---------------------------------------------------------------- round 3: payments cannot overshoot
SELECT dblink_connect('t1', pg_temp.conninfo(pg_temp.scratch(), 'fx_treasurer')) IS NOT NULL AS ok \gset
SELECT dblink_connect('t2', pg_temp.conninfo(pg_temp.scratch(), 'fx_treasurer')) IS NOT NULL AS ok \gset
SELECT pg_temp.id('invoice', 'payment') AS pay_invoice \gset
SELECT dblink_exec('t1', 'BEGIN') IS NOT NULL AS ok \gset
SELECT is(pg_temp.attempt('t1', format($$SELECT invoiceflow.record_payment(%s, 3000000, current_date, 'ПП-1')$$, :pay_invoice)),
    'ok', 'a treasurer records 3 000 000 of 4 800 000 in an open transaction');
SELECT is(pg_temp.send('t2', format($$SELECT invoiceflow.record_payment(%s, 3000000, current_date, 'ПП-2')$$, :pay_invoice)), 1,
    'a second session records another 3 000 000 at once');
SELECT ok(pg_temp.wait_for_lock('fx_treasurer'), 'the second payment waits for the first');
SELECT dblink_exec('t1', 'COMMIT') IS NOT NULL AS ok \gset
SELECT matches(pg_temp.result('t2'), '^IF010: ', 'and is refused with IF010 once the first commits');
SELECT is(pg_temp.q('adm', format('SELECT sum(amount_minor)::text FROM invoiceflow.payment WHERE invoice_id = %s', :pay_invoice)),
    '3000000', 'only the first payment is recorded');

-- ---------------------------------------------------------------- round 4: the same invoice created twice at once
SELECT dblink_connect('anna1', pg_temp.conninfo(pg_temp.scratch(), 'fx_anna')) IS NOT NULL AS ok \gset
SELECT dblink_connect('anna2', pg_temp.conninfo(pg_temp.scratch(), 'fx_anna')) IS NOT NULL AS ok \gset
SELECT format($$SELECT invoiceflow.create_invoice(p_invoice_type => 'supplier_goods', p_paying_subdivision_id => fx.sub('ho'),
    p_counterparty_id => fx.cp('cleanco'), p_supplier_invoice_number => 'RACE-1', p_supplier_invoice_date => current_date,
    p_amount_minor => 777, p_purpose => 'race')$$) AS create_sql \gset
SELECT dblink_exec('anna1', 'BEGIN') IS NOT NULL AS ok \gset
SELECT is(pg_temp.attempt('anna1', :'create_sql'), 'ok', 'an invoice is created in an open transaction');
SELECT is(pg_temp.send('anna2', :'create_sql'), 1, 'the same invoice is created from a second session');
SELECT ok(pg_temp.wait_for_lock('fx_anna'), 'the second creation waits on the duplicate index');
SELECT dblink_exec('anna1', 'COMMIT') IS NOT NULL AS ok \gset
SELECT matches(pg_temp.result('anna2'), '^IF004: duplicate invoice', 'and becomes IF004 once the first commits');

SELECT is(pg_temp.q('adm', 'SELECT row(ok, first_broken_id)::text FROM invoiceflow.audit_verify()'), '(t,)',
    'the audit chain written by the racing sessions verifies');

-- ---------------------------------------------------------------- clean up: the scratch database and fixture roles
SELECT count(dblink_disconnect(c)) AS disconnected FROM unnest(dblink_get_connections()) AS c \gset
SELECT dblink_connect('setup', pg_temp.conninfo(current_database(), 'postgres')) IS NOT NULL AS ok \gset
SELECT dblink_exec('setup', format('DROP DATABASE %I WITH (FORCE)', pg_temp.scratch())) IS NOT NULL AS ok \gset
SELECT count(dblink_exec('setup', format('DROP ROLE %I', r.rolname))) AS dropped
FROM pg_roles AS r WHERE r.rolname LIKE 'fx\_%' AND r.rolname NOT IN (SELECT rolname FROM preexisting_roles) \gset
SELECT dblink_disconnect('setup') IS NOT NULL AS ok \gset
SELECT is((SELECT count(*) FROM pg_database WHERE datname = pg_temp.scratch()), 0::bigint, 'the scratch database is gone');

SELECT * FROM finish();
ROLLBACK;
