-- 0005_audit: the append-only, hash-chained audit log (invariant 2).
--
-- Each row carries prev_hash (the hash of the row before it) and
-- hash = sha256(prev_hash || convert_to(canonical text of the row, 'UTF8')), where the canonical text
-- is jsonb_build_object(...)::text with a format version ('v': 1). jsonb prints keys in a fixed order
-- and times are hashed as epoch microseconds, so the text does not depend on session settings.
-- Appends are serialized on the chain head row, which also assigns the ids: id order is chain order.
-- UPDATE, DELETE and TRUNCATE are refused by triggers even for the owner; a superuser who disables
-- the triggers and edits rows is caught by audit_verify, and one who also rewrites the hashes is
-- caught by comparing with an anchor kept outside the database (`invoiceflow audit anchor`).

SET LOCAL ROLE invoiceflow_owner;

CREATE TABLE invoiceflow.audit_log (
    id bigint NOT NULL CONSTRAINT audit_log_pkey PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    invoice_id bigint CONSTRAINT audit_log_invoice_fkey REFERENCES invoiceflow.invoice (id),
    entity text NOT NULL,
    entity_id bigint,
    action text NOT NULL CONSTRAINT audit_log_action_not_blank CHECK (btrim(action) <> ''),
    actor_employee_id bigint CONSTRAINT audit_log_actor_fkey REFERENCES invoiceflow.employee (id),
    acting_for_employee_id bigint CONSTRAINT audit_log_acting_for_fkey REFERENCES invoiceflow.employee (id),
    session_role name NOT NULL DEFAULT session_user,
    channel text NOT NULL CONSTRAINT audit_log_channel_check CHECK (channel IN ('sql', 'email_link', 'daemon')),
    before jsonb,
    after jsonb,
    comment text,
    transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
);
COMMENT ON TABLE invoiceflow.audit_log IS
    'Append-only, hash-chained history: one row per state change, written in the same transaction. '
    'Refuses UPDATE, DELETE and TRUNCATE even for its owner; audit_verify() detects tampering.';
COMMENT ON COLUMN invoiceflow.audit_log.id IS 'Position in the chain, assigned under the chain-head lock (gapless, in chain order).';
COMMENT ON COLUMN invoiceflow.audit_log.occurred_at IS 'Transaction time of the change.';
COMMENT ON COLUMN invoiceflow.audit_log.invoice_id IS 'Invoice concerned; NULL for administration (employees, assignments, ...).';
COMMENT ON COLUMN invoiceflow.audit_log.entity IS 'Kind of object changed: invoice, task, payment, closing_document, employee, assignment, ...';
COMMENT ON COLUMN invoiceflow.audit_log.action IS 'What happened, e.g. create, edit, submit, approve, reject, delegate, pay, close, hire.';
COMMENT ON COLUMN invoiceflow.audit_log.actor_employee_id IS 'Who acted (NULL for the daemon acting on its own, or an admin without an employee record).';
COMMENT ON COLUMN invoiceflow.audit_log.acting_for_employee_id IS 'For whom the actor acted as a substitute, if so.';
COMMENT ON COLUMN invoiceflow.audit_log.session_role IS 'The database session user that made the change.';
COMMENT ON COLUMN invoiceflow.audit_log.channel IS 'sql (own session), email_link (confirmation page), daemon (automatic step).';
COMMENT ON COLUMN invoiceflow.audit_log.before IS 'Changed values before the change.';
COMMENT ON COLUMN invoiceflow.audit_log.after IS 'Values after the change.';
COMMENT ON COLUMN invoiceflow.audit_log.prev_hash IS 'hash of the previous row (32 zero bytes for the first row).';
COMMENT ON COLUMN invoiceflow.audit_log.hash IS 'sha256(prev_hash || canonical text of this row).';
CREATE INDEX audit_log_invoice_idx ON invoiceflow.audit_log (invoice_id, id) WHERE invoice_id IS NOT NULL;

CREATE TABLE invoiceflow_private.audit_chain_head (
    singleton boolean NOT NULL DEFAULT true CONSTRAINT audit_chain_head_pkey PRIMARY KEY
        CONSTRAINT audit_chain_head_singleton CHECK (singleton),
    last_id bigint NOT NULL,
    last_hash bytea NOT NULL
);
COMMENT ON TABLE invoiceflow_private.audit_chain_head IS
    'The one row every audit append locks (serializing the chain) and advances: last id and hash.';
COMMENT ON COLUMN invoiceflow_private.audit_chain_head.last_id IS 'Id of the newest audit row (0 before the first).';
COMMENT ON COLUMN invoiceflow_private.audit_chain_head.last_hash IS 'hash of the newest audit row (32 zero bytes before the first).';
INSERT INTO invoiceflow_private.audit_chain_head (last_id, last_hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION invoiceflow_private.audit_row_hash(p_row invoiceflow.audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.sha256(p_row.prev_hash OPERATOR(pg_catalog.||) pg_catalog.convert_to(pg_catalog.jsonb_build_object(
        'v', 1,
        'id', p_row.id,
        'at', (EXTRACT(epoch FROM p_row.occurred_at) OPERATOR(pg_catalog.*) 1000000)::bigint,
        'invoice', p_row.invoice_id,
        'entity', p_row.entity,
        'entity_id', p_row.entity_id,
        'action', p_row.action,
        'actor', p_row.actor_employee_id,
        'for', p_row.acting_for_employee_id,
        'role', p_row.session_role::text,
        'channel', p_row.channel,
        'before', p_row.before,
        'after', p_row.after,
        'comment', p_row.comment,
        'xid', p_row.transaction_id::text)::text, 'UTF8'))
$$;
COMMENT ON FUNCTION invoiceflow_private.audit_row_hash(invoiceflow.audit_log) IS
    'The hash an audit row must carry: sha256(prev_hash || canonical jsonb text, format v1).';

CREATE FUNCTION invoiceflow_private.audit_chain_append() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_head invoiceflow_private.audit_chain_head;
BEGIN
    SELECT * INTO STRICT v_head FROM invoiceflow_private.audit_chain_head FOR UPDATE;
    NEW.id := v_head.last_id + 1;
    NEW.prev_hash := v_head.last_hash;
    NEW.hash := invoiceflow_private.audit_row_hash(NEW);
    UPDATE invoiceflow_private.audit_chain_head SET last_id = NEW.id, last_hash = NEW.hash;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.audit_chain_append() IS
    'Trigger: links a new audit row to the chain under the head row lock (id, prev_hash, hash).';
CREATE TRIGGER audit_log_chain BEFORE INSERT ON invoiceflow.audit_log
    FOR EACH ROW EXECUTE FUNCTION invoiceflow_private.audit_chain_append();

CREATE FUNCTION invoiceflow_private.audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP USING ERRCODE = 'IF008';
END
$$;
COMMENT ON FUNCTION invoiceflow_private.audit_refuse_change() IS 'Trigger: refuses UPDATE, DELETE and TRUNCATE on the audit log (IF008).';
CREATE TRIGGER audit_log_refuse_update_delete BEFORE UPDATE OR DELETE ON invoiceflow.audit_log
    FOR EACH ROW EXECUTE FUNCTION invoiceflow_private.audit_refuse_change();
CREATE TRIGGER audit_log_refuse_truncate BEFORE TRUNCATE ON invoiceflow.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION invoiceflow_private.audit_refuse_change();
CREATE TRIGGER audit_chain_head_refuse_truncate BEFORE TRUNCATE ON invoiceflow_private.audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION invoiceflow_private.audit_refuse_change();

CREATE FUNCTION invoiceflow_private.audit(
    p_invoice_id bigint, p_entity text, p_entity_id bigint, p_action text,
    p_before jsonb, p_after jsonb, p_comment text DEFAULT NULL, p_acting_for bigint DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO invoiceflow.audit_log (invoice_id, entity, entity_id, action, actor_employee_id, acting_for_employee_id,
                                       channel, before, after, comment, prev_hash, hash)
    VALUES (p_invoice_id, p_entity, p_entity_id, p_action, invoiceflow.current_employee_id(), p_acting_for,
            invoiceflow.current_channel(), p_before, p_after, p_comment, '\x', '\x')
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.audit(bigint, text, bigint, text, jsonb, jsonb, text, bigint) IS
    'Appends the one audit row of a state change, with the caller''s identity and channel; used by commands only.';

CREATE FUNCTION invoiceflow.audit_verify(anchor_id bigint DEFAULT NULL, anchor_hash bytea DEFAULT NULL)
RETURNS TABLE (ok boolean, checked bigint, first_broken_id bigint, head_id bigint, head_hash text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_row invoiceflow.audit_log;
    v_prev bytea := '\x0000000000000000000000000000000000000000000000000000000000000000';
    v_expected_id bigint := 1;
    v_checked bigint := 0;
    v_broken bigint;
    v_head invoiceflow_private.audit_chain_head;
BEGIN
    IF (anchor_id IS NULL) <> (anchor_hash IS NULL) THEN
        RAISE EXCEPTION 'anchor_id and anchor_hash go together' USING ERRCODE = 'IF001', COLUMN = 'anchor_hash';
    END IF;
    FOR v_row IN SELECT * FROM invoiceflow.audit_log AS a ORDER BY a.id LOOP
        v_checked := v_checked + 1;
        -- A gap means deleted rows; a wrong prev_hash or hash means edited ones.
        IF v_row.id <> v_expected_id OR v_row.prev_hash <> v_prev
           OR v_row.hash <> invoiceflow_private.audit_row_hash(v_row) THEN
            v_broken := v_row.id;
            EXIT;
        END IF;
        IF anchor_id IS NOT NULL AND v_row.id = anchor_id AND v_row.hash <> anchor_hash THEN
            v_broken := v_row.id;
            EXIT;
        END IF;
        v_prev := v_row.hash;
        v_expected_id := v_row.id + 1;
    END LOOP;
    SELECT * INTO v_head FROM invoiceflow_private.audit_chain_head;
    IF v_broken IS NULL AND anchor_id IS NOT NULL AND anchor_id >= v_expected_id THEN
        -- The anchored row is gone: the chain was cut back.
        v_broken := anchor_id;
    END IF;
    IF v_broken IS NULL AND (v_head.last_id <> v_expected_id - 1 OR v_head.last_hash <> v_prev) THEN
        -- Rows removed from the end leave a consistent but shorter chain; the head row remembers.
        v_broken := v_expected_id;
    END IF;
    RETURN QUERY SELECT v_broken IS NULL, v_checked, v_broken, v_expected_id - 1,
        pg_catalog.encode(v_prev, 'hex');
END
$$;
COMMENT ON FUNCTION invoiceflow.audit_verify(bigint, bytea) IS
    'Walks the audit chain: ok, rows checked, the first broken id (edited, deleted, out of order, or not matching '
    'the anchor), and the verified head (id, hex hash). With an anchor from audit_head() also detects a rewritten '
    'or truncated chain. Used by `invoiceflow audit verify`.';
REVOKE ALL ON FUNCTION invoiceflow.audit_verify(bigint, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.audit_verify(bigint, bytea) TO invoiceflow_auditor, invoiceflow_admin, invoiceflow_daemon;

CREATE FUNCTION invoiceflow.audit_head() RETURNS TABLE (id bigint, hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT h.last_id, pg_catalog.encode(h.last_hash, 'hex') FROM invoiceflow_private.audit_chain_head AS h
$$;
COMMENT ON FUNCTION invoiceflow.audit_head() IS
    'The chain head (last id, hex sha256) to keep outside the database; `invoiceflow audit anchor` writes it to a file.';
REVOKE ALL ON FUNCTION invoiceflow.audit_head() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.audit_head() TO invoiceflow_auditor, invoiceflow_admin, invoiceflow_daemon;

RESET ROLE;
