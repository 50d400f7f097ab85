-- 0030_working_calendar: the Russian production calendar as data, and business time in SQL
-- (invariant 9: SLAs count working hours only).
--
-- The table mirrors WorkingCalendar.russia of the Swift domain core (Sources/InvoiceDomain/
-- RussianCalendar.swift): Moscow time (UTC+3, no daylight saving), Monday to Friday 09:00–18:00,
-- the 2025–2027 public holidays and decree transfers, Saturday 1 November 2025 worked. Every date
-- from 2000-01-01 to 2099-12-31 has a row (36 525 rows), so a duration is two index probes however
-- long it is: each row carries the number of working days before it (working_days_before), and the
-- business time between two instants is the difference of their "working seconds since the
-- calendar began". Instants outside the seeded range count as the range's first or last day.
--
-- Admins change a day with invoiceflow.set_working_day() (a decree moving a day off is published
-- every autumn); the running totals are recounted in the same transaction and the change is audited.

SET LOCAL ROLE invoiceflow_owner;

CREATE TABLE invoiceflow.working_calendar_day (
    day date NOT NULL CONSTRAINT working_calendar_day_pkey PRIMARY KEY,
    is_working boolean NOT NULL,
    note text,
    working_days_before integer NOT NULL DEFAULT 0
        CONSTRAINT working_calendar_day_before_nonnegative CHECK (working_days_before >= 0),
    CONSTRAINT working_calendar_day_range CHECK (day BETWEEN DATE '2000-01-01' AND DATE '2099-12-31')
);
COMMENT ON TABLE invoiceflow.working_calendar_day IS
    'The working calendar (производственный календарь), one row per date 2000–2099: whether people work that day in Moscow. '
    'Mirrors WorkingCalendar.russia of the Swift core; changed only through set_working_day().';
COMMENT ON COLUMN invoiceflow.working_calendar_day.is_working IS
    'True on working days (Monday–Friday unless a holiday, plus weekend days a decree made working).';
COMMENT ON COLUMN invoiceflow.working_calendar_day.note IS 'Why the day differs from the weekday rule (holiday name, decree).';
COMMENT ON COLUMN invoiceflow.working_calendar_day.working_days_before IS
    'Working days strictly before this date since 2000-01-01: business time is a difference of running totals.';

CREATE FUNCTION invoiceflow_private.recount_working_calendar() RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    UPDATE invoiceflow.working_calendar_day AS c
    SET working_days_before = r.before
    FROM (SELECT d.day,
                 (pg_catalog.count(*) FILTER (WHERE d.is_working) OVER (ORDER BY d.day)
                  OPERATOR(pg_catalog.-) CASE WHEN d.is_working THEN 1 ELSE 0 END)::integer AS before
          FROM invoiceflow.working_calendar_day AS d) AS r
    WHERE c.day OPERATOR(pg_catalog.=) r.day AND c.working_days_before OPERATOR(pg_catalog.<>) r.before
$$;
COMMENT ON FUNCTION invoiceflow_private.recount_working_calendar() IS
    'Recomputes working_days_before of every calendar day after a change (touches only rows whose total moved).';

INSERT INTO invoiceflow.working_calendar_day (day, is_working)
SELECT d::date, EXTRACT(isodow FROM d) < 6
FROM generate_series(TIMESTAMP '2000-01-01', TIMESTAMP '2099-12-31', INTERVAL '1 day') AS d;

-- The same dates as WorkingCalendar.russia, with the reason.
UPDATE invoiceflow.working_calendar_day AS c SET is_working = false, note = h.note
FROM (VALUES
    ('2025-01-01', 'Новогодние каникулы'), ('2025-01-02', 'Новогодние каникулы'), ('2025-01-03', 'Новогодние каникулы'),
    ('2025-01-06', 'Новогодние каникулы'), ('2025-01-07', 'Рождество Христово'), ('2025-01-08', 'Новогодние каникулы'),
    ('2025-02-24', 'перенос с 23 февраля'), ('2025-03-10', 'перенос с 8 марта'),
    ('2025-05-01', 'Праздник Весны и Труда'), ('2025-05-02', 'перенос с 4 января'), ('2025-05-09', 'День Победы'),
    ('2025-06-12', 'День России'), ('2025-11-03', 'перенос с 1 ноября'), ('2025-11-04', 'День народного единства'),
    ('2025-12-31', 'перенос с 5 января'),
    ('2026-01-01', 'Новогодние каникулы'), ('2026-01-02', 'Новогодние каникулы'), ('2026-01-05', 'Новогодние каникулы'),
    ('2026-01-06', 'Новогодние каникулы'), ('2026-01-07', 'Рождество Христово'), ('2026-01-08', 'Новогодние каникулы'),
    ('2026-01-09', 'перенос с 3 января'), ('2026-02-23', 'День защитника Отечества'), ('2026-03-09', 'перенос с 8 марта'),
    ('2026-05-01', 'Праздник Весны и Труда'), ('2026-05-11', 'перенос с 9 мая'), ('2026-06-12', 'День России'),
    ('2026-11-04', 'День народного единства'), ('2026-12-31', 'перенос с 4 января'),
    ('2027-01-01', 'Новогодние каникулы'), ('2027-01-04', 'Новогодние каникулы'), ('2027-01-05', 'Новогодние каникулы'),
    ('2027-01-06', 'Новогодние каникулы'), ('2027-01-07', 'Рождество Христово'), ('2027-01-08', 'Новогодние каникулы'),
    ('2027-02-23', 'День защитника Отечества'), ('2027-03-08', 'Международный женский день'),
    ('2027-05-03', 'перенос с 1 мая'), ('2027-05-10', 'перенос с 9 мая'), ('2027-06-14', 'перенос с 12 июня'),
    ('2027-11-04', 'День народного единства')
) AS h (day, note)
WHERE c.day = h.day::date;
UPDATE invoiceflow.working_calendar_day AS c SET is_working = true, note = 'рабочая суббота (перенос на 3 ноября)'
WHERE c.day = DATE '2025-11-01';
DO $$ BEGIN PERFORM invoiceflow_private.recount_working_calendar(); END $$;

-- Moscow has kept UTC+3 all year since 2014; a fixed offset (not the tz database) matches the Swift core
-- and makes the result independent of the session's TimeZone.
CREATE FUNCTION invoiceflow_private.business_seconds_at(p_at timestamptz) RETURNS bigint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
-- plpgsql rather than sql: its one statement plan is cached for the session; reports call this twice per row.
DECLARE
    v_local timestamp := (p_at AT TIME ZONE 'UTC') + INTERVAL '3 hours';
    v_before integer;
    v_working boolean;
BEGIN
    SELECT c.working_days_before, c.is_working INTO v_before, v_working
    FROM invoiceflow.working_calendar_day AS c
    WHERE c.day = LEAST(GREATEST(v_local::date, DATE '2000-01-01'), DATE '2099-12-31');
    IF NOT FOUND THEN
        RETURN NULL;  -- the caller may not read the calendar
    END IF;
    RETURN v_before::bigint * 32400 + CASE
        WHEN v_local < TIMESTAMP '2000-01-01' THEN 0
        WHEN v_local >= TIMESTAMP '2100-01-01' THEN CASE WHEN v_working THEN 32400 ELSE 0 END
        WHEN v_working THEN LEAST(GREATEST(EXTRACT(epoch FROM v_local - v_local::date::timestamp)::bigint - 32400, 0), 32400)
        ELSE 0 END;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.business_seconds_at(timestamptz) IS
    'Working seconds (09:00–18:00 Moscow on working days) from 2000-01-01 up to the instant; clamped to the calendar range.';

-- Set-based business time for reports over millions of rows: join working_calendar_day twice (the day of
-- each end, invoiceflow_private.calendar_day(ts)) and take business_seconds_between() of the two rows.
-- Both are plain SQL expressions the planner inlines (no SET clause, hence OPERATOR(pg_catalog.…)
-- everywhere), so a report pays a hash join instead of two function calls per row.
CREATE FUNCTION invoiceflow_private.calendar_day(p_at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN LEAST(GREATEST(((p_at AT TIME ZONE 'UTC') OPERATOR(pg_catalog.+) INTERVAL '3 hours')::date, DATE '2000-01-01'),
             DATE '2099-12-31');
COMMENT ON FUNCTION invoiceflow_private.calendar_day(timestamptz) IS
    'The Moscow date of an instant, clamped to the calendar range: the key to join working_calendar_day on.';

CREATE FUNCTION invoiceflow_private.seconds_into_calendar(p_at timestamptz, p_day invoiceflow.working_calendar_day)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_day.working_days_before::bigint OPERATOR(pg_catalog.*) 32400 OPERATOR(pg_catalog.+) CASE
    WHEN (p_at AT TIME ZONE 'UTC') OPERATOR(pg_catalog.+) INTERVAL '3 hours' OPERATOR(pg_catalog.<) TIMESTAMP '2000-01-01' THEN 0
    WHEN (p_at AT TIME ZONE 'UTC') OPERATOR(pg_catalog.+) INTERVAL '3 hours' OPERATOR(pg_catalog.>=) TIMESTAMP '2100-01-01'
        THEN CASE WHEN p_day.is_working THEN 32400 ELSE 0 END
    WHEN p_day.is_working THEN LEAST(GREATEST(EXTRACT(epoch FROM
        ((p_at AT TIME ZONE 'UTC') OPERATOR(pg_catalog.+) INTERVAL '3 hours')::time)::bigint OPERATOR(pg_catalog.-) 32400, 0), 32400)
    ELSE 0 END;
COMMENT ON FUNCTION invoiceflow_private.seconds_into_calendar(timestamptz, invoiceflow.working_calendar_day) IS
    'Working seconds from 2000-01-01 to the instant, given the calendar row of its day: business_seconds_at without a lookup.';

CREATE FUNCTION invoiceflow_private.business_seconds_between(
    p_from timestamptz, p_from_day invoiceflow.working_calendar_day, p_to timestamptz, p_to_day invoiceflow.working_calendar_day
) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN invoiceflow_private.seconds_into_calendar(p_to, p_to_day)
    OPERATOR(pg_catalog.-) invoiceflow_private.seconds_into_calendar(p_from, p_from_day);
COMMENT ON FUNCTION invoiceflow_private.business_seconds_between(timestamptz, invoiceflow.working_calendar_day, timestamptz, invoiceflow.working_calendar_day) IS
    'Working seconds between two instants given the calendar rows of their days (see calendar_day); NULL when a row is missing.';

CREATE FUNCTION invoiceflow.business_duration(p_from timestamptz, p_to timestamptz) RETURNS interval
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.make_interval(secs => (invoiceflow_private.business_seconds_at(p_to)
        OPERATOR(pg_catalog.-) invoiceflow_private.business_seconds_at(p_from))::double precision)
$$;
COMMENT ON FUNCTION invoiceflow.business_duration(timestamptz, timestamptz) IS
    'Working time between two instants (09:00–18:00 Moscow on working days of working_calendar_day), as an interval of '
    'hours:minutes:seconds (never days); negative when p_to is before p_from, NULL when either is NULL. Same result as '
    'WorkingCalendar.businessTime(from:to:) of the Swift core.';

CREATE FUNCTION invoiceflow.business_hours(p_from timestamptz, p_to timestamptz) RETURNS numeric
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.round((invoiceflow_private.business_seconds_at(p_to)
        OPERATOR(pg_catalog.-) invoiceflow_private.business_seconds_at(p_from))::numeric OPERATOR(pg_catalog./) 3600, 2)
$$;
COMMENT ON FUNCTION invoiceflow.business_hours(timestamptz, timestamptz) IS
    'business_duration() in hours, rounded to 0.01 h: what the reports aggregate (percentiles need a number).';

CREATE FUNCTION invoiceflow.is_payment_day(p_day date) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXTRACT(isodow FROM p_day) IN (2, 4)
       AND coalesce((SELECT c.is_working FROM invoiceflow.working_calendar_day AS c WHERE c.day OPERATOR(pg_catalog.=) p_day),
                    EXTRACT(isodow FROM p_day) OPERATOR(pg_catalog.<) 6)
$$;
COMMENT ON FUNCTION invoiceflow.is_payment_day(date) IS
    'Whether the payment registry runs that day: a Tuesday or Thursday that is a working day (WorkingCalendar.isPaymentDay).';

CREATE FUNCTION invoiceflow.set_working_day(p_day date, p_is_working boolean, p_note text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_old invoiceflow.working_calendar_day;
BEGIN
    PERFORM invoiceflow_private.require_admin();
    IF p_day IS NULL OR p_day NOT BETWEEN DATE '2000-01-01' AND DATE '2099-12-31' THEN
        PERFORM invoiceflow_private.invalid('p_day', 'is required and must lie in 2000-01-01 .. 2099-12-31');
    END IF;
    IF p_is_working IS NULL THEN
        PERFORM invoiceflow_private.invalid('p_is_working', 'is required');
    END IF;
    IF btrim(coalesce(p_note, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_note', 'is required: name the holiday or the decree');
    END IF;
    -- One calendar change at a time: the recount below reads every row.
    LOCK TABLE invoiceflow.working_calendar_day IN SHARE ROW EXCLUSIVE MODE;
    SELECT * INTO STRICT v_old FROM invoiceflow.working_calendar_day AS c WHERE c.day = p_day;
    UPDATE invoiceflow.working_calendar_day AS c SET is_working = p_is_working, note = btrim(p_note) WHERE c.day = p_day;
    PERFORM invoiceflow_private.recount_working_calendar();
    PERFORM invoiceflow_private.audit(NULL, 'working_calendar_day', NULL, 'set_working_day',
        jsonb_build_object('day', p_day, 'is_working', v_old.is_working, 'note', v_old.note),
        jsonb_build_object('day', p_day, 'is_working', p_is_working, 'note', btrim(p_note)));
END
$$;
COMMENT ON FUNCTION invoiceflow.set_working_day(date, boolean, text) IS
    'Admin: marks a date working or not (a new holiday decree) with a required note; recounts business time and writes one '
    'audit row. Durations already reported change accordingly (they are computed, not stored). IF001 outside 2000–2099.';

ALTER TABLE invoiceflow.working_calendar_day ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoiceflow.working_calendar_day FORCE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE invoiceflow.working_calendar_day FROM PUBLIC;
CREATE POLICY owner_all ON invoiceflow.working_calendar_day AS PERMISSIVE FOR ALL TO invoiceflow_owner
    USING (true) WITH CHECK (true);
COMMENT ON POLICY owner_all ON invoiceflow.working_calendar_day IS
    'The owner (NOLOGIN; used only by migrations and definer functions) reads and writes every row: FORCE RLS would otherwise deny it.';
GRANT SELECT ON invoiceflow.working_calendar_day TO invoiceflow_employee, invoiceflow_auditor, invoiceflow_admin,
    invoiceflow_daemon;
CREATE POLICY working_calendar_day_read ON invoiceflow.working_calendar_day FOR SELECT
    TO invoiceflow_employee, invoiceflow_auditor, invoiceflow_admin, invoiceflow_daemon
    USING ((SELECT invoiceflow.current_employee_id()) IS NOT NULL
           OR (SELECT invoiceflow_private.caller_is('invoiceflow_auditor'))
           OR (SELECT invoiceflow_private.caller_is('invoiceflow_admin')));
COMMENT ON POLICY working_calendar_day_read ON invoiceflow.working_calendar_day IS
    'Readable like the company structure: every identified person (the daemon while acting for one), auditors and admins; '
    'for anyone else business_duration() is NULL.';

REVOKE ALL ON FUNCTION invoiceflow_private.recount_working_calendar() FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow.set_working_day(date, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.set_working_day(date, boolean, text) TO invoiceflow_admin;
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY['invoiceflow_private.business_seconds_at(timestamptz)'::regprocedure,
                             'invoiceflow_private.calendar_day(timestamptz)'::regprocedure,
                             'invoiceflow_private.seconds_into_calendar(timestamptz, invoiceflow.working_calendar_day)'::regprocedure,
                             'invoiceflow_private.business_seconds_between(timestamptz, invoiceflow.working_calendar_day, timestamptz, invoiceflow.working_calendar_day)'::regprocedure,
                             'invoiceflow.business_duration(timestamptz, timestamptz)'::regprocedure,
                             'invoiceflow.business_hours(timestamptz, timestamptz)'::regprocedure,
                             'invoiceflow.is_payment_day(date)'::regprocedure]
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO invoiceflow_employee, invoiceflow_auditor, invoiceflow_admin, '
            'invoiceflow_daemon', f);
    END LOOP;
END
$$;

RESET ROLE;
