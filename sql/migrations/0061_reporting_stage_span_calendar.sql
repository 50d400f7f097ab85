-- 0061_reporting_stage_span_calendar: stage_span finds the calendar days of a stay by index, or by one hash
-- join for a whole history, instead of scanning the calendar for every stay (issue 7).
--
-- Why 0031's join could not use the calendar's primary key: working_calendar_day has row-level security,
-- and a join clause may become an index condition on a table with policies only when every function it
-- applies to a column is LEAKPROOF. `cin.day = invoiceflow_private.calendar_day(s.entered_at)` applies
-- timezone() and a date cast to s.entered_at, neither leakproof (only comparisons are, and marking a
-- function so needs a superuser). So the join became a filter: for a page of stays, a nested loop over a
-- materialised scan of the calendar, testing up to 36 525 days per stay (and per end of the stay).
-- Computing the two days inside the span subquery, which its window functions keep from being merged into
-- the outer query, turns the clause into `cin.day = s.entered_day`: a plain equality of two columns,
-- leakproof, so the planner chooses per query — two primary-key look-ups per stay for one invoice's
-- history, one hash join for the refresh of the duration statistics. Same columns, same meaning, same
-- comments and grants (CREATE OR REPLACE keeps them; the dependent statistics views are unchanged).

SET LOCAL ROLE invoiceflow_owner;

CREATE OR REPLACE VIEW reporting.stage_span WITH (security_invoker = true) AS
WITH transition AS (
    SELECT a.invoice_id, a.id AS audit_id, a.occurred_at, a.after ->> 'stage' AS stage
    FROM invoiceflow.audit_log AS a
    WHERE a.invoice_id IS NOT NULL
      AND a.after ? 'stage'
      AND (a.after ->> 'stage') IS DISTINCT FROM (a.before ->> 'stage')
), span AS (
    SELECT tr.invoice_id, tr.audit_id, tr.stage, tr.occurred_at AS entered_at,
           lead(tr.occurred_at) OVER w AS left_at,
           lead(tr.stage) OVER w AS next_stage,
           row_number() OVER w AS seq,
           invoiceflow_private.calendar_day(tr.occurred_at) AS entered_day,
           invoiceflow_private.calendar_day(coalesce(lead(tr.occurred_at) OVER w, now())) AS left_day
    FROM transition AS tr
    WINDOW w AS (PARTITION BY tr.invoice_id ORDER BY tr.audit_id)
)
SELECT
    s.invoice_id,
    s.seq,
    s.stage,
    s.entered_at,
    s.left_at,
    s.next_stage,
    s.left_at IS NULL AS is_current,
    it.code AS invoice_type,
    ps.code AS paying_subdivision,
    date_trunc('month', (s.entered_at AT TIME ZONE 'UTC') + interval '3 hours')::date AS entered_month,
    coalesce(s.left_at, now()) - s.entered_at AS wall_duration,
    round((EXTRACT(epoch FROM coalesce(s.left_at, now()) - s.entered_at) / 3600)::numeric, 2) AS wall_hours,
    round(invoiceflow_private.business_seconds_between(s.entered_at, cin, coalesce(s.left_at, now()), cout)::numeric / 3600, 2)
        AS business_hours
FROM span AS s
JOIN invoiceflow.invoice AS i ON i.id = s.invoice_id
JOIN invoiceflow.invoice_type AS it ON it.id = i.invoice_type_id
JOIN invoiceflow.subdivision AS ps ON ps.id = i.paying_subdivision_id
LEFT JOIN invoiceflow.working_calendar_day AS cin ON cin.day = s.entered_day
LEFT JOIN invoiceflow.working_calendar_day AS cout ON cout.day = s.left_day;

RESET ROLE;
