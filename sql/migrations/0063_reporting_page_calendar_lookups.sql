-- 0063_reporting_page_calendar_lookups: invoice_status and sla_breach look up the two calendar days of each
-- business-time figure by primary key, instead of testing every calendar day against every row (issue 7).
--
-- Both views answer pages: "the 20 oldest approvals of a subdivision", "the 20 longest-overdue open tasks".
-- Their calendar joins (0031) could not be index conditions under the calendar's row-level security (0061
-- header), so for a page the planner tested up to 9 000 materialised calendar rows per row and per end of
-- each duration: 250–750 ms for 20 overdue tasks at a million invoices. Here each end is a scalar subquery
-- on working_calendar_day's primary key: inside it the outer timestamp is a parameter, not a column, so
-- the equality is an index condition (two look-ups per figure), and under ORDER BY ... LIMIT the planner
-- evaluates it only for the rows returned. A figure of now() is computed once per query (an init plan).
-- The result is the same number: seconds_into_calendar(to, day row) - seconds_into_calendar(from, day row),
-- NULL when a day row is not readable or an end is NULL. Columns, comments and grants are unchanged
-- (CREATE OR REPLACE). step_span keeps its joins: it feeds the duration statistics, which the refresh
-- computes for every task at once, where one hash join over the calendar is cheaper than per-row look-ups.
-- Also fixed: invoice_status.age_since_submission_business_hours of a never-submitted draft is NULL (it
-- was the business hours since 2000-01-01).

SET LOCAL ROLE invoiceflow_owner;

CREATE OR REPLACE VIEW reporting.invoice_status WITH (security_invoker = true) AS
SELECT
    i.id AS invoice_id,
    it.code AS invoice_type,
    ps.code AS paying_subdivision,
    i.stage,
    i.amount_minor,
    i.currency,
    ini.full_name AS initiator_name,
    i.created_at,
    i.submitted_at,
    i.stage_changed_at AS stage_since,
    h.holder_ids,
    h.holders,
    now() - i.stage_changed_at AS stage_age,
    round(((SELECT invoiceflow_private.seconds_into_calendar(now(), c) FROM invoiceflow.working_calendar_day AS c
            WHERE c.day = invoiceflow_private.calendar_day(now()))
         - (SELECT invoiceflow_private.seconds_into_calendar(i.stage_changed_at, c) FROM invoiceflow.working_calendar_day AS c
            WHERE c.day = invoiceflow_private.calendar_day(i.stage_changed_at)))::numeric / 3600, 2)
        AS stage_age_business_hours,
    CASE WHEN i.submitted_at IS NOT NULL THEN now() - i.submitted_at END AS age_since_submission,
    -- NULL for a never-submitted draft, as the column's comment says (0031 gave the hours since 2000: the
    -- calendar key of a NULL instant is clamped to 2000-01-01, GREATEST ignoring the NULL).
    CASE WHEN i.submitted_at IS NOT NULL THEN
        round(((SELECT invoiceflow_private.seconds_into_calendar(now(), c) FROM invoiceflow.working_calendar_day AS c
                WHERE c.day = invoiceflow_private.calendar_day(now()))
             - (SELECT invoiceflow_private.seconds_into_calendar(i.submitted_at, c) FROM invoiceflow.working_calendar_day AS c
                WHERE c.day = invoiceflow_private.calendar_day(i.submitted_at)))::numeric / 3600, 2) END
        AS age_since_submission_business_hours,
    i.stage NOT IN ('closed', 'withdrawn') AS is_open
FROM invoiceflow.invoice AS i
JOIN invoiceflow.invoice_type AS it ON it.id = i.invoice_type_id
JOIN invoiceflow.subdivision AS ps ON ps.id = i.paying_subdivision_id
JOIN invoiceflow.employee AS ini ON ini.id = i.initiator_id
LEFT JOIN LATERAL (
    SELECT array_agg(t.assignee_id ORDER BY t.id) AS holder_ids,
           string_agg(e.full_name || coalesce(' (за ' || f.full_name || ')', ''), ', ' ORDER BY t.id) AS holders
    FROM invoiceflow.task AS t
    JOIN invoiceflow.employee AS e ON e.id = t.assignee_id
    LEFT JOIN invoiceflow.employee AS f ON f.id = t.acting_for_id
    WHERE t.invoice_id = i.id AND t.outcome IS NULL
) AS h ON true;

-- As in 0060 (escalations appended there); overdue_business_hours computed here from due_at and the decision
-- (or now) by key look-ups, so step_span's calendar joins drop out of this view's plans.
CREATE OR REPLACE VIEW reporting.sla_breach WITH (security_invoker = true) AS
SELECT s.task_id, s.invoice_id, s.invoice_type, s.paying_subdivision, s.step_key, s.kind, s.assignee_name,
       s.acting_for_name, s.due_at, s.decided_at, s.outcome, s.is_open,
       -- CASE, not coalesce(): the planner treats a COALESCE node as possibly leaky and would filter the
       -- whole calendar instead of probing its key.
       round(((SELECT invoiceflow_private.seconds_into_calendar(CASE WHEN s.decided_at IS NULL THEN now() ELSE s.decided_at END, c)
               FROM invoiceflow.working_calendar_day AS c
               WHERE c.day = invoiceflow_private.calendar_day(CASE WHEN s.decided_at IS NULL THEN now() ELSE s.decided_at END))
            - (SELECT invoiceflow_private.seconds_into_calendar(s.due_at, c) FROM invoiceflow.working_calendar_day AS c
               WHERE c.day = invoiceflow_private.calendar_day(s.due_at)))::numeric / 3600, 2) AS overdue_business_hours,
       coalesce(s.decided_at, now()) - s.due_at AS overdue_wall,
       -- A scalar subquery: under ORDER BY ... LIMIT it runs only for the rows returned.
       (SELECT count(*) FROM reporting.escalation AS e
        WHERE e.invoice_id = s.invoice_id AND e.reason IN ('overdue', 'documents_overdue')
          AND (e.task_id = s.task_id OR (e.task_id IS NULL AND e.step_key = s.step_key))) AS escalations
FROM reporting.step_span AS s
WHERE s.sla_breached AND (s.outcome IS NULL OR s.outcome <> 'cancelled');

RESET ROLE;
