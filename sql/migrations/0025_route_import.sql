-- 0025_route_import: `invoiceflow routes import` for administrators. The daemon-only install function of
-- 0020 stores a type's FIRST route only; an administrator's edit becomes the next version through
-- store_route_version, which refuses a stale edit (someone else stored a version since the file was
-- compared) instead of silently overwriting their change. Validation of the route itself happens in the
-- domain core before this is called; the function checks only what the database knows (the type exists,
-- the version chain).

SET LOCAL ROLE invoiceflow_owner;

CREATE FUNCTION invoiceflow.store_route_version(p_route jsonb, p_replaces integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_type bigint;
    v_current integer;
    v_version integer;
    v_id bigint;
BEGIN
    PERFORM invoiceflow_private.require_admin();
    IF pg_catalog.jsonb_typeof(p_route) IS DISTINCT FROM 'object' THEN
        PERFORM invoiceflow_private.invalid('p_route', 'must be a JSON object (one route)');
    END IF;
    SELECT t.id INTO v_type FROM invoiceflow.invoice_type AS t
    WHERE t.code OPERATOR(pg_catalog.=) (p_route OPERATOR(pg_catalog.->>) 'type');
    IF v_type IS NULL THEN
        PERFORM invoiceflow_private.invalid('p_route',
            pg_catalog.format('unknown invoice type %L', p_route OPERATOR(pg_catalog.->>) 'type'));
    END IF;
    -- The same per-type lock daemon_install_routes takes, so an import and a starting daemon never race.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('invoiceflow.route_version'), v_type::integer);
    SELECT pg_catalog.max(v.version) INTO v_current FROM invoiceflow.route_version AS v
    WHERE v.invoice_type_id OPERATOR(pg_catalog.=) v_type;
    IF v_current IS DISTINCT FROM p_replaces THEN
        RAISE EXCEPTION 'route of % changed meanwhile: current version is %, the import compared against %',
            p_route OPERATOR(pg_catalog.->>) 'type', coalesce(v_current::text, 'none'), coalesce(p_replaces::text, 'none')
            USING ERRCODE = 'IF006';
    END IF;
    v_version := coalesce(v_current, 0) OPERATOR(pg_catalog.+) 1;
    INSERT INTO invoiceflow.route_version (invoice_type_id, version, body)
    VALUES (v_type, v_version, pg_catalog.jsonb_set(p_route, '{version}', pg_catalog.to_jsonb(v_version)))
    RETURNING id INTO v_id;
    PERFORM invoiceflow_private.audit(NULL, 'route_version', v_id, 'store_route_version',
        CASE WHEN v_current IS NOT NULL THEN pg_catalog.jsonb_build_object('version', v_current) END,
        pg_catalog.jsonb_build_object('type', p_route OPERATOR(pg_catalog.->>) 'type', 'version', v_version));
    RETURN v_version;
END
$$;
COMMENT ON FUNCTION invoiceflow.store_route_version(jsonb, integer) IS
    'Admin: stores a route (docs/routes.md format) as the next version of its type, which must currently be p_replaces '
    '(NULL: no route yet), else IF006; the body''s version is set to the new number. Returns it. Earlier versions and '
    'the invoices pinned to them are untouched.';
REVOKE ALL ON FUNCTION invoiceflow.store_route_version(jsonb, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.store_route_version(jsonb, integer) TO invoiceflow_admin;

RESET ROLE;
