-- 10_personas_visibility.sql: what every persona SEES in every table and view (DESIGN.md invariant 6).
--
-- The world and the ground truth are in fixtures/personas.sql: persona_sees lists, per persona, the
-- invoices it may see. For every persona and every relation of the invoiceflow* schemas (found in the
-- catalog, so new tables and views are covered the day they land) the test switches to the persona with
-- SET SESSION AUTHORIZATION, reads the relation, and compares:
--   * invoice data (the invoice table, anything with an invoice_id column, views keyed by invoice):
--     the set of invoice labels visible, expected = persona_sees ∩ the labels present in the relation
--     (rows about no invoice, i.e. administration audit rows, show as "admin");
--   * organisation data (no invoice key): all rows or none;
--   * a refusal shows as "error <SQLSTATE>" (42501 = no privilege).
-- A view whose rows are a narrower selection than "every invoice I may see" (my_invoices, my_tasks) gets
-- its own rule in view_rule below. Finally, the definer helper invoice_visible(), which the commands use
-- to decide what they may disclose, must agree with the policy for every viewer.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/personas.sql

-- Who is tested: every persona, plus the daemon acting for nobody and acting for Ivan.
CREATE TEMPORARY TABLE viewer ON COMMIT DROP AS
SELECT p.login_role AS session_role, NULL::text AS acting_for, p.login_role AS name
FROM persona AS p
UNION ALL
SELECT 'invoiceflow_daemon', NULL, 'invoiceflow_daemon (acting for nobody)'
UNION ALL
SELECT 'invoiceflow_daemon', 'ifp_ivan', 'invoiceflow_daemon (acting for ifp_ivan)';

-- What is looked at: every table and view of ours, and how its rows map to invoices.
CREATE TEMPORARY TABLE looked_at ON COMMIT DROP AS
SELECT c.oid AS relid, c.oid::regclass::text AS relation, n.nspname AS schema_name, c.relkind,
    CASE
        WHEN c.oid = 'invoiceflow.invoice'::regclass THEN 'id'
        WHEN EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                     WHERE a.attrelid = c.oid AND a.attname = 'invoice_id' AND NOT a.attisdropped) THEN 'invoice_id'
        WHEN c.relkind = 'v' AND c.relname LIKE '%invoice%' AND EXISTS (
                SELECT FROM pg_catalog.pg_attribute AS a
                WHERE a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped) THEN 'id'
    END AS invoice_key
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname LIKE 'invoiceflow%' AND c.relkind IN ('r', 'p', 'v', 'm');

-- Views that deliberately show less than "everything I may see", and the truth they are held to:
--   initiated  = persona_initiated (my invoices)
--   open_task  = persona_open_task (my tasks: own open tasks and those of whom the persona substitutes now)
CREATE TEMPORARY TABLE view_rule (relation text PRIMARY KEY, rule text NOT NULL) ON COMMIT DROP;
INSERT INTO view_rule (relation, rule)
SELECT v.relation, v.rule
FROM (VALUES ('invoiceflow.my_invoices', 'initiated'), ('invoiceflow.my_tasks', 'open_task')) AS v (relation, rule)
WHERE to_regclass(v.relation) IS NOT NULL;

-- Observe. Every read runs as the persona; the results are kept in variables and written after RESET.
CREATE TEMPORARY TABLE observation (viewer text, relation text, observed text) ON COMMIT DROP;
DO $$
DECLARE
    v record;
    r record;
    seen text;
    names text[] := '{}';
    rels text[] := '{}';
    results text[] := '{}';
BEGIN
    FOR v IN SELECT * FROM viewer ORDER BY name LOOP
        FOR r IN SELECT * FROM looked_at ORDER BY relation LOOP
            EXECUTE format('SET SESSION AUTHORIZATION %I', v.session_role);
            IF v.acting_for IS NOT NULL THEN
                PERFORM set_config('invoiceflow.acting_employee',
                    (SELECT p.employee_id::text FROM persona AS p WHERE p.login_role = v.acting_for), true);
            END IF;
            BEGIN
                IF r.invoice_key IS NOT NULL THEN
                    EXECUTE format(
                        'SELECT coalesce(string_agg(DISTINCT coalesce(l.label, CASE WHEN x.k IS NULL THEN %L '
                        'ELSE %L || x.k END), %L ORDER BY coalesce(l.label, CASE WHEN x.k IS NULL THEN %L '
                        'ELSE %L || x.k END)), %L) FROM (SELECT %I AS k FROM %s) AS x '
                        'LEFT JOIN persona_invoice AS l ON l.id = x.k',
                        'admin', 'other#', ' ', 'admin', 'other#', '', r.invoice_key, r.relation)
                    INTO seen;
                ELSE
                    EXECUTE format('SELECT %L || count(*) FROM %s', 'rows:', r.relation) INTO seen;
                END IF;
            EXCEPTION WHEN OTHERS THEN
                seen := 'error ' || SQLSTATE;
            END;
            PERFORM set_config('invoiceflow.acting_employee', '', true);
            RESET SESSION AUTHORIZATION;
            names := names || v.name;
            rels := rels || r.relation;
            results := results || seen;
        END LOOP;
    END LOOP;
    INSERT INTO observation SELECT * FROM unnest(names, rels, results);
END
$$;

-- The definer helper invoice_visible(id) decides for the commands (and for naming a duplicate) what the
-- policy decides for queries; for every viewer the two must agree on every invoice.
CREATE TEMPORARY TABLE helper_says (viewer text, labels text) ON COMMIT DROP;
DO $$
DECLARE
    v record;
    said text;
    names text[] := '{}';
    results text[] := '{}';
BEGIN
    FOR v IN SELECT * FROM viewer ORDER BY name LOOP
        EXECUTE format('SET SESSION AUTHORIZATION %I', v.session_role);
        IF v.acting_for IS NOT NULL THEN
            PERFORM set_config('invoiceflow.acting_employee',
                (SELECT p.employee_id::text FROM persona AS p WHERE p.login_role = v.acting_for), true);
        END IF;
        BEGIN
            SELECT coalesce(string_agg(l.label, ' ' ORDER BY l.label), '') INTO said
            FROM persona_invoice AS l WHERE invoiceflow_private.invoice_visible(l.id);
        EXCEPTION WHEN OTHERS THEN
            said := 'error ' || SQLSTATE;
        END;
        PERFORM set_config('invoiceflow.acting_employee', '', true);
        RESET SESSION AUTHORIZATION;
        names := names || v.name;
        results := results || said;
    END LOOP;
    INSERT INTO helper_says SELECT * FROM unnest(names, results);
END
$$;

-- What each relation holds at all (read as the superuser): invoice labels, or the row count.
CREATE TEMPORARY TABLE present (relation text, label text) ON COMMIT DROP;
CREATE TEMPORARY TABLE org_total (relation text, total bigint) ON COMMIT DROP;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM looked_at LOOP
        IF r.invoice_key IS NOT NULL THEN
            EXECUTE format('INSERT INTO present SELECT DISTINCT %L, coalesce(l.label, CASE WHEN x.k IS NULL '
                'THEN %L ELSE %L || x.k END) FROM (SELECT %I AS k FROM %s) AS x '
                'LEFT JOIN persona_invoice AS l ON l.id = x.k', r.relation, 'admin', 'other#', r.invoice_key,
                r.relation);
        ELSE
            EXECUTE format('INSERT INTO org_total SELECT %L, count(*) FROM %s', r.relation, r.relation);
        END IF;
    END LOOP;
END
$$;

-- Expect.
CREATE TEMPORARY TABLE expectation ON COMMIT DROP AS
SELECT v.name AS viewer, l.relation,
    CASE
        -- Internals are reachable only through definer functions.
        WHEN l.schema_name <> 'invoiceflow' THEN 'error 42501'
        -- Organisation data: every identified person, auditors and admins see all of it; nobody else any.
        WHEN l.invoice_key IS NULL THEN
            CASE WHEN v.session_role = 'ifp_ghost' OR (v.session_role = 'invoiceflow_daemon' AND v.acting_for IS NULL)
                THEN 'rows:0'
                ELSE 'rows:' || (SELECT n.total FROM org_total AS n WHERE n.relation = l.relation)
            END
        -- Admins administer; they are given no invoice data, only the administration audit rows.
        WHEN v.session_role = 'ifp_adam' THEN
            CASE WHEN l.relation = 'invoiceflow.audit_log' THEN 'admin' ELSE 'error 42501' END
        -- Personal lists: exactly the narrower truth (the superuser's own "my" lists are empty, so the
        -- labels present cannot be taken from them).
        WHEN l.relation IN (SELECT relation FROM view_rule) THEN (
            SELECT coalesce(string_agg(x.label, ' ' ORDER BY x.label), '')
            FROM (
                SELECT i.label FROM persona_initiated AS i
                WHERE (SELECT rule FROM view_rule AS vr WHERE vr.relation = l.relation) = 'initiated'
                    AND i.login_role = coalesce(v.acting_for, v.session_role)
                UNION
                SELECT t.label FROM persona_open_task AS t
                WHERE (SELECT rule FROM view_rule AS vr WHERE vr.relation = l.relation) = 'open_task'
                    AND t.login_role = coalesce(v.acting_for, v.session_role)
            ) AS x)
        ELSE (
            SELECT coalesce(string_agg(p.label, ' ' ORDER BY p.label), '')
            FROM (
                SELECT s.label FROM persona_sees AS s
                WHERE s.login_role = coalesce(v.acting_for, v.session_role)
                    AND s.label IN (SELECT pr.label FROM present AS pr WHERE pr.relation = l.relation)
                UNION
                SELECT 'admin'
                WHERE v.session_role = 'ifp_alex' AND 'admin' IN (
                    SELECT pr.label FROM present AS pr WHERE pr.relation = l.relation)
            ) AS p)
    END AS expected
FROM viewer AS v
CROSS JOIN looked_at AS l;

SELECT plan((SELECT count(*)::integer FROM expectation) + 4 + (SELECT count(*)::integer FROM viewer));

-- The fixture itself is what the matrix assumes.
SELECT is((SELECT count(*)::integer FROM viewer), 16, 'fourteen personas plus the daemon twice are examined');
SELECT ok((SELECT count(*) FROM looked_at WHERE relkind = 'r') >= 10, 'the catalog walk found the tables');
SELECT is_empty(
    $$SELECT relation FROM looked_at WHERE schema_name = 'invoiceflow' AND relkind = 'v' AND invoice_key IS NULL$$,
    'every view of invoiceflow exposes an invoice key (invoice_id, or id for invoice views), so it is checked per invoice');
SELECT is(
    (SELECT count(*)::integer FROM observation), (SELECT count(*)::integer FROM expectation),
    'one observation per persona and relation');

SELECT is(o.observed, e.expected, format('%s sees in %s: [%s]', e.viewer, e.relation, e.expected))
FROM expectation AS e
LEFT JOIN observation AS o ON o.viewer = e.viewer AND o.relation = e.relation
ORDER BY e.viewer, e.relation;

SELECT is(h.labels,
    CASE WHEN v.session_role = 'ifp_adam' THEN ''
         ELSE coalesce((SELECT string_agg(s.label, ' ' ORDER BY s.label) FROM persona_sees AS s
                        WHERE s.login_role = coalesce(v.acting_for, v.session_role)), '') END,
    format('invoice_visible() agrees with the invoice policy for %s', v.name))
FROM viewer AS v
LEFT JOIN helper_says AS h ON h.viewer = v.name
ORDER BY v.name;

SELECT * FROM finish();
ROLLBACK;
