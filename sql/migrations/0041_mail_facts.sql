-- 0041_mail_facts: what the daemon reads to write a mail — the recipients' names, addresses and
-- languages, and an invoice's key facts for the card in the mail. RLS hides both from the daemon's own
-- role (it sees data only while acting for a person), so these are daemon-only definer functions that
-- return exactly the columns a mail shows.

SET LOCAL ROLE invoiceflow_owner;

CREATE FUNCTION invoiceflow.daemon_mail_recipients(p_employee_ids bigint[])
RETURNS TABLE (employee_id bigint, full_name text, email text, locale text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    -- People who have left get no mail (their tasks are re-routed instead).
    SELECT e.id, e.full_name, e.email, e.locale FROM invoiceflow.employee AS e
    WHERE e.id OPERATOR(pg_catalog.=) ANY (p_employee_ids) AND e.active
    ORDER BY e.id
$$;
COMMENT ON FUNCTION invoiceflow.daemon_mail_recipients(bigint[]) IS
    'Daemon only: name, address and mail language (ru/en) of the given active employees, for rendering mail.';

CREATE FUNCTION invoiceflow.daemon_invoice_mail_facts(p_invoice_id bigint)
RETURNS TABLE (invoice_id bigint, number text, counterparty text, amount_minor bigint, currency text, purpose text,
               initiator text, paying_subdivision text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT i.id, i.supplier_invoice_number, coalesce(c.name, r.name), i.amount_minor, i.currency, i.purpose,
        e.full_name, s.name
    FROM invoiceflow.invoice AS i
    JOIN invoiceflow.employee AS e ON e.id OPERATOR(pg_catalog.=) i.initiator_id
    JOIN invoiceflow.subdivision AS s ON s.id OPERATOR(pg_catalog.=) i.paying_subdivision_id
    LEFT JOIN invoiceflow.counterparty AS c ON c.id OPERATOR(pg_catalog.=) i.counterparty_id
    LEFT JOIN invoiceflow.subdivision AS r ON r.id OPERATOR(pg_catalog.=) i.receiving_subdivision_id
    WHERE i.id OPERATOR(pg_catalog.=) p_invoice_id
$$;
COMMENT ON FUNCTION invoiceflow.daemon_invoice_mail_facts(bigint) IS
    'Daemon only: the card''s key facts a mail shows (supplier number, counterparty or receiving subdivision, amount, '
    'purpose, initiator, paying subdivision).';

REVOKE ALL ON FUNCTION invoiceflow.daemon_mail_recipients(bigint[]), invoiceflow.daemon_invoice_mail_facts(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.daemon_mail_recipients(bigint[]), invoiceflow.daemon_invoice_mail_facts(bigint)
    TO invoiceflow_daemon;

RESET ROLE;
