-- 0031_reporting: the reporting schema for DBAs, finance and BI tools (issue 7).
--
-- Every view is security_invoker and reads only the registry tables, so row-level security decides
-- what each caller's report contains: an initiator's reports cover their own invoices, an approver's
-- what they act or acted on, a finance person's their subdivisions, an auditor's (and the read-only
-- invoiceflow_reporting role's) everything. Nothing here is a definer function: no report can show a
-- row its caller could not select from the registry directly.
--
-- Stage history comes from the audit log (one row per state change, invariant 2): a row whose
-- after.stage differs from its before.stage is a stage transition. Step history comes from the task
-- table (created_at → decided_at per task). Durations are given as wall time and business time
-- (invoiceflow.business_hours: 09:00–18:00 Moscow on working days of working_calendar_day).
-- docs/reports.md documents every view and column with example queries.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'invoiceflow_reporting') THEN
        -- NOLOGIN group: DBAs and BI tools get their own login role and GRANT invoiceflow_reporting TO it.
        CREATE ROLE invoiceflow_reporting NOLOGIN;
    END IF;
END
$$;
-- Sees like an auditor (the policies recognise auditors by membership of the session user), and like
-- an auditor holds no write privilege and no command function.
GRANT invoiceflow_auditor TO invoiceflow_reporting;
COMMENT ON ROLE invoiceflow_reporting IS
    'Read-only reporting for DBAs and BI tools: sees every row like an auditor (member of invoiceflow_auditor), writes nothing. '
    'Grant it to a login role; never LOGIN itself.';

CREATE SCHEMA reporting AUTHORIZATION invoiceflow_owner;
COMMENT ON SCHEMA reporting IS
    'Reports on the registry (stage and step durations, bottlenecks, SLA breaches, aging, payment registry, substitutions): '
    'security_invoker views, so each caller sees only the invoices they may see. Documented in docs/reports.md.';
REVOKE ALL ON SCHEMA reporting FROM PUBLIC;
GRANT USAGE ON SCHEMA reporting TO invoiceflow_employee, invoiceflow_auditor;

SET LOCAL ROLE invoiceflow_owner;

-- Each invoice now -----------------------------------------------------------------------------------

CREATE VIEW reporting.invoice_status WITH (security_invoker = true) AS
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
    round(invoiceflow_private.business_seconds_between(i.stage_changed_at, cst, now(), cnow)::numeric / 3600, 2)
        AS stage_age_business_hours,
    CASE WHEN i.submitted_at IS NOT NULL THEN now() - i.submitted_at END AS age_since_submission,
    round(invoiceflow_private.business_seconds_between(i.submitted_at, csub, now(), cnow)::numeric / 3600, 2)
        AS age_since_submission_business_hours,
    i.stage NOT IN ('closed', 'withdrawn') AS is_open
FROM invoiceflow.invoice AS i
JOIN invoiceflow.invoice_type AS it ON it.id = i.invoice_type_id
JOIN invoiceflow.subdivision AS ps ON ps.id = i.paying_subdivision_id
JOIN invoiceflow.employee AS ini ON ini.id = i.initiator_id
LEFT JOIN invoiceflow.working_calendar_day AS cst ON cst.day = invoiceflow_private.calendar_day(i.stage_changed_at)
LEFT JOIN invoiceflow.working_calendar_day AS csub ON csub.day = invoiceflow_private.calendar_day(i.submitted_at)
LEFT JOIN invoiceflow.working_calendar_day AS cnow ON cnow.day = invoiceflow_private.calendar_day(now())
LEFT JOIN LATERAL (
    SELECT array_agg(t.assignee_id ORDER BY t.id) AS holder_ids,
           string_agg(e.full_name || coalesce(' (за ' || f.full_name || ')', ''), ', ' ORDER BY t.id) AS holders
    FROM invoiceflow.task AS t
    JOIN invoiceflow.employee AS e ON e.id = t.assignee_id
    LEFT JOIN invoiceflow.employee AS f ON f.id = t.acting_for_id
    WHERE t.invoice_id = i.id AND t.outcome IS NULL
) AS h ON true;
COMMENT ON VIEW reporting.invoice_status IS
    'Each visible invoice now: stage, since when, who holds it (open tasks), and its age in wall and business time.';
COMMENT ON COLUMN reporting.invoice_status.holder_ids IS 'Assignees of the open tasks, in task order; NULL when nobody holds it.';
COMMENT ON COLUMN reporting.invoice_status.holders IS 'Their names, with "(за X)" for a substitute acting for X.';
COMMENT ON COLUMN reporting.invoice_status.stage_age IS 'Wall time in the current stage.';
COMMENT ON COLUMN reporting.invoice_status.stage_age_business_hours IS 'Business hours in the current stage.';
COMMENT ON COLUMN reporting.invoice_status.age_since_submission IS 'Wall time since first submission; NULL for a never-submitted draft.';
COMMENT ON COLUMN reporting.invoice_status.is_open IS 'False once closed or withdrawn.';

-- Time in each stage and step -----------------------------------------------------------------------

CREATE VIEW reporting.stage_span WITH (security_invoker = true) AS
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
           row_number() OVER w AS seq
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
LEFT JOIN invoiceflow.working_calendar_day AS cin ON cin.day = invoiceflow_private.calendar_day(s.entered_at)
LEFT JOIN invoiceflow.working_calendar_day AS cout ON cout.day = invoiceflow_private.calendar_day(coalesce(s.left_at, now()));
COMMENT ON VIEW reporting.stage_span IS
    'One row per stay of a visible invoice in a stage, from the audit log''s stage transitions: entered, left (NULL while '
    'current), wall and business duration (up to now for the current stay). An invoice returned for rework has several '
    'draft and approval stays.';
COMMENT ON COLUMN reporting.stage_span.seq IS 'Position of the stay in the invoice''s history, from 1.';
COMMENT ON COLUMN reporting.stage_span.next_stage IS 'The stage it moved to when it left; NULL while current.';
COMMENT ON COLUMN reporting.stage_span.entered_month IS 'First day of the Moscow month the stay began.';
COMMENT ON COLUMN reporting.stage_span.business_hours IS 'Working hours of the stay (09:00–18:00 Moscow, working days).';

CREATE VIEW reporting.step_span WITH (security_invoker = true) AS
SELECT
    t.id AS task_id,
    t.invoice_id,
    t.step_key,
    t.kind,
    it.code AS invoice_type,
    ps.code AS paying_subdivision,
    t.assignee_id,
    ae.full_name AS assignee_name,
    t.acting_for_id,
    fe.full_name AS acting_for_name,
    t.decided_by,
    de.full_name AS decided_by_name,
    t.decided_for_id,
    t.outcome,
    t.created_at,
    t.decided_at,
    t.due_at,
    t.outcome IS NULL AS is_open,
    date_trunc('month', (t.created_at AT TIME ZONE 'UTC') + interval '3 hours')::date AS created_month,
    coalesce(t.decided_at, now()) - t.created_at AS wall_duration,
    round((EXTRACT(epoch FROM coalesce(t.decided_at, now()) - t.created_at) / 3600)::numeric, 2) AS wall_hours,
    round(invoiceflow_private.business_seconds_between(t.created_at, cin, coalesce(t.decided_at, now()), cout)::numeric
          / 3600, 2) AS business_hours,
    t.due_at IS NOT NULL AND coalesce(t.decided_at, now()) > t.due_at AS sla_breached,
    CASE WHEN t.due_at IS NOT NULL AND coalesce(t.decided_at, now()) > t.due_at
         THEN round(invoiceflow_private.business_seconds_between(t.due_at, cdue, coalesce(t.decided_at, now()), cout)::numeric
                    / 3600, 2) END AS overdue_business_hours
FROM invoiceflow.task AS t
JOIN invoiceflow.invoice AS i ON i.id = t.invoice_id
JOIN invoiceflow.invoice_type AS it ON it.id = i.invoice_type_id
JOIN invoiceflow.subdivision AS ps ON ps.id = i.paying_subdivision_id
JOIN invoiceflow.employee AS ae ON ae.id = t.assignee_id
LEFT JOIN invoiceflow.employee AS fe ON fe.id = t.acting_for_id
LEFT JOIN invoiceflow.employee AS de ON de.id = t.decided_by
LEFT JOIN invoiceflow.working_calendar_day AS cin ON cin.day = invoiceflow_private.calendar_day(t.created_at)
LEFT JOIN invoiceflow.working_calendar_day AS cout ON cout.day = invoiceflow_private.calendar_day(coalesce(t.decided_at, now()))
LEFT JOIN invoiceflow.working_calendar_day AS cdue ON cdue.day = invoiceflow_private.calendar_day(t.due_at);
COMMENT ON VIEW reporting.step_span IS
    'One row per task of a visible invoice: which step, who held it (for whom), how it ended, how long it took in wall and '
    'business time (up to now while open), and whether it breached its SLA (finished, or still open, after due_at).';
COMMENT ON COLUMN reporting.step_span.created_month IS 'First day of the Moscow month the task was created.';
COMMENT ON COLUMN reporting.step_span.sla_breached IS 'True when the task was decided after due_at, or is open past it.';
COMMENT ON COLUMN reporting.step_span.overdue_business_hours IS 'Business hours past due_at (at the decision, or now); NULL if not breached.';

-- Bottlenecks: duration distributions -----------------------------------------------------------------

CREATE VIEW reporting.stage_duration_stats_live WITH (security_invoker = true) AS
SELECT
    d.dimension,
    s.stage,
    d.key,
    count(*) AS stays,
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s.business_hours)::numeric, 2) AS p50_business_hours,
    round(percentile_cont(0.9) WITHIN GROUP (ORDER BY s.business_hours)::numeric, 2) AS p90_business_hours,
    max(s.business_hours) AS max_business_hours,
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s.wall_hours)::numeric, 2) AS p50_wall_hours,
    round(percentile_cont(0.9) WITHIN GROUP (ORDER BY s.wall_hours)::numeric, 2) AS p90_wall_hours,
    max(s.wall_hours) AS max_wall_hours
FROM reporting.stage_span AS s
CROSS JOIN LATERAL (VALUES
    ('stage', 'all'),
    ('invoice_type', s.invoice_type),
    ('subdivision', s.paying_subdivision),
    ('month', to_char(s.entered_month, 'YYYY-MM'))
) AS d (dimension, key)
WHERE NOT s.is_current
GROUP BY d.dimension, s.stage, d.key;
COMMENT ON VIEW reporting.stage_duration_stats_live IS
    'How long finished stays in each stage took (p50, p90, max; business and wall hours), overall (dimension stage, key all) '
    'and per invoice type, paying subdivision and month entered. The bottleneck report: the stage with the largest p90.';
COMMENT ON COLUMN reporting.stage_duration_stats_live.dimension IS 'stage (key = all), invoice_type, subdivision or month.';
COMMENT ON COLUMN reporting.stage_duration_stats_live.key IS 'The value of the dimension: all, a type code, a subdivision code, YYYY-MM.';
COMMENT ON COLUMN reporting.stage_duration_stats_live.p50_business_hours IS 'Median business hours (interpolated percentile).';

CREATE VIEW reporting.step_duration_stats_live WITH (security_invoker = true) AS
SELECT
    d.dimension,
    s.step_key,
    d.key,
    count(*) AS tasks,
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s.business_hours)::numeric, 2) AS p50_business_hours,
    round(percentile_cont(0.9) WITHIN GROUP (ORDER BY s.business_hours)::numeric, 2) AS p90_business_hours,
    max(s.business_hours) AS max_business_hours,
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s.wall_hours)::numeric, 2) AS p50_wall_hours,
    round(percentile_cont(0.9) WITHIN GROUP (ORDER BY s.wall_hours)::numeric, 2) AS p90_wall_hours,
    max(s.wall_hours) AS max_wall_hours
FROM reporting.step_span AS s
CROSS JOIN LATERAL (VALUES
    ('step', 'all'),
    ('approver', s.assignee_name),
    ('invoice_type', s.invoice_type),
    ('subdivision', s.paying_subdivision),
    ('month', to_char(s.created_month, 'YYYY-MM'))
) AS d (dimension, key)
WHERE s.outcome IS NOT NULL AND s.outcome <> 'cancelled'
GROUP BY d.dimension, s.step_key, d.key;
COMMENT ON VIEW reporting.step_duration_stats_live IS
    'How long decided tasks of each route step took (p50, p90, max; business and wall hours), overall (dimension step, key '
    'all) and per approver (the task''s holder), invoice type, paying subdivision and month created. Cancelled tasks '
    '(nobody had to act) and open ones are left out.';
COMMENT ON COLUMN reporting.step_duration_stats_live.dimension IS 'step (key = all), approver, invoice_type, subdivision or month.';
COMMENT ON COLUMN reporting.step_duration_stats_live.key IS 'The value of the dimension: all, a name, a type code, a subdivision code, YYYY-MM.';

-- Overdue and stuck -----------------------------------------------------------------------------------

CREATE VIEW reporting.sla_breach WITH (security_invoker = true) AS
SELECT s.task_id, s.invoice_id, s.invoice_type, s.paying_subdivision, s.step_key, s.kind, s.assignee_name,
       s.acting_for_name, s.due_at, s.decided_at, s.outcome, s.is_open, s.overdue_business_hours,
       coalesce(s.decided_at, now()) - s.due_at AS overdue_wall
FROM reporting.step_span AS s
WHERE s.sla_breached AND (s.outcome IS NULL OR s.outcome <> 'cancelled');
COMMENT ON VIEW reporting.sla_breach IS
    'Tasks that missed their SLA: decided after due_at, or still open past it; by how much in business hours and wall time.';
COMMENT ON COLUMN reporting.sla_breach.overdue_wall IS 'Wall time past due_at (at the decision, or now).';

-- Router notes are a small share of the audit log; this index lets the escalation report skip the rest.
CREATE INDEX audit_log_route_note_idx ON invoiceflow.audit_log (invoice_id, id) WHERE action LIKE 'route\_%';

CREATE VIEW reporting.escalation WITH (security_invoker = true) AS
SELECT a.invoice_id, a.id AS audit_id, a.occurred_at, a.action,
       coalesce(a.after ->> 'step', a.after ->> 'step_key') AS step_key,
       CASE WHEN a.action LIKE '%escalat%' THEN 'overdue' ELSE 'nobody_could_act' END AS reason,
       a.comment, a.after AS detail
FROM invoiceflow.audit_log AS a
WHERE a.invoice_id IS NOT NULL
  AND a.action LIKE 'route\_%'
  AND (a.action LIKE 'route\_%escalat%'
       OR (a.action = 'route_step_started'
           AND jsonb_path_exists(a.after, 'strict $.**.escalatedVia ? (@.size() > 0)')));
COMMENT ON VIEW reporting.escalation IS
    'Escalations from the audit log: steps the router sent up the department tree because nobody named could act '
    '(route_step_started with a non-empty escalatedVia), and overdue escalations (audit actions route_*escalat*).';
COMMENT ON COLUMN reporting.escalation.reason IS 'nobody_could_act (at routing time) or overdue (SLA escalation).';
COMMENT ON COLUMN reporting.escalation.detail IS 'The router''s audit detail (step, resolution, whom it escalated via).';

CREATE VIEW reporting.open_task_age_live WITH (security_invoker = true) AS
SELECT s.step_key, s.kind, b.bucket, b.bucket_order, count(*) AS tasks, count(*) FILTER (WHERE s.sla_breached) AS breached,
       max(s.business_hours) AS oldest_business_hours
FROM reporting.step_span AS s
CROSS JOIN LATERAL (SELECT CASE
    WHEN s.business_hours < 9 THEN '< 1 working day'
    WHEN s.business_hours < 27 THEN '1–3 working days'
    WHEN s.business_hours < 45 THEN '3–5 working days'
    ELSE '≥ 5 working days' END AS bucket,
    CASE WHEN s.business_hours < 9 THEN 1 WHEN s.business_hours < 27 THEN 2 WHEN s.business_hours < 45 THEN 3 ELSE 4 END
        AS bucket_order) AS b
WHERE s.is_open
GROUP BY s.step_key, s.kind, b.bucket, b.bucket_order;
COMMENT ON VIEW reporting.open_task_age_live IS
    'Open tasks per step and age bucket in business time (a working day = 9 hours): how many, how many past due, the oldest.';
COMMENT ON COLUMN reporting.open_task_age_live.bucket_order IS 'Sort key of the bucket (1 youngest .. 4 oldest).';

-- Quality: rejections and rework -------------------------------------------------------------------------

CREATE VIEW reporting.rejection_rate_live WITH (security_invoker = true) AS
SELECT s.invoice_type, s.step_key,
       count(*) AS decisions,
       count(*) FILTER (WHERE s.outcome = 'rejected') AS rejected,
       count(*) FILTER (WHERE s.outcome = 'approved_with_remarks') AS approved_with_remarks,
       round(count(*) FILTER (WHERE s.outcome = 'rejected')::numeric / count(*), 4) AS rejection_rate
FROM reporting.step_span AS s
WHERE s.kind = 'approve' AND s.outcome IN ('approved', 'approved_with_remarks', 'rejected')
GROUP BY s.invoice_type, s.step_key;
COMMENT ON VIEW reporting.rejection_rate_live IS
    'Approval decisions per invoice type and step: how many, rejected, approved with remarks, and the rejection rate (0..1).';

CREATE VIEW reporting.rework_rate_live WITH (security_invoker = true) AS
SELECT it.code AS invoice_type,
       count(*) AS submitted_invoices,
       count(*) FILTER (WHERE r.returns > 0) AS reworked_invoices,
       coalesce(sum(r.returns), 0) AS returns,
       round(count(*) FILTER (WHERE r.returns > 0)::numeric / count(*), 4) AS rework_rate
FROM invoiceflow.invoice AS i
JOIN invoiceflow.invoice_type AS it ON it.id = i.invoice_type_id
CROSS JOIN LATERAL (SELECT count(*) AS returns FROM invoiceflow.audit_log AS a
                    WHERE a.invoice_id = i.id AND a.action = 'return_for_rework') AS r
WHERE i.submitted_at IS NOT NULL
GROUP BY it.code;
COMMENT ON VIEW reporting.rework_rate_live IS
    'Submitted invoices per type: how many were returned for rework at least once, the number of returns, and the share '
    'of invoices reworked (0..1).';

-- Money: payments and closing documents -------------------------------------------------------------------

CREATE VIEW reporting.paid_without_documents WITH (security_invoker = true) AS
SELECT i.id AS invoice_id, it.code AS invoice_type, ps.code AS paying_subdivision,
       coalesce(c.name, rs.name) AS receiver_name, i.amount_minor, i.currency, i.stage,
       p.paid_on, p.paid_minor,
       col.collector_id, col.collector_name,
       current_date - p.paid_on AS days_since_payment,
       round(invoiceflow_private.business_seconds_between(p.paid_until, cpaid, now(), cnow)::numeric / 32400, 2)
           AS working_days_since_payment,
       CASE WHEN current_date - p.paid_on <= 7 THEN '≤ 7 days' WHEN current_date - p.paid_on <= 30 THEN '8–30 days'
            WHEN current_date - p.paid_on <= 90 THEN '31–90 days' ELSE '> 90 days' END AS age_bucket
FROM invoiceflow.invoice AS i
JOIN invoiceflow.invoice_type AS it ON it.id = i.invoice_type_id
JOIN invoiceflow.subdivision AS ps ON ps.id = i.paying_subdivision_id
LEFT JOIN invoiceflow.counterparty AS c ON c.id = i.counterparty_id
LEFT JOIN invoiceflow.subdivision AS rs ON rs.id = i.receiving_subdivision_id
CROSS JOIN LATERAL (SELECT max(pm.paid_on) AS paid_on, sum(pm.amount_minor)::bigint AS paid_minor,
                           -- 18:00 Moscow of the payment day: the working day of the payment counts as spent.
                           (max(pm.paid_on)::timestamp + interval '18 hours') AT TIME ZONE 'UTC' - interval '3 hours' AS paid_until
                    FROM invoiceflow.payment AS pm WHERE pm.invoice_id = i.id) AS p
LEFT JOIN invoiceflow.working_calendar_day AS cpaid ON cpaid.day = invoiceflow_private.calendar_day(p.paid_until)
LEFT JOIN invoiceflow.working_calendar_day AS cnow ON cnow.day = invoiceflow_private.calendar_day(now())
LEFT JOIN LATERAL (SELECT t.assignee_id AS collector_id, e.full_name AS collector_name
                   FROM invoiceflow.task AS t JOIN invoiceflow.employee AS e ON e.id = t.assignee_id
                   WHERE t.invoice_id = i.id AND t.kind = 'collect_documents'
                   ORDER BY t.outcome IS NULL DESC, t.id DESC LIMIT 1) AS col ON true
WHERE p.paid_minor = i.amount_minor
  -- Full payment moves an invoice to closing_documents (record_payment); closing needs a document.
  AND i.stage = 'closing_documents'
  AND NOT EXISTS (SELECT FROM invoiceflow.closing_document AS d WHERE d.invoice_id = i.id);
COMMENT ON VIEW reporting.paid_without_documents IS
    'Fully paid invoices with no closing document yet: who collects them, when the last payment went out, and how long '
    'ago in calendar and working days (with an age bucket).';
COMMENT ON COLUMN reporting.paid_without_documents.paid_on IS 'Date of the last payment (the one that completed the amount).';
COMMENT ON COLUMN reporting.paid_without_documents.collector_id IS 'Holder of the collect_documents task (the open one if any); NULL if none was created.';
COMMENT ON COLUMN reporting.paid_without_documents.working_days_since_payment IS
    'Working days (9 business hours each, to 0.01) from the end of the payment day to now.';

CREATE VIEW reporting.payment_registry_live WITH (security_invoker = true) AS
SELECT pm.paid_on, invoiceflow.is_payment_day(pm.paid_on) AS is_payment_day, ps.code AS paying_subdivision,
       pm.currency, count(*) AS payments, count(DISTINCT pm.invoice_id) AS invoices, sum(pm.amount_minor)::bigint AS amount_minor
FROM invoiceflow.payment AS pm
JOIN invoiceflow.invoice AS i ON i.id = pm.invoice_id
JOIN invoiceflow.subdivision AS ps ON ps.id = i.paying_subdivision_id
GROUP BY pm.paid_on, ps.code, pm.currency;
COMMENT ON VIEW reporting.payment_registry_live IS
    'Payments per payment day, paying subdivision and currency: count, invoices, total; is_payment_day flags payments made '
    'outside the Tuesday/Thursday registry.';

-- Substitutions -----------------------------------------------------------------------------------------

-- Tasks decided by a deputy are few; this index spares the substitution report a scan of every task.
CREATE INDEX task_decided_for_idx ON invoiceflow.task (decided_for_id) WHERE decided_for_id IS NOT NULL;

CREATE VIEW reporting.substitution_use WITH (security_invoker = true) AS
SELECT t.id AS task_id, t.invoice_id, it.code AS invoice_type, t.step_key, t.kind,
       dep.id AS deputy_id, dep.full_name AS deputy_name,
       ab.id AS absent_id, ab.full_name AS absent_name,
       CASE WHEN t.acting_for_id IS NOT NULL THEN 'assigned_to_deputy' ELSE 'decided_as_deputy' END AS how,
       t.outcome, t.created_at, t.decided_at
FROM invoiceflow.task AS t
JOIN invoiceflow.invoice AS i ON i.id = t.invoice_id
JOIN invoiceflow.invoice_type AS it ON it.id = i.invoice_type_id
JOIN invoiceflow.employee AS dep
    ON dep.id = CASE WHEN t.acting_for_id IS NOT NULL THEN t.assignee_id ELSE t.decided_by END
JOIN invoiceflow.employee AS ab ON ab.id = coalesce(t.acting_for_id, t.decided_for_id)
WHERE t.acting_for_id IS NOT NULL OR t.decided_for_id IS NOT NULL;
COMMENT ON VIEW reporting.substitution_use IS
    'Tasks where a deputy stood in: assigned to the deputy at routing time (acting_for), or decided by a current deputy of '
    'the assignee (decided_for). Who for whom, on which step, with what outcome.';
COMMENT ON COLUMN reporting.substitution_use.how IS
    'assigned_to_deputy (the router gave the task to the deputy) or decided_as_deputy (a deputy decided the absent '
    'assignee''s task).';

-- Snapshots of the aggregates -------------------------------------------------------------------------
--
-- Auditors and the reporting role see everything, so their aggregates scan the whole history; at a
-- million invoices that takes seconds. invoiceflow.refresh_reports() (run by the daemon on a schedule,
-- or by an admin) stores each *_live aggregate as the owner sees it; afterwards the public view gives
-- auditors that snapshot (with its refreshed_at) and everyone else the live figures over what they may
-- see, which for them is a small set. Before the first refresh auditors get live figures too.

CREATE TABLE invoiceflow_private.report_snapshot_run (
    report text NOT NULL CONSTRAINT report_snapshot_run_pkey PRIMARY KEY,
    refreshed_at timestamptz NOT NULL,
    row_count bigint NOT NULL
);
COMMENT ON TABLE invoiceflow_private.report_snapshot_run IS
    'When each aggregate report was last stored by refresh_reports(), and how many rows it had.';

CREATE TABLE invoiceflow_private.report_snapshot_row (
    report text NOT NULL CONSTRAINT report_snapshot_row_report_fkey REFERENCES invoiceflow_private.report_snapshot_run (report),
    row_data jsonb NOT NULL
);
COMMENT ON TABLE invoiceflow_private.report_snapshot_row IS
    'The rows of the stored aggregate reports (everything, as an auditor sees it); read only through report_snapshot_rows().';
COMMENT ON COLUMN invoiceflow_private.report_snapshot_row.row_data IS 'One row of reporting.<report>_live as to_jsonb().';
CREATE INDEX report_snapshot_row_report_idx ON invoiceflow_private.report_snapshot_row (report);

ALTER TABLE invoiceflow_private.report_snapshot_run ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoiceflow_private.report_snapshot_run FORCE ROW LEVEL SECURITY;
ALTER TABLE invoiceflow_private.report_snapshot_row ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoiceflow_private.report_snapshot_row FORCE ROW LEVEL SECURITY;
REVOKE ALL ON invoiceflow_private.report_snapshot_run, invoiceflow_private.report_snapshot_row FROM PUBLIC;
CREATE POLICY owner_all ON invoiceflow_private.report_snapshot_run AS PERMISSIVE FOR ALL TO invoiceflow_owner
    USING (true) WITH CHECK (true);
COMMENT ON POLICY owner_all ON invoiceflow_private.report_snapshot_run IS
    'The owner (NOLOGIN; used only by migrations and definer functions) reads and writes every row: FORCE RLS would otherwise deny it.';
CREATE POLICY owner_all ON invoiceflow_private.report_snapshot_row AS PERMISSIVE FOR ALL TO invoiceflow_owner
    USING (true) WITH CHECK (true);
COMMENT ON POLICY owner_all ON invoiceflow_private.report_snapshot_row IS
    'The owner (NOLOGIN; used only by migrations and definer functions) reads and writes every row: FORCE RLS would otherwise deny it.';

CREATE FUNCTION invoiceflow_private.report_is_live(p_report text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN NOT (invoiceflow_private.caller_is('invoiceflow_auditor')
                AND EXISTS (SELECT FROM invoiceflow_private.report_snapshot_run AS r WHERE r.report = p_report));
END
$$;
COMMENT ON FUNCTION invoiceflow_private.report_is_live(text) IS
    'False only for an auditor (or the reporting role) once the report has a snapshot: then the view shows the snapshot.';

CREATE FUNCTION invoiceflow_private.report_snapshot_rows(p_report text)
RETURNS TABLE (row_data jsonb, refreshed_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT w.row_data, r.refreshed_at
    FROM invoiceflow_private.report_snapshot_run AS r
    JOIN invoiceflow_private.report_snapshot_row AS w ON w.report OPERATOR(pg_catalog.=) r.report
    WHERE r.report OPERATOR(pg_catalog.=) p_report AND invoiceflow_private.caller_is('invoiceflow_auditor')
$$;
COMMENT ON FUNCTION invoiceflow_private.report_snapshot_rows(text) IS
    'The stored rows of one aggregate report, for auditors and the reporting role only (nothing for anyone else).';

CREATE FUNCTION invoiceflow.refresh_reports() RETURNS TABLE (report text, row_count bigint, refreshed_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_report text;
    v_count bigint;
BEGIN
    IF NOT (session_user = 'invoiceflow_daemon' OR invoiceflow_private.caller_is('invoiceflow_admin')) THEN
        RAISE EXCEPTION 'not allowed: reports are refreshed by the daemon or an admin' USING ERRCODE = 'IF002';
    END IF;
    -- One refresh at a time; readers keep seeing the previous snapshot until COMMIT (no TRUNCATE lock).
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('invoiceflow.refresh_reports'));
    FOREACH v_report IN ARRAY ARRAY['stage_duration_stats', 'step_duration_stats', 'rejection_rate', 'rework_rate',
                                    'payment_registry', 'open_task_age']
    LOOP
        DELETE FROM invoiceflow_private.report_snapshot_row AS w WHERE w.report = v_report;
        INSERT INTO invoiceflow_private.report_snapshot_run AS r (report, refreshed_at, row_count)
        VALUES (v_report, pg_catalog.now(), 0)
        ON CONFLICT ON CONSTRAINT report_snapshot_run_pkey DO UPDATE SET refreshed_at = pg_catalog.now();
        EXECUTE pg_catalog.format('INSERT INTO invoiceflow_private.report_snapshot_row (report, row_data) '
            'SELECT %L, pg_catalog.to_jsonb(v) FROM reporting.%I AS v', v_report, v_report || '_live');
        GET DIAGNOSTICS v_count = ROW_COUNT;
        UPDATE invoiceflow_private.report_snapshot_run AS r SET row_count = v_count WHERE r.report = v_report;
        report := v_report;
        row_count := v_count;
        refreshed_at := pg_catalog.now();
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION invoiceflow.refresh_reports() IS
    'Stores every aggregate report (stage/step duration stats, rejection and rework rates, payment registry, open task '
    'ages) as the owner '
    'sees it, for auditors and the reporting role; returns each report''s row count. The daemon runs it on a schedule; '
    'admins may too. IF002 for anyone else.';

CREATE VIEW reporting.stage_duration_stats WITH (security_invoker = true) AS
SELECT l.*, NULL::timestamptz AS refreshed_at FROM reporting.stage_duration_stats_live AS l
WHERE (SELECT invoiceflow_private.report_is_live('stage_duration_stats'))
UNION ALL
SELECT (jsonb_populate_record(NULL::reporting.stage_duration_stats_live, s.row_data)).*, s.refreshed_at
FROM invoiceflow_private.report_snapshot_rows('stage_duration_stats') AS s;

CREATE VIEW reporting.step_duration_stats WITH (security_invoker = true) AS
SELECT l.*, NULL::timestamptz AS refreshed_at FROM reporting.step_duration_stats_live AS l
WHERE (SELECT invoiceflow_private.report_is_live('step_duration_stats'))
UNION ALL
SELECT (jsonb_populate_record(NULL::reporting.step_duration_stats_live, s.row_data)).*, s.refreshed_at
FROM invoiceflow_private.report_snapshot_rows('step_duration_stats') AS s;

CREATE VIEW reporting.rejection_rate WITH (security_invoker = true) AS
SELECT l.*, NULL::timestamptz AS refreshed_at FROM reporting.rejection_rate_live AS l
WHERE (SELECT invoiceflow_private.report_is_live('rejection_rate'))
UNION ALL
SELECT (jsonb_populate_record(NULL::reporting.rejection_rate_live, s.row_data)).*, s.refreshed_at
FROM invoiceflow_private.report_snapshot_rows('rejection_rate') AS s;

CREATE VIEW reporting.rework_rate WITH (security_invoker = true) AS
SELECT l.*, NULL::timestamptz AS refreshed_at FROM reporting.rework_rate_live AS l
WHERE (SELECT invoiceflow_private.report_is_live('rework_rate'))
UNION ALL
SELECT (jsonb_populate_record(NULL::reporting.rework_rate_live, s.row_data)).*, s.refreshed_at
FROM invoiceflow_private.report_snapshot_rows('rework_rate') AS s;

CREATE VIEW reporting.payment_registry WITH (security_invoker = true) AS
SELECT l.*, NULL::timestamptz AS refreshed_at FROM reporting.payment_registry_live AS l
WHERE (SELECT invoiceflow_private.report_is_live('payment_registry'))
UNION ALL
SELECT (jsonb_populate_record(NULL::reporting.payment_registry_live, s.row_data)).*, s.refreshed_at
FROM invoiceflow_private.report_snapshot_rows('payment_registry') AS s;

CREATE VIEW reporting.open_task_age WITH (security_invoker = true) AS
SELECT l.*, NULL::timestamptz AS refreshed_at FROM reporting.open_task_age_live AS l
WHERE (SELECT invoiceflow_private.report_is_live('open_task_age'))
UNION ALL
SELECT (jsonb_populate_record(NULL::reporting.open_task_age_live, s.row_data)).*, s.refreshed_at
FROM invoiceflow_private.report_snapshot_rows('open_task_age') AS s;

-- Indexes for the typical report queries at registry size (docs/reports.md, bench/reports): the oldest
-- invoices of a stage, and the most overdue open tasks, walk these in order and stop after a page.
CREATE INDEX invoice_stage_since_idx ON invoiceflow.invoice (stage, stage_changed_at);
CREATE INDEX task_open_due_idx ON invoiceflow.task (due_at) WHERE outcome IS NULL;

DO $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['stage_duration_stats', 'step_duration_stats', 'rejection_rate', 'rework_rate',
                             'payment_registry', 'open_task_age']
    LOOP
        EXECUTE format('COMMENT ON VIEW reporting.%I IS %L', v,
            'reporting.' || v || '_live for what the caller may see; for auditors and the reporting role, the snapshot '
            'stored by refresh_reports() once there is one (refreshed_at says when; NULL = live).');
        EXECUTE format('COMMENT ON COLUMN reporting.%I.refreshed_at IS %L', v,
            'When the snapshot shown was stored; NULL when the figures are live.');
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION invoiceflow_private.report_is_live(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow_private.report_snapshot_rows(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow.refresh_reports() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow_private.report_is_live(text) TO invoiceflow_employee, invoiceflow_auditor;
GRANT EXECUTE ON FUNCTION invoiceflow_private.report_snapshot_rows(text) TO invoiceflow_employee, invoiceflow_auditor;
GRANT EXECUTE ON FUNCTION invoiceflow.refresh_reports() TO invoiceflow_daemon, invoiceflow_admin;

DO $$
DECLARE
    v regclass;
BEGIN
    FOR v IN SELECT c.oid::regclass FROM pg_catalog.pg_class AS c
             WHERE c.relnamespace = 'reporting'::regnamespace AND c.relkind = 'v'
    LOOP
        EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', v);
        EXECUTE format('GRANT SELECT ON %s TO invoiceflow_employee, invoiceflow_auditor', v);
    END LOOP;
END
$$;

RESET ROLE;
