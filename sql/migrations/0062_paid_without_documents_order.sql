-- 0062_paid_without_documents_order: reporting.paid_without_documents gets awaiting_since, an order that
-- walks an index, and finds its calendar day by key (issue 7).
--
-- "The 50 longest-waiting" was `ORDER BY paid_on LIMIT 50`: paid_on is the last payment's date, an
-- aggregate over payments, so every one of the backlog's candidates (about 50 000 at a million invoices)
-- had its payments summed, its documents probed and its policy checked before the sort could pick 50:
-- 0.8–1.9 s. The payment that completes the amount is what moves an invoice to closing_documents
-- (record_payment), so the time it entered that stage, awaiting_since (= invoice.stage_changed_at), gives
-- the same order, and it is the key of the partial index invoice_closing_documents_since_idx (0032):
-- `ORDER BY awaiting_since LIMIT 50` reads the index in order and stops after 50 rows that qualify.
-- The working-days column joined the calendar on calendar_day(paid_until), a function of a column, which
-- under the calendar's row-level security cannot be an index condition (0061 header); the key is now
-- computed inside the payments subquery and the join is a plain column equality.
-- Columns as in 0033 with awaiting_since appended; comments and grants kept by CREATE OR REPLACE.

SET LOCAL ROLE invoiceflow_owner;

CREATE OR REPLACE VIEW reporting.paid_without_documents WITH (security_invoker = true) AS
SELECT i.id AS invoice_id, it.code AS invoice_type, ps.code AS paying_subdivision,
       coalesce(c.name, rs.name) AS receiver_name, i.amount_minor, i.currency, i.stage,
       p.paid_on, p.paid_minor,
       -- Scalar subqueries, not a lateral join: under ORDER BY ... LIMIT the planner evaluates them only
       -- for the rows returned (the same holder for both: the open collect_documents task, else the latest).
       (SELECT t.assignee_id FROM invoiceflow.task AS t JOIN invoiceflow.employee AS e ON e.id = t.assignee_id
        WHERE t.invoice_id = i.id AND t.kind = 'collect_documents'
        ORDER BY t.outcome IS NULL DESC, t.id DESC LIMIT 1) AS collector_id,
       (SELECT e.full_name FROM invoiceflow.task AS t JOIN invoiceflow.employee AS e ON e.id = t.assignee_id
        WHERE t.invoice_id = i.id AND t.kind = 'collect_documents'
        ORDER BY t.outcome IS NULL DESC, t.id DESC LIMIT 1) AS collector_name,
       current_date - p.paid_on AS days_since_payment,
       round(invoiceflow_private.business_seconds_between(p.paid_until, cpaid, now(), cnow)::numeric / 32400, 2)
           AS working_days_since_payment,
       CASE WHEN current_date - p.paid_on <= 7 THEN '≤ 7 days' WHEN current_date - p.paid_on <= 30 THEN '8–30 days'
            WHEN current_date - p.paid_on <= 90 THEN '31–90 days' ELSE '> 90 days' END AS age_bucket,
       i.stage_changed_at AS awaiting_since
FROM invoiceflow.invoice AS i
JOIN invoiceflow.invoice_type AS it ON it.id = i.invoice_type_id
JOIN invoiceflow.subdivision AS ps ON ps.id = i.paying_subdivision_id
LEFT JOIN invoiceflow.counterparty AS c ON c.id = i.counterparty_id
LEFT JOIN invoiceflow.subdivision AS rs ON rs.id = i.receiving_subdivision_id
CROSS JOIN LATERAL (SELECT max(pm.paid_on) AS paid_on, sum(pm.amount_minor)::bigint AS paid_minor,
                           -- 18:00 Moscow of the payment day: the working day of the payment counts as spent.
                           (max(pm.paid_on)::timestamp + interval '18 hours') AT TIME ZONE 'UTC' - interval '3 hours' AS paid_until,
                           -- The calendar key, computed here so the join below is a leakproof column equality.
                           invoiceflow_private.calendar_day(
                               (max(pm.paid_on)::timestamp + interval '18 hours') AT TIME ZONE 'UTC' - interval '3 hours')
                               AS paid_day
                    FROM invoiceflow.payment AS pm WHERE pm.invoice_id = i.id) AS p
LEFT JOIN invoiceflow.working_calendar_day AS cpaid ON cpaid.day = p.paid_day
LEFT JOIN invoiceflow.working_calendar_day AS cnow ON cnow.day = invoiceflow_private.calendar_day(now())
WHERE p.paid_minor = i.amount_minor
  -- Full payment moves an invoice to closing_documents (record_payment); closing needs a document.
  AND i.stage = 'closing_documents'
  AND NOT EXISTS (SELECT FROM invoiceflow.closing_document AS d WHERE d.invoice_id = i.id);

COMMENT ON COLUMN reporting.paid_without_documents.awaiting_since IS
    'When the invoice entered closing_documents (its full payment was recorded): ORDER BY awaiting_since walks an index, '
    'ORDER BY paid_on sorts the whole backlog; the order is the same.';

RESET ROLE;
