-- 0060_reporting_backlog_escalations: the documents backlog by collector as a seventh snapshot, and the
-- scheduler's escalations in the escalation and SLA reports (issue 7).
--
-- paid_without_documents grouped by collector and age (the finance director's "who owes us documents")
-- took 0.8–1.3 s for the reporting role at a million invoices: the backlog (about 50 000 invoices) is
-- aggregated live, with a row-level security check on the invoice for every payment, task and document
-- probe. It becomes reporting.paid_without_documents_by_collector: live for employees (their backlog is
-- small), the snapshot stored by refresh_reports() for auditors and the reporting role, like the six
-- aggregates of 0031. The refresh computes it as the owner, whose policies are trivial.
--
-- The scheduler (0055–0059) writes one audit row per SLA escalation ('route_escalated', through
-- daemon_note_routing) and per overdue closing-documents reminder ('documents_overdue', or
-- 'route_documents_overdue' when written through daemon_note_routing, which accepts route_* only). The
-- escalation view now shows the latter too (reason documents_overdue) and the late task when the detail
-- names it (task_id); sla_breach counts, per late task, the escalations written about it.

SET LOCAL ROLE invoiceflow_owner;

-- Escalations -----------------------------------------------------------------------------------------

CREATE INDEX audit_log_documents_overdue_idx ON invoiceflow.audit_log (invoice_id, id)
    WHERE action = 'documents_overdue';
COMMENT ON INDEX invoiceflow.audit_log_documents_overdue_idx IS
    'Overdue-documents reminders of the scheduler: reporting.escalation and sla_breach find them without scanning the '
    'audit log (the route_* ones use audit_log_route_note_idx).';

-- Same columns in the same order as 0031 (CREATE OR REPLACE keeps comments and grants), task_id appended.
CREATE OR REPLACE VIEW reporting.escalation WITH (security_invoker = true) AS
SELECT a.invoice_id, a.id AS audit_id, a.occurred_at, a.action,
       coalesce(a.after ->> 'step', a.after ->> 'step_key') AS step_key,
       CASE WHEN a.action IN ('documents_overdue', 'route_documents_overdue') THEN 'documents_overdue'
            WHEN a.action LIKE '%escalat%' THEN 'overdue'
            ELSE 'nobody_could_act' END AS reason,
       a.comment, a.after AS detail,
       CASE WHEN a.after ->> 'task_id' ~ '^[0-9]{1,18}$' THEN (a.after ->> 'task_id')::bigint END AS task_id
FROM invoiceflow.audit_log AS a
WHERE a.invoice_id IS NOT NULL
  AND ((a.action LIKE 'route\_%'
        AND (a.action LIKE 'route\_%escalat%'
             OR a.action = 'route_documents_overdue'
             OR (a.action = 'route_step_started'
                 AND jsonb_path_exists(a.after, 'strict $.**.escalatedVia ? (@.size() > 0)'))))
       OR a.action = 'documents_overdue');
COMMENT ON VIEW reporting.escalation IS
    'Escalations from the audit log: steps the router sent up the department tree because nobody named could act '
    '(route_step_started with a non-empty escalatedVia), the scheduler''s SLA escalations (route_*escalat*), and its '
    'overdue closing-documents reminders (documents_overdue, route_documents_overdue).';
COMMENT ON COLUMN reporting.escalation.reason IS
    'nobody_could_act (at routing time), overdue (SLA escalation) or documents_overdue (closing documents late).';
COMMENT ON COLUMN reporting.escalation.task_id IS 'The late task, when the audit detail names it (task_id); else NULL.';

-- Same columns as 0031, escalations appended.
CREATE OR REPLACE VIEW reporting.sla_breach WITH (security_invoker = true) AS
SELECT s.task_id, s.invoice_id, s.invoice_type, s.paying_subdivision, s.step_key, s.kind, s.assignee_name,
       s.acting_for_name, s.due_at, s.decided_at, s.outcome, s.is_open, s.overdue_business_hours,
       coalesce(s.decided_at, now()) - s.due_at AS overdue_wall,
       -- A scalar subquery: under ORDER BY ... LIMIT it runs only for the rows returned.
       (SELECT count(*) FROM reporting.escalation AS e
        WHERE e.invoice_id = s.invoice_id AND e.reason IN ('overdue', 'documents_overdue')
          AND (e.task_id = s.task_id OR (e.task_id IS NULL AND e.step_key = s.step_key))) AS escalations
FROM reporting.step_span AS s
WHERE s.sla_breached AND (s.outcome IS NULL OR s.outcome <> 'cancelled');
COMMENT ON COLUMN reporting.sla_breach.escalations IS
    'Escalations the scheduler wrote about this task (reporting.escalation with reason overdue or documents_overdue and '
    'this task_id, or without a task_id on the same invoice and step); 0 when nobody was told yet.';

-- The documents backlog by collector ----------------------------------------------------------------------

CREATE VIEW reporting.paid_without_documents_by_collector_live WITH (security_invoker = true) AS
SELECT p.collector_id, p.collector_name, p.age_bucket,
       CASE p.age_bucket WHEN '≤ 7 days' THEN 1 WHEN '8–30 days' THEN 2 WHEN '31–90 days' THEN 3 ELSE 4 END
           AS bucket_order,
       p.currency, count(*) AS invoices, sum(p.amount_minor)::bigint AS amount_minor, min(p.paid_on) AS oldest_paid_on
FROM reporting.paid_without_documents AS p
GROUP BY p.collector_id, p.collector_name, p.age_bucket, p.currency;
COMMENT ON VIEW reporting.paid_without_documents_by_collector_live IS
    'The closing-documents backlog per collector, age bucket (days since the last payment) and currency: how many '
    'paid invoices still lack a document, their total, the oldest payment date.';
COMMENT ON COLUMN reporting.paid_without_documents_by_collector_live.collector_id IS
    'Holder of the collect_documents task; NULL (with collector_name NULL) for invoices without one.';
COMMENT ON COLUMN reporting.paid_without_documents_by_collector_live.bucket_order IS
    'Sort key of age_bucket (1 = ≤ 7 days .. 4 = > 90 days).';
COMMENT ON COLUMN reporting.paid_without_documents_by_collector_live.amount_minor IS
    'Sum of the invoice amounts in minor units of currency.';

CREATE VIEW reporting.paid_without_documents_by_collector WITH (security_invoker = true) AS
SELECT l.*, NULL::timestamptz AS refreshed_at FROM reporting.paid_without_documents_by_collector_live AS l
WHERE (SELECT invoiceflow_private.report_is_live('paid_without_documents_by_collector'))
UNION ALL
SELECT (jsonb_populate_record(NULL::reporting.paid_without_documents_by_collector_live, s.row_data)).*, s.refreshed_at
FROM invoiceflow_private.report_snapshot_rows('paid_without_documents_by_collector') AS s;
COMMENT ON VIEW reporting.paid_without_documents_by_collector IS
    'reporting.paid_without_documents_by_collector_live for what the caller may see; for auditors and the reporting '
    'role, the snapshot stored by refresh_reports() once there is one (refreshed_at says when; NULL = live; age buckets '
    'as of the refresh).';
COMMENT ON COLUMN reporting.paid_without_documents_by_collector.refreshed_at IS
    'When the snapshot shown was stored; NULL when the figures are live.';

REVOKE ALL ON reporting.paid_without_documents_by_collector_live, reporting.paid_without_documents_by_collector
    FROM PUBLIC;
GRANT SELECT ON reporting.paid_without_documents_by_collector_live, reporting.paid_without_documents_by_collector
    TO invoiceflow_employee, invoiceflow_auditor;

-- refresh_reports() as in 0031, with the seventh report (CREATE OR REPLACE keeps its comment and grants).
CREATE OR REPLACE FUNCTION invoiceflow.refresh_reports() RETURNS TABLE (report text, row_count bigint, refreshed_at timestamptz)
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
                                    'payment_registry', 'open_task_age', 'paid_without_documents_by_collector']
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
    'ages, the documents backlog by collector) as the owner sees it, for auditors and the reporting role; returns each '
    'report''s row count. The daemon runs it on a schedule; admins may too. IF002 for anyone else.';

RESET ROLE;
