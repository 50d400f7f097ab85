-- 0080_duplicate_check_index: the duplicate check on creation, editing and submission is an index lookup.
--
-- check_duplicate (0007) compared the receiver with IS NOT DISTINCT FROM, which no index can serve, so the
-- lookup read every live invoice's entry of the duplicate index (or the table) once per create, edit and
-- submit: 0.32 ms per call at 14 000 invoices in scripts/bench routing (pg_stat_statements), growing with the
-- registry — tens of milliseconds at a million. An invoice has exactly one receiver (invoice_one_receiver),
-- so the check now asks by the receiver it has: the counterparty (invoice_duplicate_lookup_idx) or, for an
-- intercompany invoice, the receiving and paying subdivisions (the intercompany duplicate keys). The
-- conditions are those of 0007 (the paying subdivision still counts for intercompany invoices only); the
-- equalities the indexes need are added, and they follow from them and from invoice_one_receiver.
-- sql/tests/42_performance.sql checks, at 200 000 invoices, that no sequential scan of the invoices is left.

SET LOCAL ROLE invoiceflow_owner;

CREATE OR REPLACE FUNCTION invoiceflow_private.check_duplicate(p_invoice invoiceflow.invoice) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_norm text := invoiceflow.normalize_invoice_number(p_invoice.supplier_invoice_number);
    v_earlier bigint;
BEGIN
    IF p_invoice.counterparty_id IS NOT NULL THEN
        SELECT i.id INTO v_earlier FROM invoiceflow.invoice AS i
        WHERE i.counterparty_id = p_invoice.counterparty_id
          AND i.supplier_invoice_number_norm = v_norm
          AND i.stage <> 'withdrawn'
          AND i.id IS DISTINCT FROM p_invoice.id
          AND i.receiving_subdivision_id IS NOT DISTINCT FROM p_invoice.receiving_subdivision_id
          AND (i.supplier_invoice_date = p_invoice.supplier_invoice_date OR i.amount_minor = p_invoice.amount_minor)
        ORDER BY i.id LIMIT 1;
    ELSE
        SELECT i.id INTO v_earlier FROM invoiceflow.invoice AS i
        WHERE i.receiving_subdivision_id = p_invoice.receiving_subdivision_id
          AND i.paying_subdivision_id = p_invoice.paying_subdivision_id
          AND i.supplier_invoice_number_norm = v_norm
          AND i.counterparty_id IS NULL
          AND i.stage <> 'withdrawn'
          AND i.id IS DISTINCT FROM p_invoice.id
          AND (i.supplier_invoice_date = p_invoice.supplier_invoice_date OR i.amount_minor = p_invoice.amount_minor)
        ORDER BY i.id LIMIT 1;
    END IF;
    IF v_earlier IS NULL THEN
        RETURN;
    END IF;
    -- Name the earlier invoice only to someone who may see it: otherwise the error would leak it.
    IF invoiceflow_private.invoice_visible(v_earlier) THEN
        RAISE EXCEPTION 'duplicate invoice: the same receiver, supplier invoice number and date or amount as invoice %', v_earlier
            USING ERRCODE = 'IF004', COLUMN = 'p_supplier_invoice_number', DETAIL = 'earlier_invoice_id=' || v_earlier;
    ELSE
        RAISE EXCEPTION 'duplicate invoice: the same receiver, supplier invoice number and date or amount as an existing invoice'
            USING ERRCODE = 'IF004', COLUMN = 'p_supplier_invoice_number';
    END IF;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.check_duplicate(invoiceflow.invoice) IS
    'IF004 when a live invoice has the same receiver, normalized supplier number and date or amount; '
    'the earlier invoice is named (message and DETAIL earlier_invoice_id=N) only if the caller may see it. '
    'An index lookup by the receiver (0080).';

RESET ROLE;
