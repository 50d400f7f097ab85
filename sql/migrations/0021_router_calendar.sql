-- 0021_router_calendar: the router counts SLAs and payment days in the working calendar as stored
-- (0030), so an administrator's set_working_day() moves the due dates of tasks created afterwards.
-- The daemon sees no table rows of its own (RLS), hence a definer function returning only the days
-- that differ from the weekday rule, around now. PL/pgSQL, not SQL: its body is resolved when first
-- called, since the calendar table comes with 0030, which sorts after this file.

SET LOCAL ROLE invoiceflow_owner;

CREATE FUNCTION invoiceflow.daemon_calendar_exceptions(p_days_back integer DEFAULT 31, p_days_ahead integer DEFAULT 400)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (
    WITH w AS (
        SELECT (pg_catalog.now() AT TIME ZONE 'Europe/Moscow')::date OPERATOR(pg_catalog.-) p_days_back AS first_day,
               (pg_catalog.now() AT TIME ZONE 'Europe/Moscow')::date OPERATOR(pg_catalog.+) p_days_ahead AS last_day)
    SELECT pg_catalog.jsonb_build_object(
        'from', w.first_day, 'to', w.last_day,
        'holidays', coalesce((
            SELECT pg_catalog.jsonb_agg(c.day ORDER BY c.day) FROM invoiceflow.working_calendar_day AS c
            WHERE c.day BETWEEN w.first_day AND w.last_day AND NOT c.is_working
              AND EXTRACT(isodow FROM c.day) OPERATOR(pg_catalog.<) 6), '[]'),
        'workingDays', coalesce((
            SELECT pg_catalog.jsonb_agg(c.day ORDER BY c.day) FROM invoiceflow.working_calendar_day AS c
            WHERE c.day BETWEEN w.first_day AND w.last_day AND c.is_working
              AND EXTRACT(isodow FROM c.day) OPERATOR(pg_catalog.>=) 6), '[]'))
    FROM w);
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_calendar_exceptions(integer, integer) IS
    'Daemon only: the stored working calendar around today (Moscow) as exceptions to the Monday–Friday rule — '
    'weekday holidays and worked weekend days — for the router''s SLA and payment-day arithmetic.';
REVOKE ALL ON FUNCTION invoiceflow.daemon_calendar_exceptions(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.daemon_calendar_exceptions(integer, integer) TO invoiceflow_daemon;

RESET ROLE;
