-- 0064_reporting_sla_breach_summary: SLA breaches per step as an eighth snapshot (issue 7).
--
-- "How many tasks missed their SLA, and how many are still overdue" counted live over reporting.sla_breach
-- walks every task of the registry with a policy check each: 50 s for the reporting role at a million
-- invoices (2.5 million tasks, 2 million breaches), which made `invoiceflow report` take as long. The counts
-- per step become reporting.sla_breach_summary: live for employees, the snapshot of refresh_reports() for
-- auditors and the reporting role, like the other aggregates (0031, 0060).

SET LOCAL ROLE invoiceflow_owner;

CREATE VIEW reporting.sla_breach_summary_live WITH (security_invoker = true) AS
SELECT b.step_key, b.kind, count(*) AS breaches, count(*) FILTER (WHERE b.is_open) AS open_breaches,
       min(b.due_at) FILTER (WHERE b.is_open) AS oldest_open_due_at
FROM reporting.sla_breach AS b
GROUP BY b.step_key, b.kind;
COMMENT ON VIEW reporting.sla_breach_summary_live IS
    'Tasks that missed their SLA per route step (reporting.sla_breach counted): all breaches, those still open, and the '
    'due time of the oldest open one.';
COMMENT ON COLUMN reporting.sla_breach_summary_live.breaches IS 'Tasks decided after due_at or open past it (not cancelled).';
COMMENT ON COLUMN reporting.sla_breach_summary_live.open_breaches IS 'Of those, the tasks still open.';
COMMENT ON COLUMN reporting.sla_breach_summary_live.oldest_open_due_at IS 'Earliest due_at among the open ones; NULL if none.';

CREATE VIEW reporting.sla_breach_summary WITH (security_invoker = true) AS
SELECT l.*, NULL::timestamptz AS refreshed_at FROM reporting.sla_breach_summary_live AS l
WHERE (SELECT invoiceflow_private.report_is_live('sla_breach_summary'))
UNION ALL
SELECT (jsonb_populate_record(NULL::reporting.sla_breach_summary_live, s.row_data)).*, s.refreshed_at
FROM invoiceflow_private.report_snapshot_rows('sla_breach_summary') AS s;
COMMENT ON VIEW reporting.sla_breach_summary IS
    'reporting.sla_breach_summary_live for what the caller may see; for auditors and the reporting role, the snapshot '
    'stored by refresh_reports() once there is one (refreshed_at says when; NULL = live).';
COMMENT ON COLUMN reporting.sla_breach_summary.refreshed_at IS
    'When the snapshot shown was stored; NULL when the figures are live.';

REVOKE ALL ON reporting.sla_breach_summary_live, reporting.sla_breach_summary FROM PUBLIC;
GRANT SELECT ON reporting.sla_breach_summary_live, reporting.sla_breach_summary TO invoiceflow_employee, invoiceflow_auditor;

-- refresh_reports() as in 0060, with the eighth report (CREATE OR REPLACE keeps its grants).
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
                                    'payment_registry', 'open_task_age', 'paid_without_documents_by_collector',
                                    'sla_breach_summary']
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
    'ages, the documents backlog by collector, SLA breaches per step) as the owner sees it, for auditors and the reporting role; returns each '
    'report''s row count. The daemon runs it on a schedule; admins may too. IF002 for anyone else.';

RESET ROLE;
