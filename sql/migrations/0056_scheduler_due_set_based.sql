-- 0056_scheduler_due_set_based: daemon_scheduler_due() as one set-based query. 0055 called the
-- plpgsql rule (three business_seconds_at() lookups and a route-step lookup) once per open task and
-- notice: 9 s per round with 20 000 open tasks. Here the business time of every open task comes from
-- hash joins with working_calendar_day (as the reports compute it), the route steps' reminder share and
-- escalation target are read once per distinct step, and the rules are the same as
-- invoiceflow_private.scheduler_notice_due(), which the claim still uses to re-check one task under
-- its locks.

SET LOCAL ROLE invoiceflow_owner;

CREATE OR REPLACE FUNCTION invoiceflow.daemon_scheduler_due(p_now timestamptz, p_limit integer DEFAULT 100)
RETURNS TABLE (task_id bigint, invoice_id bigint, notice text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH open_task AS MATERIALIZED (
        SELECT t.id, t.invoice_id, t.kind::text AS kind, t.step_key, t.created_at, t.due_at, i.invoice_type_id,
               i.route_version,
               -- Moscow wall-clock times as plain expressions (moscow_time() is not inlined: a call per row).
               (t.created_at AT TIME ZONE 'UTC') + INTERVAL '3 hours' AS created_local,
               (t.due_at AT TIME ZONE 'UTC') + INTERVAL '3 hours' AS due_local,
               invoiceflow_private.seconds_into_calendar(t.created_at, cd) AS start_s,
               invoiceflow_private.seconds_into_calendar(t.due_at, dd) AS due_s
        FROM invoiceflow.task AS t
        JOIN invoiceflow.invoice AS i ON i.id = t.invoice_id
        JOIN invoiceflow.working_calendar_day AS cd
          ON cd.day = invoiceflow_private.calendar_day(t.created_at)
        JOIN invoiceflow.working_calendar_day AS dd
          ON dd.day = invoiceflow_private.calendar_day(t.due_at)
        WHERE t.outcome IS NULL AND t.due_at IS NOT NULL),
    step_rule AS MATERIALIZED (
        SELECT s.invoice_type_id, s.route_version, s.step_key,
               coalesce((r.value ->> 'reminderAtPercent')::integer, 50) AS percent,
               coalesce(r.value ->> 'escalation', 'approversHead') AS escalation
        FROM (SELECT DISTINCT o.invoice_type_id, o.route_version, o.step_key FROM open_task AS o) AS s
        LEFT JOIN LATERAL (
            SELECT e.value
            FROM invoiceflow.route_version AS v
            CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(v.body -> 'steps') AS e (value)
            WHERE v.invoice_type_id = s.invoice_type_id
              AND v.version = s.route_version
              AND e.value ->> 'id' = s.step_key
            LIMIT 1) AS r ON true),
    clock AS MATERIALIZED (
        SELECT invoiceflow_private.business_seconds_at(p_now) AS now_s,
               invoiceflow_private.moscow_time(p_now) AS local_now,
               invoiceflow_private.moscow_time(p_now)::date AS today),
    candidate AS (
        SELECT o.id, o.invoice_id, k.notice, k.priority, o.due_at
        FROM open_task AS o
        JOIN step_rule AS r
          ON r.invoice_type_id = o.invoice_type_id
         AND r.route_version IS NOT DISTINCT FROM o.route_version
         AND r.step_key = o.step_key
        CROSS JOIN clock AS c
        JOIN (VALUES ('approve', 'reminder', 2), ('approve', 'escalation', 1), ('pay', 'escalation', 1),
                     ('pay', 'payment_due', 3), ('collect_documents', 'reminder', 2),
                     ('collect_documents', 'documents_overdue', 1), ('collect_documents', 'documents_overdue_head', 1))
            AS k (kind, notice, priority) ON k.kind = o.kind
        WHERE CASE k.notice
            WHEN 'reminder' THEN p_now < o.due_at
                AND r.percent BETWEEN 1 AND 99 AND o.due_s > o.start_s
                AND (c.now_s - o.start_s) * 100
                    >= (o.due_s - o.start_s) * r.percent
            WHEN 'escalation' THEN p_now >= o.due_at
                AND r.escalation <> 'remindOnly'
            WHEN 'payment_due' THEN p_now < o.due_at
                AND o.due_local::date = c.today
                AND c.local_now >= c.today + TIME '09:00'
                AND o.created_local < c.today + TIME '09:00'
                AND invoiceflow.is_payment_day(c.today)
            WHEN 'documents_overdue' THEN p_now >= o.due_at
            WHEN 'documents_overdue_head' THEN p_now >= o.due_at
                AND c.now_s - o.due_s
                    >= GREATEST(o.due_s - o.start_s, 1)
                AND EXISTS (SELECT FROM invoiceflow_private.task_notice AS n
                            WHERE n.task_id = o.id
                              AND n.notice = 'documents_overdue')
            ELSE false END
          AND NOT EXISTS (SELECT FROM invoiceflow_private.task_notice AS n
                          WHERE n.task_id = o.id AND n.notice = k.notice))
    SELECT d.id, d.invoice_id, d.notice FROM candidate AS d
    ORDER BY d.priority, d.due_at, d.id
    LIMIT GREATEST(p_limit, 0)
$$;
COMMENT ON FUNCTION invoiceflow.daemon_scheduler_due(timestamptz, integer) IS
    'Daemon only: up to p_limit notices due at p_now and not yet sent (escalations and overdue documents first, then '
    'reminders, then payment-day mail), without locking; one set-based pass over the open tasks (business time by '
    'joins with the working calendar). Claim each with daemon_scheduler_claim in its own transaction.';

RESET ROLE;
