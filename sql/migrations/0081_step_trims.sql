-- 0081_step_trims: less work per routing step.
--
-- daemon_claim_routing (0076) walked its candidates with FOR … IN query, which PL/pgSQL fetches ten rows
-- at a time: every claim evaluated the per-invoice order check (an index probe) for ten candidates, though
-- the first one is taken unless another router holds its invoice. An explicit cursor fetches one at a time.

SET LOCAL ROLE invoiceflow_owner;

CREATE OR REPLACE FUNCTION invoiceflow.daemon_claim_routing(p_worker text, p_scan integer DEFAULT 16)
RETURNS TABLE (work_item_id bigint, invoice_id bigint, kind text, attempts integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- Only the oldest unfinished item of an invoice is a candidate (per-invoice order: a parked or
    -- backing-off item holds back the later ones), and only while nobody holds the invoice: the
    -- invoice row lock, taken first as every command does, is what keeps two routers off one invoice.
    -- A cursor, fetched row by row: the check below takes the first candidate nobody holds (0081).
    v_candidates CURSOR FOR
        SELECT w.id, w.invoice_id FROM invoiceflow_private.work_item AS w
        WHERE w.done_at IS NULL AND w.parked_at IS NULL AND w.run_after <= pg_catalog.now()
          AND (w.locked_until IS NULL OR w.locked_until < pg_catalog.now())
          AND w.id = (SELECT pg_catalog.min(e.id) FROM invoiceflow_private.work_item AS e
                      WHERE e.invoice_id = w.invoice_id AND e.done_at IS NULL)
        ORDER BY w.id
        LIMIT p_scan;
    v_candidate record;
    v_item invoiceflow_private.work_item;
BEGIN
    OPEN v_candidates;
    LOOP
        FETCH v_candidates INTO v_candidate;
        EXIT WHEN NOT FOUND;
        PERFORM FROM invoiceflow.invoice AS i WHERE i.id = v_candidate.invoice_id FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        -- Re-checked under the invoice lock with a fresh snapshot: another router may have finished
        -- this item, or an earlier one may have appeared to be unfinished, since the scan.
        SELECT * INTO v_item FROM invoiceflow_private.work_item AS w
        WHERE w.id = v_candidate.id AND w.done_at IS NULL AND w.parked_at IS NULL
          AND w.run_after <= pg_catalog.now()
          AND w.id = (SELECT pg_catalog.min(e.id) FROM invoiceflow_private.work_item AS e
                      WHERE e.invoice_id = w.invoice_id AND e.done_at IS NULL)
        FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        CLOSE v_candidates;
        work_item_id := v_item.id;
        invoice_id := v_item.invoice_id;
        kind := v_item.kind;
        attempts := v_item.attempts;
        RETURN NEXT;
        RETURN;
    END LOOP;
    CLOSE v_candidates;
END
$$;

RESET ROLE;
