-- 70_working_calendar.sql: the working calendar as data and business time (invariant 9, issue 7).
--
-- The calendar must say what WorkingCalendar.russia of the Swift core says (same holidays, same
-- transferred working day), business_duration() must agree with hand-computed answers across
-- weekends, holidays and transfers, and with a brute-force count that uses its own holiday list (not
-- the table) over many instant pairs; set_working_day() is the admins' only way to change a day.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir fixtures/personas.sql

SELECT plan(37);

-- The calendar matches the Swift core -----------------------------------------------------------------

-- Copied from Sources/InvoiceDomain/RussianCalendar.swift: the test's own list, not the migration's.
CREATE TEMPORARY TABLE swift_holiday (day date PRIMARY KEY) ON COMMIT DROP;
INSERT INTO swift_holiday
SELECT unnest(ARRAY[
    '2025-01-01', '2025-01-02', '2025-01-03', '2025-01-06', '2025-01-07', '2025-01-08',
    '2025-02-24', '2025-03-10', '2025-05-01', '2025-05-02', '2025-05-09', '2025-06-12',
    '2025-11-03', '2025-11-04', '2025-12-31',
    '2026-01-01', '2026-01-02', '2026-01-05', '2026-01-06', '2026-01-07', '2026-01-08',
    '2026-01-09', '2026-02-23', '2026-03-09', '2026-05-01', '2026-05-11', '2026-06-12',
    '2026-11-04', '2026-12-31',
    '2027-01-01', '2027-01-04', '2027-01-05', '2027-01-06', '2027-01-07', '2027-01-08',
    '2027-02-23', '2027-03-08', '2027-05-03', '2027-05-10', '2027-06-14', '2027-11-04']::date[]);
GRANT SELECT ON swift_holiday TO PUBLIC;

SELECT is((SELECT count(*)::integer FROM invoiceflow.working_calendar_day), 36525,
    'the calendar has one row per date from 2000-01-01 to 2099-12-31');
SELECT is_empty(
    $$SELECT c.day FROM invoiceflow.working_calendar_day AS c
      WHERE c.is_working IS DISTINCT FROM (
          c.day = DATE '2025-11-01'
          OR (EXTRACT(isodow FROM c.day) < 6 AND c.day NOT IN (SELECT h.day FROM swift_holiday AS h)))$$,
    'every date is working exactly as WorkingCalendar.russia says (weekends, 41 holidays, Saturday 1 Nov 2025 worked)');
SELECT results_eq(
    $$SELECT EXTRACT(year FROM c.day)::integer, count(*)::integer FROM invoiceflow.working_calendar_day AS c
      WHERE c.is_working AND c.day BETWEEN DATE '2025-01-01' AND DATE '2027-12-31' GROUP BY 1 ORDER BY 1$$,
    $$VALUES (2025, 247), (2026, 247), (2027, 249)$$,
    'working days per year: 247 in 2025 and 2026 (the official production calendars), 249 in 2027 (statutory holidays only)');
SELECT is_empty(
    $$SELECT c.day FROM invoiceflow.working_calendar_day AS c
      WHERE c.working_days_before <> (SELECT count(*) FROM invoiceflow.working_calendar_day AS d
                                      WHERE d.is_working AND d.day < c.day)
        AND c.day BETWEEN DATE '2024-12-01' AND DATE '2027-12-31'$$,
    'working_days_before is the count of working days before each date');

-- Business time: hand-computed cases (Moscow is UTC+3) ----------------------------------------------

CREATE TEMPORARY TABLE duration_case (label text, from_at timestamptz, to_at timestamptz, expected interval) ON COMMIT DROP;
INSERT INTO duration_case VALUES
    ('within one working day', '2026-11-24 10:00+03', '2026-11-24 15:00+03', '5 hours'),
    ('from before opening', '2026-11-24 07:00+03', '2026-11-24 10:00+03', '1 hour'),
    ('until after closing', '2026-11-24 16:30+03', '2026-11-24 23:00+03', '1 hour 30 minutes'),
    ('over an ordinary weekend', '2026-11-27 17:00+03', '2026-11-30 10:00+03', '2 hours'),
    ('over the working Saturday and the November holidays of 2025', '2025-10-31 17:00+03', '2025-11-05 10:00+03', '11 hours'),
    ('over the New Year holidays 2026', '2025-12-30 12:00+03', '2026-01-12 10:00+03', '7 hours'),
    ('over the May holidays 2026', '2026-04-30 12:00+03', '2026-05-12 12:00+03', '54 hours'),
    ('a weekend plus a moved day off is zero', '2025-02-21 18:00+03', '2025-02-25 09:00+03', '0'),
    ('a full ordinary week', '2026-11-23 00:00+03', '2026-11-30 00:00+03', '45 hours'),
    ('given in UTC', '2026-11-30 06:00+00', '2026-11-30 15:00+00', '9 hours'),
    ('reversed is negative', '2026-11-24 15:00+03', '2026-11-24 10:00+03', '-5 hours'),
    ('inside a holiday is zero', '2026-01-07 10:00+03', '2026-01-07 17:00+03', '0'),
    ('a leap day', '2028-02-28 17:00+03', '2028-03-01 10:00+03', '11 hours');

SELECT is(invoiceflow.business_duration(c.from_at, c.to_at), c.expected, 'business_duration: ' || c.label)
FROM duration_case AS c ORDER BY c.label;

SELECT is(invoiceflow.business_hours('2026-04-30 12:00+03', '2026-05-12 12:30+03'), 54.50,
    'business_hours gives hours as a number (May 2026: 54.5)');
SELECT is(invoiceflow.business_duration(NULL, now()), NULL, 'business_duration of NULL is NULL (not clamped to the calendar start)');

-- A brute-force count with its own holiday list agrees on 60 pairs of instants in 2025–2026 (half-hour
-- slots: a slot counts when it lies in 09:00–18:00 Moscow on a working day).
CREATE TEMPORARY TABLE brute_pair ON COMMIT DROP AS
SELECT n, TIMESTAMPTZ '2025-10-20 00:00+03' + ((n * 7919) % 2400) * INTERVAL '30 minutes' AS a,
       TIMESTAMPTZ '2025-10-20 00:00+03' + ((n * 7919) % 2400 + (n * 104729) % 1500) * INTERVAL '30 minutes' AS b
FROM generate_series(1, 60) AS n;
SELECT is_empty(
    $$SELECT p.n, p.a, p.b FROM brute_pair AS p
      WHERE invoiceflow.business_hours(p.a, p.b) <> (
          SELECT count(*)::numeric / 2 FROM generate_series(p.a, p.b - INTERVAL '30 minutes', INTERVAL '30 minutes') AS s
          CROSS JOIN LATERAL (SELECT (s AT TIME ZONE 'UTC') + INTERVAL '3 hours' AS l) AS m
          WHERE m.l::time >= TIME '09:00' AND m.l::time < TIME '18:00'
            AND (m.l::date = DATE '2025-11-01'
                 OR (EXTRACT(isodow FROM m.l) < 6 AND m.l::date NOT IN (SELECT h.day FROM swift_holiday AS h))))$$,
    'business_hours agrees with a brute-force half-hour count on 60 pairs spanning weekends and holidays');

-- The set-based form the report views use (calendar rows joined, business_seconds_between inlined) gives
-- the same seconds, also for instants outside the calendar range and on day boundaries.
INSERT INTO brute_pair (n, a, b) VALUES
    (1001, '1999-12-31 12:00+03', '2000-01-04 12:00+03'), (1002, '2099-12-30 12:00+03', '2100-01-05 12:00+03'),
    (1003, '2026-11-24 09:00+03', '2026-11-24 18:00+03'), (1004, '2026-11-24 18:00+03', '2026-11-25 09:00+03'),
    (1005, '2026-11-25 00:00+03', '2026-11-24 23:59:59+03');
SELECT is_empty(
    $$SELECT p.n FROM brute_pair AS p
      LEFT JOIN invoiceflow.working_calendar_day AS ca ON ca.day = invoiceflow_private.calendar_day(p.a)
      LEFT JOIN invoiceflow.working_calendar_day AS cb ON cb.day = invoiceflow_private.calendar_day(p.b)
      WHERE invoiceflow_private.business_seconds_between(p.a, ca, p.b, cb) IS DISTINCT FROM
            invoiceflow_private.business_seconds_at(p.b) - invoiceflow_private.business_seconds_at(p.a)$$,
    'business_seconds_between over joined calendar rows equals business_seconds_at on 65 pairs, range edges included');

-- Payment days ----------------------------------------------------------------------------------------

SELECT is(invoiceflow.is_payment_day(d.day), d.expected, format('is_payment_day(%s) is %s', d.day, d.expected))
FROM (VALUES (DATE '2026-12-01', true), (DATE '2026-12-02', false), (DATE '2026-12-03', true),
             (DATE '2026-01-06', false), (DATE '2025-11-04', false), (DATE '2025-11-01', false)) AS d (day, expected);

-- Changing a day -----------------------------------------------------------------------------------------

SET SESSION AUTHORIZATION ifp_ivan;
SELECT throws_ok($$SELECT invoiceflow.set_working_day('2027-01-11', false, 'new decree')$$, '42501', NULL,
    'an employee may not change the calendar (no EXECUTE)');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ifp_adam;
SELECT throws_ok($$SELECT invoiceflow.set_working_day('2027-01-11', false, ' ')$$, 'IF001', 'p_note: is required: name the holiday or the decree',
    'a change needs a note');
SELECT throws_ok($$SELECT invoiceflow.set_working_day('2100-01-04', false, 'far future')$$, 'IF001', NULL,
    'a date outside the calendar is refused');
SELECT lives_ok($$SELECT invoiceflow.set_working_day('2027-01-11', false, 'постановление о переносе (test)')$$,
    'an admin marks Monday 11 January 2027 a day off');
RESET SESSION AUTHORIZATION;

SELECT is(invoiceflow.business_duration('2027-01-08 12:00+03', '2027-01-12 12:00+03'), '3 hours'::interval,
    'business time skips the new day off at once');
SELECT is((SELECT c.working_days_before FROM invoiceflow.working_calendar_day AS c WHERE c.day = DATE '2027-01-12')
          - (SELECT c.working_days_before FROM invoiceflow.working_calendar_day AS c WHERE c.day = DATE '2027-01-11'),
    0, 'the running totals are recounted after the change');
SELECT is((SELECT count(*)::integer FROM invoiceflow.audit_log AS a
           WHERE a.action = 'set_working_day' AND a.after ->> 'day' = '2027-01-11'
             AND a.before ->> 'is_working' = 'true' AND a.after ->> 'is_working' = 'false'),
    1, 'the change wrote exactly one audit row with before and after');

SET SESSION AUTHORIZATION ifp_ivan;
SELECT is(invoiceflow.business_hours('2026-11-24 10:00+03', '2026-11-24 12:00+03'), 2.00,
    'an employee can compute business time (the calendar is readable)');
SELECT throws_ok($$UPDATE invoiceflow.working_calendar_day SET is_working = true WHERE day = DATE '2027-01-01'$$,
    '42501', NULL, 'an employee cannot write the calendar directly');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ifp_ghost;
SELECT is(invoiceflow.business_hours('2026-11-24 10:00+03', '2026-11-24 12:00+03'), NULL,
    'a login that is nobody reads no calendar, so gets no business time');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
