-- 00_catalog_hygiene.sql: the security shape of the whole catalog (DESIGN.md invariant 4, issue 3 §4).
--
-- Nothing here names a table or a function: every check walks pg_catalog over the invoiceflow* schemas
-- and yields one assertion per object found (or a set-based is_empty that names the offenders), so an
-- object added by any later migration is checked the day it lands. The plan is counted from the same
-- catalog queries before the assertions run.
--
-- "App-facing roles" are the group and service roles of the conventions plus every role that is a
-- member of one of them (the persons' login roles). The owner role is the only one allowed to own
-- anything, and it is NOLOGIN.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;

-- The roles people and programs connect as, or inherit from.
CREATE TEMPORARY TABLE hygiene_app_role ON COMMIT DROP AS
SELECT r.rolname
FROM unnest(ARRAY['invoiceflow_employee', 'invoiceflow_treasurer', 'invoiceflow_accountant',
    'invoiceflow_chief_accountant', 'invoiceflow_cfo', 'invoiceflow_payroll', 'invoiceflow_auditor',
    'invoiceflow_admin', 'invoiceflow_daemon']) AS r (rolname)
UNION
SELECT m.rolname
FROM pg_catalog.pg_roles AS m
WHERE NOT m.rolsuper
    AND m.rolname <> 'invoiceflow_owner'
    AND EXISTS (
        SELECT FROM pg_catalog.pg_roles AS g
        WHERE g.rolname IN ('invoiceflow_employee', 'invoiceflow_treasurer', 'invoiceflow_accountant',
            'invoiceflow_chief_accountant', 'invoiceflow_cfo', 'invoiceflow_payroll', 'invoiceflow_auditor',
            'invoiceflow_admin', 'invoiceflow_daemon')
            AND g.oid <> m.oid
            AND pg_catalog.pg_has_role(m.oid, g.oid, 'MEMBER'));

-- The app-facing roles that exist, plus PUBLIC (oid 0): the grantees that must never hold write or
-- RLS-free privileges.
CREATE TEMPORARY TABLE hygiene_grantee ON COMMIT DROP AS
SELECT r.oid, r.rolname::text AS rolname
FROM pg_catalog.pg_roles AS r
JOIN hygiene_app_role AS a USING (rolname)
UNION ALL
SELECT 0::oid, 'PUBLIC';

-- Every object of ours: relations, functions, types; extension members excluded (they are the
-- extension's, e.g. btree_gist support functions).
CREATE TEMPORARY TABLE hygiene_relation ON COMMIT DROP AS
SELECT c.oid, c.oid::regclass::text AS name, c.relkind, c.relowner, c.relrowsecurity,
    c.relforcerowsecurity, c.reloptions
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname LIKE 'invoiceflow%'
    AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
    AND NOT EXISTS (
        SELECT FROM pg_catalog.pg_depend AS d
        WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e');

CREATE TEMPORARY TABLE hygiene_function ON COMMIT DROP AS
SELECT p.oid, p.oid::regprocedure::text AS name, p.prosecdef, p.proowner, p.proconfig, p.prokind,
    p.prorettype
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname LIKE 'invoiceflow%'
    AND NOT EXISTS (
        SELECT FROM pg_catalog.pg_depend AS d
        WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e');

SELECT plan(
    23
    + 2 * (SELECT count(*)::integer FROM hygiene_app_role)
    + (SELECT count(*)::integer FROM hygiene_relation)                                  -- owner
    + (SELECT count(*)::integer FROM hygiene_relation WHERE relkind IN ('r', 'p'))      -- RLS
    + (SELECT count(*)::integer FROM hygiene_relation WHERE relkind IN ('r', 'p', 'f', 'v', 'm'))  -- writes
    + (SELECT count(*)::integer FROM hygiene_relation WHERE relkind = 'v')              -- invoker
    + (SELECT count(*)::integer FROM hygiene_relation WHERE relkind IN ('r', 'p', 'v', 'm'))  -- comment
    + 2 * (SELECT count(*)::integer FROM hygiene_function)                              -- owner, comment
    + 2 * (SELECT count(*)::integer FROM hygiene_function WHERE prosecdef)              -- path, EXECUTE
);

-- Roles ---------------------------------------------------------------------------------------------

SELECT has_role(r.rolname, format('role %s exists', r.rolname))
FROM hygiene_app_role AS r
ORDER BY r.rolname;

SELECT ok(
    coalesce((
        SELECT NOT (x.rolsuper OR x.rolbypassrls OR x.rolcreaterole OR x.rolcreatedb OR x.rolreplication)
            AND NOT EXISTS (
                SELECT FROM pg_catalog.pg_roles AS o
                WHERE o.rolname = 'invoiceflow_owner' AND pg_catalog.pg_has_role(x.oid, o.oid, 'MEMBER'))
            AND NOT EXISTS (
                SELECT FROM pg_catalog.pg_roles AS s
                WHERE (s.rolsuper OR s.rolbypassrls
                        OR s.rolname IN ('pg_write_all_data', 'pg_read_all_data', 'pg_execute_server_program',
                            'pg_write_server_files', 'pg_read_server_files', 'pg_signal_backend'))
                    AND s.oid <> x.oid
                    AND pg_catalog.pg_has_role(x.oid, s.oid, 'MEMBER'))
        FROM pg_catalog.pg_roles AS x
        WHERE x.rolname = r.rolname), false),
    format('role %s: no SUPERUSER/BYPASSRLS/CREATEROLE/CREATEDB/REPLICATION, not a member of the owner '
        'or of any superuser, BYPASSRLS or pg_*_all_data role', r.rolname))
FROM hygiene_app_role AS r
ORDER BY r.rolname;

SELECT has_role('invoiceflow_owner', 'role invoiceflow_owner exists');
SELECT is(
    (SELECT NOT rolcanlogin AND NOT rolsuper AND NOT rolbypassrls FROM pg_catalog.pg_roles
     WHERE rolname = 'invoiceflow_owner'),
    true,
    'invoiceflow_owner is NOLOGIN, not superuser, not BYPASSRLS (FORCE RLS binds it)');
SELECT is_empty(
    $$SELECT r.rolname FROM pg_catalog.pg_roles AS r
      WHERE r.rolname LIKE 'invoiceflow\_%' AND r.rolname <> 'invoiceflow_daemon' AND r.rolcanlogin$$,
    'no invoiceflow_* group role can log in except invoiceflow_daemon');
SELECT is_empty(
    $$SELECT parname::text FROM pg_catalog.pg_parameter_acl$$,
    'nobody holds GRANT SET/ALTER SYSTEM on a superuser parameter (session_replication_role would '
    'switch off the append-only triggers)');

-- Database and schemas ------------------------------------------------------------------------------

SELECT is_empty(
    $$SELECT g.rolname FROM hygiene_grantee AS g
      WHERE (g.oid = 0 AND EXISTS (
                SELECT FROM pg_catalog.pg_database AS d,
                    LATERAL pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) AS a
                WHERE d.datname = pg_catalog.current_database() AND a.grantee = 0
                    AND a.privilege_type = 'TEMPORARY'))
         OR (g.oid <> 0 AND pg_catalog.has_database_privilege(g.oid, pg_catalog.current_database(), 'TEMP'))$$,
    'TEMP on the current database is revoked from PUBLIC and held by no app-facing role');
SELECT is_empty(
    $$SELECT g.rolname FROM hygiene_grantee AS g
      WHERE g.oid <> 0 AND pg_catalog.has_database_privilege(g.oid, pg_catalog.current_database(), 'CREATE')$$,
    'no app-facing role may create schemas in the database');
SELECT is_empty(
    $$SELECT n.nspname || ' to ' || g.rolname
      FROM pg_catalog.pg_namespace AS n
      CROSS JOIN hygiene_grantee AS g
      WHERE (n.nspname LIKE 'invoiceflow%' OR n.nspname = 'public')
          AND EXISTS (
              SELECT FROM pg_catalog.aclexplode(coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) AS a
              WHERE a.privilege_type = 'CREATE'
                  AND (a.grantee = g.oid OR (g.oid <> 0 AND a.grantee <> 0
                      AND pg_catalog.pg_has_role(g.oid, a.grantee, 'USAGE'))))$$,
    'no app-facing role and not PUBLIC may CREATE in the invoiceflow schemas or public');
SELECT is_empty(
    $$SELECT n.nspname FROM pg_catalog.pg_namespace AS n
      WHERE n.nspname LIKE 'invoiceflow%' AND n.nspowner <> (SELECT o.oid FROM pg_catalog.pg_roles AS o WHERE o.rolname = 'invoiceflow_owner')$$,
    'every invoiceflow schema is owned by invoiceflow_owner');
SELECT is_empty(
    $$SELECT n.nspname FROM pg_catalog.pg_namespace AS n
      WHERE n.nspname LIKE 'invoiceflow%'
          AND coalesce(pg_catalog.obj_description(n.oid, 'pg_namespace'), '') = ''$$,
    'every invoiceflow schema has a COMMENT');

-- Ownership -----------------------------------------------------------------------------------------

SELECT is(
    pg_catalog.pg_get_userbyid(r.relowner)::text, 'invoiceflow_owner',
    format('%s %s is owned by invoiceflow_owner',
        CASE r.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
            WHEN 'f' THEN 'foreign table' ELSE 'table' END, r.name))
FROM hygiene_relation AS r
ORDER BY r.name;

SELECT is(
    pg_catalog.pg_get_userbyid(f.proowner)::text, 'invoiceflow_owner',
    format('function %s is owned by invoiceflow_owner', f.name))
FROM hygiene_function AS f
ORDER BY f.name;

SELECT is_empty(
    $$SELECT t.oid::regtype::text FROM pg_catalog.pg_type AS t
      JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
      WHERE n.nspname LIKE 'invoiceflow%' AND t.typtype IN ('e', 'd', 'r', 'c')
          AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class AS c WHERE c.oid = t.typrelid) = 'c')
          AND t.typowner <> (SELECT o.oid FROM pg_catalog.pg_roles AS o WHERE o.rolname = 'invoiceflow_owner')$$,
    'every enum, domain, range and composite type is owned by invoiceflow_owner');

SELECT is_empty(
    $$SELECT kind || ' ' || name || ' owned by ' || pg_catalog.pg_get_userbyid(owner)
      FROM (
          SELECT 'relation' AS kind, c.oid::regclass::text AS name, c.relowner AS owner FROM pg_catalog.pg_class AS c
          UNION ALL
          SELECT 'function', p.oid::regprocedure::text, p.proowner FROM pg_catalog.pg_proc AS p
          UNION ALL
          SELECT 'type', t.oid::regtype::text, t.typowner FROM pg_catalog.pg_type AS t
          UNION ALL
          SELECT 'schema', n.nspname::text, n.nspowner FROM pg_catalog.pg_namespace AS n
          UNION ALL
          SELECT 'database', d.datname::text, d.datdba FROM pg_catalog.pg_database AS d
          WHERE d.datname = pg_catalog.current_database()
      ) AS o
      WHERE o.owner IN (SELECT oid FROM hygiene_grantee WHERE oid <> 0)$$,
    'no app-facing role owns anything at all in this database (any schema), nor the database itself');

-- Row-level security --------------------------------------------------------------------------------

SELECT ok(r.relrowsecurity AND r.relforcerowsecurity,
    format('table %s has row level security ENABLED and FORCED', r.name))
FROM hygiene_relation AS r
WHERE r.relkind IN ('r', 'p')
ORDER BY r.name;

SELECT ok(coalesce('security_invoker=true' = ANY (r.reloptions), false)
        OR coalesce('security_invoker=on' = ANY (r.reloptions), false),
    format('view %s is security_invoker', r.name))
FROM hygiene_relation AS r
WHERE r.relkind = 'v'
ORDER BY r.name;

SELECT is_empty(
    $$SELECT name FROM hygiene_relation WHERE relkind = 'm'
      AND EXISTS (SELECT FROM hygiene_grantee AS g
                  WHERE g.oid <> 0 AND pg_catalog.has_table_privilege(g.oid, hygiene_relation.oid, 'SELECT'))$$,
    'no materialized view (RLS cannot apply to one) is readable by an app-facing role');

-- Privileges ----------------------------------------------------------------------------------------

-- Commands are the only write path: no app-facing role (nor PUBLIC) may write a relation directly, even
-- one column, nor TRUNCATE (RLS does not apply to it), REFERENCES (existence probe) or TRIGGER.
SELECT is(
    ARRAY(
        SELECT g.rolname || ':' || p.privilege
        FROM hygiene_grantee AS g
        CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p (privilege)
        WHERE CASE
            WHEN g.oid = 0 THEN EXISTS (
                SELECT FROM pg_catalog.pg_class AS c,
                    LATERAL pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) AS a
                WHERE c.oid = r.oid AND a.grantee = 0 AND a.privilege_type = p.privilege)
                OR (p.privilege IN ('INSERT', 'UPDATE', 'REFERENCES') AND EXISTS (
                    SELECT FROM pg_catalog.pg_attribute AS at,
                        LATERAL pg_catalog.aclexplode(at.attacl) AS a
                    WHERE at.attrelid = r.oid AND at.attnum > 0 AND a.grantee = 0
                        AND a.privilege_type = p.privilege))
            WHEN p.privilege IN ('INSERT', 'UPDATE', 'REFERENCES')
                THEN pg_catalog.has_any_column_privilege(g.oid, r.oid, p.privilege)
            ELSE pg_catalog.has_table_privilege(g.oid, r.oid, p.privilege)
        END
        ORDER BY 1),
    ARRAY[]::text[],
    format('no app-facing role nor PUBLIC may INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES or TRIGGER on %s',
        r.name))
FROM hygiene_relation AS r
WHERE r.relkind IN ('r', 'p', 'f', 'v', 'm')
ORDER BY r.name;

SELECT is_empty(
    $$SELECT r.name || ' to ' || g.rolname FROM hygiene_relation AS r CROSS JOIN hygiene_grantee AS g
      WHERE r.relkind = 'S' AND g.oid <> 0 AND pg_catalog.has_sequence_privilege(g.oid, r.oid, 'UPDATE')$$,
    'no app-facing role may setval/nextval a sequence directly (UPDATE on sequences)');
SELECT is_empty(
    $$SELECT r.name || ' to ' || g.rolname FROM hygiene_relation AS r CROSS JOIN hygiene_grantee AS g
      WHERE r.relkind = 'S' AND g.oid <> 0
          AND (pg_catalog.has_sequence_privilege(g.oid, r.oid, 'SELECT')
              OR pg_catalog.has_sequence_privilege(g.oid, r.oid, 'USAGE'))$$,
    'no app-facing role may read a sequence (last_value would count everyone''s invoices)');

SELECT is_empty(
    $$SELECT f.name FROM hygiene_function AS f
      WHERE f.prosecdef AND pg_catalog.pg_get_userbyid(f.proowner) IN (
          SELECT rolname FROM pg_catalog.pg_roles WHERE rolsuper OR rolbypassrls)$$,
    'no SECURITY DEFINER function runs as a superuser or a BYPASSRLS role');

-- search_path first and exactly; besides it only planner settings (0079: enable_seqscan = off where a statement
-- must use its index whatever the table's size), never anything that changes what a statement means.
SELECT is(
    f.proconfig[1:1] || ARRAY(SELECT c FROM unnest(f.proconfig[2:]) AS c
                              WHERE c NOT IN ('enable_seqscan=off', 'plan_cache_mode=force_generic_plan')),
    ARRAY['search_path=pg_catalog, pg_temp'],
    format('SECURITY DEFINER function %s pins search_path = pg_catalog, pg_temp', f.name))
FROM hygiene_function AS f
WHERE f.prosecdef
ORDER BY f.name;

SELECT ok(
    NOT EXISTS (
        SELECT FROM pg_catalog.pg_proc AS p,
            LATERAL pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) AS a
        WHERE p.oid = f.oid AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'),
    format('SECURITY DEFINER function %s is not executable by PUBLIC', f.name))
FROM hygiene_function AS f
WHERE f.prosecdef
ORDER BY f.name;

SELECT is_empty(
    $$SELECT f.name FROM hygiene_function AS f
      JOIN pg_catalog.pg_proc AS p ON p.oid = f.oid
      WHERE p.provolatile <> 'i'
          AND EXISTS (
              SELECT FROM pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) AS a
              WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')$$,
    'PUBLIC may execute only IMMUTABLE (pure, data-free) functions of ours');
SELECT is_empty(
    $$SELECT pol.polrelid::regclass::text || ' ' || pol.polname FROM pg_catalog.pg_policy AS pol
      JOIN hygiene_relation AS r ON r.oid = pol.polrelid
      WHERE 0 = ANY (pol.polroles)$$,
    'no row-level security policy applies TO PUBLIC (each names the groups it is for)');
SELECT is_empty(
    $$SELECT pol.polrelid::regclass::text || ' ' || pol.polname FROM pg_catalog.pg_policy AS pol
      JOIN hygiene_relation AS r ON r.oid = pol.polrelid
      WHERE pol.polcmd <> 'r' AND EXISTS (
          SELECT FROM hygiene_grantee AS g WHERE g.oid <> 0 AND g.oid = ANY (pol.polroles))$$,
    'app-facing roles have SELECT policies only (writes go through the owner''s definer functions)');

-- Durability and history -----------------------------------------------------------------------------

SELECT is_empty(
    $$SELECT name FROM hygiene_relation AS r JOIN pg_catalog.pg_class AS c ON c.oid = r.oid
      WHERE r.relkind IN ('r', 'p', 'S') AND c.relpersistence <> 'p'$$,
    'no table or sequence of ours is UNLOGGED (a crash must lose nothing)');
SELECT is_empty(
    $$SELECT k.conrelid::regclass::text || ' ' || k.conname FROM pg_catalog.pg_constraint AS k
      JOIN hygiene_relation AS r ON r.oid = k.conrelid
      WHERE k.contype = 'f' AND (k.confdeltype IN ('c', 'n', 'd') OR k.confupdtype IN ('c', 'n', 'd'))$$,
    'no foreign key cascades or nulls on delete/update (history is never removed behind RLS''s back, P6)');

-- Comments ------------------------------------------------------------------------------------------

SELECT ok(
    coalesce(pg_catalog.obj_description(r.oid, 'pg_class'), '') <> '',
    format('%s %s has a COMMENT', CASE WHEN r.relkind IN ('v', 'm') THEN 'view' ELSE 'table' END, r.name))
FROM hygiene_relation AS r
WHERE r.relkind IN ('r', 'p', 'v', 'm')
ORDER BY r.name;

SELECT ok(
    coalesce(pg_catalog.obj_description(f.oid, 'pg_proc'), '') <> ''
        -- Trigger functions are explained by the trigger they serve; accept a comment on either.
        OR (f.prorettype = 'pg_catalog.trigger'::regtype AND EXISTS (
            SELECT FROM pg_catalog.pg_trigger AS t
            WHERE t.tgfoid = f.oid AND coalesce(pg_catalog.obj_description(t.oid, 'pg_trigger'), '') <> '')),
    format('function %s has a COMMENT', f.name))
FROM hygiene_function AS f
ORDER BY f.name;

-- "Columns that matter": those whose type says they are not self-explanatory (json, binary, ranges,
-- arrays) and hashes. A name alone ("name", "email", "created_at") may explain itself; a tstzrange or a
-- jsonb never says what it holds or what its bounds mean.
SELECT is_empty(
    $$SELECT a.attrelid::regclass::text || '.' || a.attname
      FROM pg_catalog.pg_attribute AS a
      JOIN hygiene_relation AS r ON r.oid = a.attrelid AND r.relkind IN ('r', 'p')
      JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
      WHERE a.attnum > 0 AND NOT a.attisdropped
          AND coalesce(pg_catalog.col_description(a.attrelid, a.attnum), '') = ''
          AND (t.typname IN ('json', 'jsonb', 'bytea') OR t.typtype = 'r' OR t.typcategory = 'A'
              OR a.attname LIKE '%hash')
      ORDER BY 1$$,
    'every json/jsonb/bytea/range/array or hash column has a COMMENT');
SELECT is_empty(
    $$SELECT t.oid::regtype::text FROM pg_catalog.pg_type AS t
      JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
      WHERE n.nspname LIKE 'invoiceflow%' AND t.typtype IN ('e', 'd')
          AND coalesce(pg_catalog.obj_description(t.oid, 'pg_type'), '') = ''$$,
    'every enum and domain has a COMMENT');
SELECT is_empty(
    $$SELECT pol.polrelid::regclass::text || ' ' || pol.polname FROM pg_catalog.pg_policy AS pol
      JOIN hygiene_relation AS r ON r.oid = pol.polrelid
      WHERE coalesce(pg_catalog.obj_description(pol.oid, 'pg_policy'), '') = ''$$,
    'every row-level security policy has a COMMENT saying whom it lets see what');

SELECT * FROM finish();
ROLLBACK;
