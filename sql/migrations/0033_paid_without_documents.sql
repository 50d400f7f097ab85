-- 0033_paid_without_documents: reporting.paid_without_documents computes its collector only for the rows
-- a query returns (issue 7).
--
-- At a million invoices about 50 000 await documents. In 0031 the collector came from a LEFT JOIN
-- LATERAL, evaluated for every candidate before "ORDER BY paid_on LIMIT 50" could discard it: one task
-- probe, with its row-level security check on the invoice, per candidate. As scalar subqueries in the
-- select list the planner postpones them past the sort and the limit. Same columns, same meaning
-- (the holder of the open collect_documents task, else of the latest one; NULL if none), same
-- security_invoker, comments and grants (CREATE OR REPLACE keeps them).

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
WHERE p.paid_minor = i.amount_minor
  -- Full payment moves an invoice to closing_documents (record_payment); closing needs a document.
  AND i.stage = 'closing_documents'
  AND NOT EXISTS (SELECT FROM invoiceflow.closing_document AS d WHERE d.invoice_id = i.id);

RESET ROLE;
