-- 11_personas_writes.sql: what every persona is REFUSED when it writes tables directly.
--
-- Commands are the only write path (issue 3 §3): for every persona (and the daemon, acting for nobody
-- and for Ivan), every table and view of the invoiceflow* schemas found in the catalog, and each of
-- INSERT, UPDATE, DELETE and TRUNCATE, the statement must fail with 42501 (insufficient privilege;
-- for a view that is not auto-updatable, 55000 may come first: both count as "refused").
-- A statement that succeeds is recorded as "succeeded" and rolled back at once, so one leak cannot
-- mask the next. Afterwards the superuser's row counts must be what the fixture wrote.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/personas.sql

CREATE TEMPORARY TABLE writer ON COMMIT DROP AS
SELECT p.login_role AS session_role, NULL::text AS acting_for, p.login_role AS name
FROM persona AS p
UNION ALL
SELECT 'invoiceflow_daemon', NULL, 'invoiceflow_daemon (acting for nobody)'
UNION ALL
SELECT 'invoiceflow_daemon', 'ifp_ivan', 'invoiceflow_daemon (acting for ifp_ivan)';

CREATE TEMPORARY TABLE written ON COMMIT DROP AS
SELECT c.oid AS relid, c.oid::regclass::text AS relation, c.relkind,
    (SELECT quote_ident(a.attname) FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attidentity = ''
         AND a.attgenerated = ''
     ORDER BY a.attnum LIMIT 1) AS some_column
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname LIKE 'invoiceflow%' AND c.relkind IN ('r', 'p', 'v');

CREATE TEMPORARY TABLE count_before ON COMMIT DROP AS SELECT relation, 0::bigint AS n FROM written WHERE false;
CREATE TEMPORARY TABLE attempt (writer text, relation text, outcome text) ON COMMIT DROP;

DO $$
DECLARE
    w record;
    r record;
    op text;
    stmt text;
    outcome text;
    writers text[] := '{}';
    rels text[] := '{}';
    outcomes text[] := '{}';
BEGIN
    FOR r IN SELECT * FROM written WHERE relkind IN ('r', 'p') LOOP
        EXECUTE format('INSERT INTO count_before SELECT %L, count(*) FROM %s', r.relation, r.relation);
    END LOOP;
    FOR w IN SELECT * FROM writer ORDER BY name LOOP
        FOR r IN SELECT * FROM written ORDER BY relation LOOP
            outcome := '';
            FOREACH op IN ARRAY CASE WHEN r.relkind = 'v' THEN ARRAY['INSERT', 'UPDATE', 'DELETE']
                                     ELSE ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'] END LOOP
                stmt := CASE op
                    WHEN 'INSERT' THEN format('INSERT INTO %s DEFAULT VALUES', r.relation)
                    WHEN 'UPDATE' THEN format('UPDATE %s SET %s = %s', r.relation, r.some_column, r.some_column)
                    WHEN 'DELETE' THEN format('DELETE FROM %s', r.relation)
                    ELSE format('TRUNCATE %s', r.relation)
                END;
                BEGIN
                    EXECUTE format('SET SESSION AUTHORIZATION %I', w.session_role);
                    IF w.acting_for IS NOT NULL THEN
                        PERFORM set_config('invoiceflow.acting_employee',
                            (SELECT p.employee_id::text FROM persona AS p WHERE p.login_role = w.acting_for), true);
                    END IF;
                    EXECUTE stmt;
                    -- It worked: undo it (the subtransaction) and remember.
                    RAISE EXCEPTION USING ERRCODE = 'ZZ999';
                EXCEPTION WHEN OTHERS THEN
                    outcome := outcome || CASE WHEN outcome = '' THEN '' ELSE ' ' END || op || ':'
                        || CASE WHEN SQLSTATE = 'ZZ999' THEN 'succeeded'
                                -- A view that is not auto-updatable says so (55000) before privileges are
                                -- looked at; either way the write is refused.
                                WHEN r.relkind = 'v' AND SQLSTATE IN ('42501', '55000') THEN 'refused'
                                ELSE SQLSTATE END;
                END;
                -- The subtransaction's rollback also undid SET SESSION AUTHORIZATION and the setting.
            END LOOP;
            writers := writers || w.name;
            rels := rels || r.relation;
            outcomes := outcomes || outcome;
        END LOOP;
    END LOOP;
    INSERT INTO attempt SELECT * FROM unnest(writers, rels, outcomes);
END
$$;

SELECT plan((SELECT count(*)::integer FROM writer) * (SELECT count(*)::integer FROM written) + 3);

SELECT is(session_user::text, 'postgres', 'the attempts left the session as the superuser');
SELECT is(
    (SELECT count(*)::integer FROM attempt),
    (SELECT count(*)::integer FROM writer) * (SELECT count(*)::integer FROM written),
    'one attempt record per persona and relation');

SELECT is(
    a.outcome,
    CASE WHEN wr.relkind = 'v' THEN 'INSERT:refused UPDATE:refused DELETE:refused'
         ELSE 'INSERT:42501 UPDATE:42501 DELETE:42501 TRUNCATE:42501' END,
    format('%s cannot write %s directly', w.name, wr.relation))
FROM writer AS w
CROSS JOIN written AS wr
LEFT JOIN attempt AS a ON a.writer = w.name AND a.relation = wr.relation
ORDER BY w.name, wr.relation;

CREATE TEMPORARY TABLE count_after ON COMMIT DROP AS SELECT relation, 0::bigint AS n FROM written WHERE false;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM written WHERE relkind IN ('r', 'p') LOOP
        EXECUTE format('INSERT INTO count_after SELECT %L, count(*) FROM %s', r.relation, r.relation);
    END LOOP;
END
$$;
SELECT set_eq('SELECT * FROM count_after', 'SELECT * FROM count_before',
    'every table holds exactly the rows it held before the attempts');

SELECT * FROM finish();
ROLLBACK;
