-- 0059: the scheduler's per-task functions keep their plans (proposed by the router's benchmark work).
--
-- Router steps without the scheduler's planning. Measured with track_functions on
-- scripts/bench routing's workload (a step pins the route and creates one task): of daemon_apply_routing's
-- 8.4 ms per step, 5.0 ms were scheduler_reschedule (0057), called twice per step — by the task insert
-- trigger and by the route-repinned trigger — at 2.5 ms a call, nearly all of it planning: a LANGUAGE sql
-- function with SET search_path is never inlined and is planned again on every call, even for an empty
-- list of tasks (the first pin of an invoice has no open task). business_instant, called per task, spent
-- 0.24 ms a call the same way.
--
-- Both become PL/pgSQL, which keeps the plans of their statements for the session, and scheduler_reschedule
-- returns at once for a NULL or empty list (its statement then deleted and inserted nothing). PL/pgSQL alone
-- still planned scheduler_reschedule's statement per call (1.5-3 ms): the plan cache judged the generic plan
-- costlier than the custom ones for the array parameter, so it never kept it. force_generic_plan keeps it
-- (0.3 ms a call); that plan probes the task, invoice and calendar indexes per listed task, which is also
-- what a calendar edit's reschedule of every open task wants. The statements are those of 0057, unchanged,
-- so the schedule written is the same.

SET LOCAL ROLE invoiceflow_owner;

CREATE OR REPLACE FUNCTION invoiceflow_private.business_instant(p_seconds bigint) RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The inverse of business_seconds_at: the first instant at which p_seconds working seconds have passed.
    RETURN (
    SELECT (c.day + TIME '09:00' + make_interval(secs => (p_seconds - c.working_days_before::bigint * 32400)::double precision)
            - INTERVAL '3 hours') AT TIME ZONE 'UTC'
    FROM invoiceflow.working_calendar_day AS c
    WHERE c.is_working AND c.working_days_before = ((greatest(p_seconds, 1) + 32399) / 32400 - 1)::integer
    -- One row in a consistent calendar; mid-edit (see the index) any, as the recount reschedules again.
    LIMIT 1);
END
$$;
COMMENT ON FUNCTION invoiceflow_private.business_instant(bigint) IS
    'The first instant at which business_seconds_at() reaches p_seconds (09:00–18:00 Moscow of the working day holding '
    'that second); NULL past the calendar''s range. PL/pgSQL for its cached plan (0059).';

CREATE OR REPLACE FUNCTION invoiceflow_private.scheduler_reschedule(p_task_ids bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF p_task_ids IS NULL OR cardinality(p_task_ids) = 0 THEN
        RETURN;
    END IF;
    WITH task AS MATERIALIZED (
        SELECT t.id, t.kind::text AS kind, t.step_key, t.created_at, t.due_at, i.invoice_type_id, i.route_version,
               (t.created_at AT TIME ZONE 'UTC') + INTERVAL '3 hours' AS created_local,
               ((t.due_at AT TIME ZONE 'UTC') + INTERVAL '3 hours')::date AS due_day,
               invoiceflow_private.seconds_into_calendar(t.created_at, cd) AS start_s,
               invoiceflow_private.seconds_into_calendar(t.due_at, dd) AS due_s,
               coalesce((SELECT array_agg(n.notice) FROM invoiceflow_private.task_notice AS n WHERE n.task_id = t.id),
                        '{}') AS sent
        FROM invoiceflow.task AS t
        JOIN invoiceflow.invoice AS i ON i.id = t.invoice_id
        JOIN invoiceflow.working_calendar_day AS cd ON cd.day = invoiceflow_private.calendar_day(t.created_at)
        JOIN invoiceflow.working_calendar_day AS dd ON dd.day = invoiceflow_private.calendar_day(t.due_at)
        WHERE t.id = ANY (p_task_ids) AND t.outcome IS NULL AND t.due_at IS NOT NULL
          AND t.kind IN ('approve', 'pay', 'collect_documents')),
    step_rule AS MATERIALIZED (
        -- Read once per distinct step, as in 0056.
        SELECT s.invoice_type_id, s.route_version, s.step_key,
               coalesce((r.value ->> 'reminderAtPercent')::integer, 50) AS percent,
               coalesce(r.value ->> 'escalation', 'approversHead') AS escalation
        FROM (SELECT DISTINCT o.invoice_type_id, o.route_version, o.step_key FROM task AS o) AS s
        LEFT JOIN LATERAL (
            SELECT e.value
            FROM invoiceflow.route_version AS v
            CROSS JOIN LATERAL jsonb_array_elements(v.body -> 'steps') AS e (value)
            WHERE v.invoice_type_id = s.invoice_type_id AND v.version = s.route_version AND e.value ->> 'id' = s.step_key
            LIMIT 1) AS r ON true),
    moment AS (
        SELECT o.id, o.due_at, o.sent,
            CASE WHEN o.kind IN ('approve', 'collect_documents') AND r.percent BETWEEN 1 AND 99 AND o.due_s > o.start_s
                 THEN invoiceflow_private.business_instant(o.start_s + ((o.due_s - o.start_s) * r.percent + 99) / 100)
                      - INTERVAL '1 second' END AS reminder_at,
            CASE WHEN o.kind IN ('approve', 'pay') AND r.escalation <> 'remindOnly' THEN o.due_at END AS escalation_at,
            CASE WHEN o.kind = 'pay' AND invoiceflow.is_payment_day(o.due_day)
                      AND o.created_local < o.due_day + TIME '09:00'
                      AND o.due_at > ((o.due_day + TIME '09:00' - INTERVAL '3 hours') AT TIME ZONE 'UTC')
                 THEN (o.due_day + TIME '09:00' - INTERVAL '3 hours') AT TIME ZONE 'UTC' END AS payment_due_at,
            CASE WHEN o.kind = 'collect_documents' THEN o.due_at END AS documents_overdue_at,
            CASE WHEN o.kind = 'collect_documents'
                 THEN greatest(o.due_at, invoiceflow_private.business_instant(
                          o.due_s + greatest(o.due_s - o.start_s, 1)) - INTERVAL '1 second') END AS documents_head_at
        FROM task AS o
        JOIN step_rule AS r
          ON r.invoice_type_id = o.invoice_type_id AND r.route_version IS NOT DISTINCT FROM o.route_version
         AND r.step_key = o.step_key),
    pending AS (
        SELECT m.id, m.due_at,
            CASE WHEN 'reminder' <> ALL (m.sent) THEN m.reminder_at END AS reminder_at,
            CASE WHEN 'payment_due' <> ALL (m.sent) THEN m.payment_due_at END AS payment_due_at,
            CASE WHEN 'escalation' <> ALL (m.sent) THEN m.escalation_at END AS escalation_at,
            CASE WHEN 'documents_overdue' <> ALL (m.sent) THEN m.documents_overdue_at END AS documents_overdue_at,
            CASE WHEN 'documents_overdue_head' <> ALL (m.sent) THEN m.documents_head_at END AS documents_head_at
        FROM moment AS m),
    schedule AS (
        SELECT p.id, least(p.reminder_at, p.payment_due_at, p.escalation_at, p.documents_overdue_at,
                           p.documents_head_at) AS next_at,
               CASE WHEN p.escalation_at IS NULL AND p.documents_overdue_at IS NULL AND p.documents_head_at IS NULL
                    THEN p.due_at END AS until_at
        FROM pending AS p),
    dropped AS (
        DELETE FROM invoiceflow_private.task_schedule AS s
        WHERE s.task_id = ANY (p_task_ids)
          AND NOT EXISTS (SELECT FROM schedule AS c WHERE c.id = s.task_id AND c.next_at IS NOT NULL))
    INSERT INTO invoiceflow_private.task_schedule AS s (task_id, next_at, until_at)
    SELECT c.id, c.next_at, c.until_at FROM schedule AS c WHERE c.next_at IS NOT NULL
    ON CONFLICT (task_id) DO UPDATE SET next_at = excluded.next_at, until_at = excluded.until_at
    WHERE (s.next_at, s.until_at) IS DISTINCT FROM (excluded.next_at, excluded.until_at);
END
$$;
COMMENT ON FUNCTION invoiceflow_private.scheduler_reschedule(bigint[]) IS
    'Recomputes the task_schedule rows of these tasks from the rules of 0055 in business time: next_at = the earliest '
    'moment an unsent notice can be due; no row for a decided task or one with nothing left to send. '
    'PL/pgSQL for its cached plans; nothing to do for an empty list (0059).';

RESET ROLE;
