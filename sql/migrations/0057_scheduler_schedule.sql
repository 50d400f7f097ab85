-- 0057_scheduler_schedule: daemon_scheduler_due() as an index range scan. 0056 evaluated the rules
-- over every open task each round (0.6–0.95 s at 20 000 open tasks, every 60 s per daemon). Here the
-- moments of a task's notices are computed in business time once — when the task is created, when its
-- created_at, due_at, kind, step or outcome change, when a notice of it is recorded, when its invoice's
-- pinned route changes, and when the working calendar is edited (in the editing transaction) — and the
-- earliest one still unsent is kept in invoiceflow_private.task_schedule.next_at, under a partial index.
-- A round reads the tasks WHERE next_at <= p_now and evaluates the rules of 0056 on those only; the
-- claim still re-checks the rule under its locks (scheduler_notice_due, the source of truth).
--
-- next_at is a lower bound of when any unsent notice can be due (one second early, because
-- business_seconds_at rounds fractional seconds), so the listing returns exactly what 0056 returned:
--   reminder                the instant the reminderAtPercent share of the business time is reached;
--   escalation              due_at (not for a remindOnly step);
--   payment_due             09:00 Moscow of the due day, when that day is a payment day, the task existed
--                           before that morning and is due after it;
--   documents_overdue       due_at;
--   documents_overdue_head  the instant a second period has passed since due_at.
-- until_at bounds the reminder and the payment-day mail, whose window closes at due_at: a task whose only
-- unsent notices are those (the daemon was down through the window) is skipped by the listing without
-- evaluating its rules, and leaves the schedule when it is decided.

SET LOCAL ROLE invoiceflow_owner;

CREATE TABLE invoiceflow_private.task_schedule (
    task_id bigint NOT NULL CONSTRAINT task_schedule_pkey PRIMARY KEY
        CONSTRAINT task_schedule_task_fkey REFERENCES invoiceflow.task (id),
    next_at timestamptz NOT NULL,
    until_at timestamptz
);
COMMENT ON TABLE invoiceflow_private.task_schedule IS
    'The scheduler''s index of open tasks: the earliest moment an unsent notice of the task can be due (business time, '
    'computed by scheduler_reschedule). A task with nothing left to send has no row. Maintained by triggers only.';
COMMENT ON COLUMN invoiceflow_private.task_schedule.next_at IS
    'Lower bound of the moment the first unsent notice of the task is due; daemon_scheduler_due reads next_at <= p_now.';
COMMENT ON COLUMN invoiceflow_private.task_schedule.until_at IS
    'When every unsent notice closes with due_at (a reminder, the payment-day mail): due_at, after which nothing is due; '
    'NULL when an unsent notice stays due once due (escalation, overdue documents).';
CREATE INDEX task_schedule_next_at_idx ON invoiceflow_private.task_schedule (next_at) INCLUDE (until_at);

ALTER TABLE invoiceflow_private.task_schedule ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoiceflow_private.task_schedule FORCE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE invoiceflow_private.task_schedule FROM PUBLIC;
CREATE POLICY owner_all ON invoiceflow_private.task_schedule AS PERMISSIVE FOR ALL TO invoiceflow_owner
    USING (true) WITH CHECK (true);
COMMENT ON POLICY owner_all ON invoiceflow_private.task_schedule IS
    'The owner (NOLOGIN; used only by migrations, definer functions and their triggers) reads and writes every row: '
    'FORCE RLS would otherwise deny it. Nobody else reads the table.';

-- The n-th working second: which working day holds it is a probe of this index. Not unique: between
-- set_working_day()'s update of a day and its recount two working days may share a running total.
CREATE INDEX working_calendar_day_working_ordinal_idx ON invoiceflow.working_calendar_day (working_days_before)
    WHERE is_working;

CREATE FUNCTION invoiceflow_private.business_instant(p_seconds bigint) RETURNS timestamptz
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    -- The inverse of business_seconds_at: the first instant at which p_seconds working seconds have passed.
    SELECT (c.day + TIME '09:00' + make_interval(secs => (p_seconds - c.working_days_before::bigint * 32400)::double precision)
            - INTERVAL '3 hours') AT TIME ZONE 'UTC'
    FROM invoiceflow.working_calendar_day AS c
    WHERE c.is_working AND c.working_days_before = ((greatest(p_seconds, 1) + 32399) / 32400 - 1)::integer
    -- One row in a consistent calendar; mid-edit (see the index) any, as the recount reschedules again.
    LIMIT 1
$$;
COMMENT ON FUNCTION invoiceflow_private.business_instant(bigint) IS
    'The first instant at which business_seconds_at() reaches p_seconds (09:00–18:00 Moscow of the working day holding '
    'that second); NULL past the calendar''s range.';

CREATE FUNCTION invoiceflow_private.scheduler_reschedule(p_task_ids bigint[]) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
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
    WHERE (s.next_at, s.until_at) IS DISTINCT FROM (excluded.next_at, excluded.until_at)
$$;
COMMENT ON FUNCTION invoiceflow_private.scheduler_reschedule(bigint[]) IS
    'Recomputes the task_schedule rows of these tasks from the rules of 0055 in business time: next_at = the earliest '
    'moment an unsent notice can be due; no row for a decided task or one with nothing left to send.';

-- What a round looks at: an index range scan. Plain SQL without SET, so the planner inlines it into
-- daemon_scheduler_due and the plan can be asserted (sql/tests/52_scheduler.sql).
CREATE FUNCTION invoiceflow_private.scheduler_due_tasks(p_now timestamptz) RETURNS SETOF bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT s.task_id FROM invoiceflow_private.task_schedule AS s
    WHERE s.next_at OPERATOR(pg_catalog.<=) p_now
      AND (s.until_at IS NULL OR s.until_at OPERATOR(pg_catalog.>) p_now)
$$;
COMMENT ON FUNCTION invoiceflow_private.scheduler_due_tasks(timestamptz) IS
    'The open tasks that may have a notice due at p_now (task_schedule.next_at <= p_now): the candidates of a round.';

-- Keeping the schedule current ------------------------------------------------------------------------------

CREATE FUNCTION invoiceflow_private.scheduler_task_inserted() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM invoiceflow_private.scheduler_reschedule(
        (SELECT array_agg(n.id) FROM new_task AS n WHERE n.outcome IS NULL AND n.due_at IS NOT NULL));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.scheduler_task_inserted() IS
    'Trigger: schedules the notices of new open tasks that have a deadline.';
CREATE TRIGGER task_schedule_inserted AFTER INSERT ON invoiceflow.task
    REFERENCING NEW TABLE AS new_task FOR EACH STATEMENT
    EXECUTE FUNCTION invoiceflow_private.scheduler_task_inserted();
COMMENT ON TRIGGER task_schedule_inserted ON invoiceflow.task IS
    'Schedules the scheduler''s notices of new tasks (task_schedule, migration 0057).';

CREATE FUNCTION invoiceflow_private.scheduler_task_updated() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM invoiceflow_private.scheduler_reschedule((
        SELECT array_agg(n.id)
        FROM new_task AS n JOIN old_task AS o ON o.id = n.id
        WHERE (n.outcome, n.due_at, n.created_at, n.kind, n.step_key, n.invoice_id)
              IS DISTINCT FROM (o.outcome, o.due_at, o.created_at, o.kind, o.step_key, o.invoice_id)));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.scheduler_task_updated() IS
    'Trigger: reschedules tasks whose deadline, start, kind, step or outcome changed (a decided task leaves the schedule).';
CREATE TRIGGER task_schedule_updated AFTER UPDATE ON invoiceflow.task
    REFERENCING OLD TABLE AS old_task NEW TABLE AS new_task FOR EACH STATEMENT
    EXECUTE FUNCTION invoiceflow_private.scheduler_task_updated();
COMMENT ON TRIGGER task_schedule_updated ON invoiceflow.task IS
    'Keeps task_schedule (migration 0057) in step with the tasks'' deadlines and outcomes.';

CREATE FUNCTION invoiceflow_private.scheduler_notice_recorded() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM invoiceflow_private.scheduler_reschedule((SELECT array_agg(DISTINCT n.task_id) FROM new_notice AS n));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.scheduler_notice_recorded() IS
    'Trigger: a sent notice moves its task''s next moment on (or takes the task off the schedule).';
CREATE TRIGGER task_notice_reschedule AFTER INSERT ON invoiceflow_private.task_notice
    REFERENCING NEW TABLE AS new_notice FOR EACH STATEMENT
    EXECUTE FUNCTION invoiceflow_private.scheduler_notice_recorded();
COMMENT ON TRIGGER task_notice_reschedule ON invoiceflow_private.task_notice IS
    'Moves the task''s next scheduled moment past the notice just recorded (migration 0057).';

CREATE FUNCTION invoiceflow_private.scheduler_route_repinned() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM invoiceflow_private.scheduler_reschedule(ARRAY(
        SELECT t.id FROM invoiceflow.task AS t WHERE t.invoice_id = NEW.id AND t.outcome IS NULL));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.scheduler_route_repinned() IS
    'Trigger: the open tasks of an invoice whose pinned route changed take the new steps'' reminder share and escalation.';
CREATE TRIGGER invoice_schedule_route_repinned AFTER UPDATE OF invoice_type_id, route_version ON invoiceflow.invoice
    FOR EACH ROW
    WHEN ((OLD.invoice_type_id, OLD.route_version) IS DISTINCT FROM (NEW.invoice_type_id, NEW.route_version))
    EXECUTE FUNCTION invoiceflow_private.scheduler_route_repinned();
COMMENT ON TRIGGER invoice_schedule_route_repinned ON invoiceflow.invoice IS
    'Reschedules the invoice''s open tasks when its pinned route version changes (migration 0057).';

CREATE FUNCTION invoiceflow_private.scheduler_calendar_edited() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- set_working_day() updates the day, then recounts the running totals: both statements land here, and
    -- the second sees the recounted calendar. Same transaction as the edit, so no round sees a stale moment.
    IF EXISTS (SELECT FROM new_day AS n JOIN old_day AS o ON o.day = n.day
               WHERE (n.is_working, n.working_days_before) IS DISTINCT FROM (o.is_working, o.working_days_before)) THEN
        PERFORM invoiceflow_private.scheduler_reschedule(ARRAY(
            SELECT t.id FROM invoiceflow.task AS t WHERE t.outcome IS NULL AND t.due_at IS NOT NULL));
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.scheduler_calendar_edited() IS
    'Trigger: a working-calendar edit recomputes every open task''s schedule in the editing transaction.';
CREATE TRIGGER working_calendar_day_reschedule AFTER UPDATE ON invoiceflow.working_calendar_day
    REFERENCING OLD TABLE AS old_day NEW TABLE AS new_day FOR EACH STATEMENT
    EXECUTE FUNCTION invoiceflow_private.scheduler_calendar_edited();
COMMENT ON TRIGGER working_calendar_day_reschedule ON invoiceflow.working_calendar_day IS
    'Recomputes the scheduler''s moments (task_schedule, migration 0057) after a calendar edit.';

-- The listing ------------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION invoiceflow.daemon_scheduler_due(p_now timestamptz, p_limit integer DEFAULT 100)
RETURNS TABLE (task_id bigint, invoice_id bigint, notice text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The rules of 0056, over the scheduled candidates only. A dynamic statement, so every round is planned
    -- with its p_now: a SQL function's statement is planned for an unknown $1 (a third of the schedule by
    -- the default estimate), which picks sequential scans.
    RETURN QUERY EXECUTE $q$
        WITH open_task AS MATERIALIZED (
            SELECT t.id, t.invoice_id, t.kind::text AS kind, t.step_key, t.created_at, t.due_at, i.invoice_type_id,
                   i.route_version,
                   (t.created_at AT TIME ZONE 'UTC') + INTERVAL '3 hours' AS created_local,
                   (t.due_at AT TIME ZONE 'UTC') + INTERVAL '3 hours' AS due_local,
                   invoiceflow_private.seconds_into_calendar(t.created_at, cd) AS start_s,
                   invoiceflow_private.seconds_into_calendar(t.due_at, dd) AS due_s
            FROM invoiceflow_private.scheduler_due_tasks($1) AS d (id)
            JOIN invoiceflow.task AS t ON t.id = d.id
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
            SELECT invoiceflow_private.business_seconds_at($1) AS now_s,
                   invoiceflow_private.moscow_time($1) AS local_now,
                   invoiceflow_private.moscow_time($1)::date AS today),
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
                WHEN 'reminder' THEN $1 < o.due_at
                    AND r.percent BETWEEN 1 AND 99 AND o.due_s > o.start_s
                    AND (c.now_s - o.start_s) * 100
                        >= (o.due_s - o.start_s) * r.percent
                WHEN 'escalation' THEN $1 >= o.due_at
                    AND r.escalation <> 'remindOnly'
                WHEN 'payment_due' THEN $1 < o.due_at
                    AND o.due_local::date = c.today
                    AND c.local_now >= c.today + TIME '09:00'
                    AND o.created_local < c.today + TIME '09:00'
                    AND invoiceflow.is_payment_day(c.today)
                WHEN 'documents_overdue' THEN $1 >= o.due_at
                WHEN 'documents_overdue_head' THEN $1 >= o.due_at
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
        LIMIT GREATEST($2, 0)
    $q$ USING p_now, p_limit;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_scheduler_due(timestamptz, integer) IS
    'Daemon only: up to p_limit notices due at p_now and not yet sent (escalations and overdue documents first, then '
    'reminders, then payment-day mail), without locking; the candidates are an index range scan of task_schedule '
    '(next_at <= p_now, migration 0057). Claim each with daemon_scheduler_claim in its own transaction.';

REVOKE ALL ON FUNCTION invoiceflow_private.business_instant(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow_private.scheduler_reschedule(bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow_private.scheduler_due_tasks(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow_private.scheduler_task_inserted() FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow_private.scheduler_task_updated() FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow_private.scheduler_notice_recorded() FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow_private.scheduler_route_repinned() FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow_private.scheduler_calendar_edited() FROM PUBLIC;

-- The tasks open today.
DO $$ BEGIN PERFORM invoiceflow_private.scheduler_reschedule(ARRAY(
    SELECT t.id FROM invoiceflow.task AS t WHERE t.outcome IS NULL AND t.due_at IS NOT NULL)); END $$;

RESET ROLE;
