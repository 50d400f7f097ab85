-- 0004_registry: the invoice registry (invoices, attachments, comments, tasks, payments, closing
-- documents), the routing work queue, and the guards that hold even if a command forgets them:
-- immutability after submission (invariant 8) and separation of duties (invariant 7).

SET LOCAL ROLE invoiceflow_owner;

CREATE TYPE invoiceflow.invoice_stage AS ENUM
    ('draft', 'approval', 'payment', 'closing_documents', 'closed', 'rejected', 'withdrawn');
COMMENT ON TYPE invoiceflow.invoice_stage IS
    'draft → approval → payment → closing_documents → closed; rejected = returned to the initiator; withdrawn = cancelled by the initiator.';

CREATE TYPE invoiceflow.task_kind AS ENUM ('approve', 'pay', 'collect_documents');
COMMENT ON TYPE invoiceflow.task_kind IS 'What a task asks of its assignee: approve a step, pay, or collect the closing documents.';

CREATE TYPE invoiceflow.task_outcome AS ENUM
    ('approved', 'approved_with_remarks', 'rejected', 'delegated', 'cancelled', 'done');
COMMENT ON TYPE invoiceflow.task_outcome IS
    'How a task ended; NULL while open. cancelled = closed by a rejection, withdrawal or return; done = payment or collection finished.';

-- Supplier invoice numbers are typed by hand: "№ 00А-12/3" and "A123" are the same invoice.
CREATE FUNCTION invoiceflow.normalize_invoice_number(p_number text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.ltrim(
    pg_catalog.regexp_replace(
        pg_catalog.translate(pg_catalog.upper(p_number), 'АВСЕКМНОРТХ', 'ABCEKMHOPTX'),
        '[[:space:]/.№#_-]', '', 'g'),
    '0');
COMMENT ON FUNCTION invoiceflow.normalize_invoice_number(text) IS
    'Duplicate-detection key of a supplier invoice number: upper case, Cyrillic look-alikes mapped to Latin, '
    'spaces and - / . № # _ removed, leading zeros stripped.';

CREATE TABLE invoiceflow.invoice (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT invoice_pkey PRIMARY KEY,
    invoice_type_id bigint NOT NULL CONSTRAINT invoice_type_fkey REFERENCES invoiceflow.invoice_type (id),
    confidential boolean NOT NULL DEFAULT false,
    paying_subdivision_id bigint NOT NULL CONSTRAINT invoice_paying_subdivision_fkey REFERENCES invoiceflow.subdivision (id),
    counterparty_id bigint CONSTRAINT invoice_counterparty_fkey REFERENCES invoiceflow.counterparty (id),
    receiving_subdivision_id bigint CONSTRAINT invoice_receiving_subdivision_fkey REFERENCES invoiceflow.subdivision (id),
    initiator_id bigint NOT NULL CONSTRAINT invoice_initiator_fkey REFERENCES invoiceflow.employee (id),
    initiator_department_id bigint CONSTRAINT invoice_initiator_department_fkey REFERENCES invoiceflow.department (id),
    supplier_invoice_number text NOT NULL CONSTRAINT invoice_supplier_number_not_blank CHECK (btrim(supplier_invoice_number) <> ''),
    supplier_invoice_number_norm text GENERATED ALWAYS AS (invoiceflow.normalize_invoice_number(supplier_invoice_number)) STORED,
    supplier_invoice_date date NOT NULL,
    amount_minor bigint NOT NULL CONSTRAINT invoice_amount_positive CHECK (amount_minor > 0),
    currency text NOT NULL DEFAULT 'RUB' CONSTRAINT invoice_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    vat_minor bigint NOT NULL DEFAULT 0 CONSTRAINT invoice_vat_range CHECK (vat_minor >= 0 AND vat_minor <= amount_minor),
    purpose text NOT NULL CONSTRAINT invoice_purpose_not_blank CHECK (btrim(purpose) <> ''),
    due_date date,
    prepayment boolean NOT NULL DEFAULT false,
    prepayment_percent smallint CONSTRAINT invoice_prepayment_percent_range CHECK (prepayment_percent BETWEEN 1 AND 100),
    urgent boolean NOT NULL DEFAULT false,
    outside_budget boolean NOT NULL DEFAULT false,
    goods_received boolean NOT NULL DEFAULT false,
    stage invoiceflow.invoice_stage NOT NULL DEFAULT 'draft',
    version integer NOT NULL DEFAULT 1,
    route_version integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    submitted_at timestamptz,
    stage_changed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT invoice_one_receiver CHECK (num_nonnulls(counterparty_id, receiving_subdivision_id) = 1),
    CONSTRAINT invoice_not_to_itself CHECK (receiving_subdivision_id IS DISTINCT FROM paying_subdivision_id),
    CONSTRAINT invoice_prepayment_percent_needs_prepayment CHECK (prepayment OR prepayment_percent IS NULL)
);
COMMENT ON TABLE invoiceflow.invoice IS
    'The registry: one row per invoice someone wants paid, from draft to closed. Written only by command functions.';
COMMENT ON COLUMN invoiceflow.invoice.confidential IS 'Copied from the invoice type at creation (payroll): narrows visibility, see the policies.';
COMMENT ON COLUMN invoiceflow.invoice.counterparty_id IS 'External receiver; exactly one of counterparty_id and receiving_subdivision_id is set.';
COMMENT ON COLUMN invoiceflow.invoice.receiving_subdivision_id IS 'Receiving subdivision of an intercompany invoice.';
COMMENT ON COLUMN invoiceflow.invoice.initiator_department_id IS 'The initiator''s department when the draft was created ("head of the initiator''s department").';
COMMENT ON COLUMN invoiceflow.invoice.supplier_invoice_number_norm IS 'normalize_invoice_number(supplier_invoice_number): duplicate detection key.';
COMMENT ON COLUMN invoiceflow.invoice.amount_minor IS 'Total to pay in minor units of currency (kopecks for RUB), VAT included.';
COMMENT ON COLUMN invoiceflow.invoice.currency IS 'ISO 4217 alphabetic code.';
COMMENT ON COLUMN invoiceflow.invoice.vat_minor IS 'VAT included in amount_minor, in minor units.';
COMMENT ON COLUMN invoiceflow.invoice.prepayment_percent IS 'Share of the amount paid before delivery (route condition "prepayment over 50 %").';
COMMENT ON COLUMN invoiceflow.invoice.goods_received IS 'Goods already received: the warehouse manager approves in parallel.';
COMMENT ON COLUMN invoiceflow.invoice.version IS 'Incremented by every change; commands taking p_expected_version refuse stale callers (IF006).';
COMMENT ON COLUMN invoiceflow.invoice.route_version IS 'Route version the router pinned at first submission (invariant 10); NULL until then.';
COMMENT ON COLUMN invoiceflow.invoice.stage_changed_at IS 'When the current stage began (stage durations, SLA).';

CREATE INDEX invoice_initiator_idx ON invoiceflow.invoice (initiator_id, created_at DESC);
CREATE INDEX invoice_paying_subdivision_idx ON invoiceflow.invoice (paying_subdivision_id, stage);
CREATE INDEX invoice_receiving_subdivision_idx ON invoiceflow.invoice (receiving_subdivision_id)
    WHERE receiving_subdivision_id IS NOT NULL;
CREATE INDEX invoice_duplicate_lookup_idx ON invoiceflow.invoice (counterparty_id, supplier_invoice_number_norm)
    WHERE stage <> 'withdrawn';
-- Backstops for two concurrent creations the command's own check cannot see; the command maps their
-- unique_violation to IF004.
CREATE UNIQUE INDEX invoice_duplicate_by_date_key ON invoiceflow.invoice
    (counterparty_id, supplier_invoice_number_norm, supplier_invoice_date) WHERE stage <> 'withdrawn';
CREATE UNIQUE INDEX invoice_duplicate_by_amount_key ON invoiceflow.invoice
    (counterparty_id, supplier_invoice_number_norm, amount_minor) WHERE stage <> 'withdrawn';
CREATE UNIQUE INDEX invoice_intercompany_duplicate_by_date_key ON invoiceflow.invoice
    (receiving_subdivision_id, paying_subdivision_id, supplier_invoice_number_norm, supplier_invoice_date)
    WHERE stage <> 'withdrawn' AND receiving_subdivision_id IS NOT NULL;
CREATE UNIQUE INDEX invoice_intercompany_duplicate_by_amount_key ON invoiceflow.invoice
    (receiving_subdivision_id, paying_subdivision_id, supplier_invoice_number_norm, amount_minor)
    WHERE stage <> 'withdrawn' AND receiving_subdivision_id IS NOT NULL;

CREATE TABLE invoiceflow.attachment (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT attachment_pkey PRIMARY KEY,
    invoice_id bigint NOT NULL CONSTRAINT attachment_invoice_fkey REFERENCES invoiceflow.invoice (id),
    file_name text NOT NULL CONSTRAINT attachment_file_name_not_blank CHECK (btrim(file_name) <> ''),
    media_type text NOT NULL CONSTRAINT attachment_media_type_format CHECK (media_type ~ '^[a-z]+/[a-zA-Z0-9.+-]+$'),
    size_bytes bigint NOT NULL CONSTRAINT attachment_size_nonnegative CHECK (size_bytes >= 0),
    sha256 bytea NOT NULL CONSTRAINT attachment_sha256_length CHECK (length(sha256) = 32),
    content bytea,
    uploaded_by bigint NOT NULL CONSTRAINT attachment_uploaded_by_fkey REFERENCES invoiceflow.employee (id),
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT attachment_content_matches CHECK (content IS NULL OR (sha256(content) = sha256 AND length(content) = size_bytes))
);
COMMENT ON TABLE invoiceflow.attachment IS 'Files of an invoice: metadata and SHA-256; the content may live here or elsewhere.';
COMMENT ON COLUMN invoiceflow.attachment.sha256 IS 'SHA-256 of the content; checked against content when it is stored here.';
COMMENT ON COLUMN invoiceflow.attachment.content IS 'The file itself, optional (NULL when kept in external storage).';
CREATE INDEX attachment_invoice_idx ON invoiceflow.attachment (invoice_id);

CREATE TABLE invoiceflow.invoice_comment (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT invoice_comment_pkey PRIMARY KEY,
    invoice_id bigint NOT NULL CONSTRAINT invoice_comment_invoice_fkey REFERENCES invoiceflow.invoice (id),
    author_id bigint NOT NULL CONSTRAINT invoice_comment_author_fkey REFERENCES invoiceflow.employee (id),
    body text NOT NULL CONSTRAINT invoice_comment_body_not_blank CHECK (btrim(body) <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE invoiceflow.invoice_comment IS 'Free-text discussion on an invoice; allowed at every stage.';
CREATE INDEX invoice_comment_invoice_idx ON invoiceflow.invoice_comment (invoice_id);

CREATE TABLE invoiceflow.task (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT task_pkey PRIMARY KEY,
    invoice_id bigint NOT NULL CONSTRAINT task_invoice_fkey REFERENCES invoiceflow.invoice (id),
    step_key text NOT NULL CONSTRAINT task_step_key_not_blank CHECK (btrim(step_key) <> ''),
    kind invoiceflow.task_kind NOT NULL,
    assignee_id bigint NOT NULL CONSTRAINT task_assignee_fkey REFERENCES invoiceflow.employee (id),
    acting_for_id bigint CONSTRAINT task_acting_for_fkey REFERENCES invoiceflow.employee (id),
    delegated_from_task_id bigint CONSTRAINT task_delegated_from_fkey REFERENCES invoiceflow.task (id),
    due_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    outcome invoiceflow.task_outcome,
    decided_at timestamptz,
    decided_by bigint CONSTRAINT task_decided_by_fkey REFERENCES invoiceflow.employee (id),
    decided_for_id bigint CONSTRAINT task_decided_for_fkey REFERENCES invoiceflow.employee (id),
    comment text,
    CONSTRAINT task_acting_for_not_self CHECK (acting_for_id IS DISTINCT FROM assignee_id),
    CONSTRAINT task_decision_complete CHECK ((outcome IS NULL) = (decided_at IS NULL)),
    CONSTRAINT task_comment_required CHECK (
        outcome IS NULL OR outcome NOT IN ('rejected', 'approved_with_remarks', 'delegated')
        OR btrim(coalesce(comment, '')) <> '')
);
COMMENT ON TABLE invoiceflow.task IS
    'Who must act on which step of an invoice, for whom as a substitute, by when, and how it ended. Created by the router.';
COMMENT ON COLUMN invoiceflow.task.step_key IS 'The route step this task belongs to (route data names it).';
COMMENT ON COLUMN invoiceflow.task.acting_for_id IS 'The absent employee the assignee substitutes for when the router resolved a deputy.';
COMMENT ON COLUMN invoiceflow.task.delegated_from_task_id IS 'The task whose holder delegated it to this assignee.';
COMMENT ON COLUMN invoiceflow.task.decided_by IS 'Who actually decided (the assignee, or the assignee''s current deputy).';
COMMENT ON COLUMN invoiceflow.task.decided_for_id IS 'For whom the decider acted as a substitute, if so.';
COMMENT ON COLUMN invoiceflow.task.comment IS 'Decision comment; required for reject, approve with remarks and delegate.';
CREATE INDEX task_open_assignee_idx ON invoiceflow.task (assignee_id, due_at) WHERE outcome IS NULL;
CREATE INDEX task_assignee_idx ON invoiceflow.task (assignee_id);
CREATE INDEX task_decided_by_idx ON invoiceflow.task (decided_by) WHERE decided_by IS NOT NULL;
CREATE INDEX task_acting_for_idx ON invoiceflow.task (acting_for_id) WHERE acting_for_id IS NOT NULL;
CREATE INDEX task_invoice_idx ON invoiceflow.task (invoice_id);
CREATE INDEX task_delegated_from_idx ON invoiceflow.task (delegated_from_task_id) WHERE delegated_from_task_id IS NOT NULL;

CREATE TABLE invoiceflow.payment (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT payment_pkey PRIMARY KEY,
    invoice_id bigint NOT NULL CONSTRAINT payment_invoice_fkey REFERENCES invoiceflow.invoice (id),
    paid_on date NOT NULL,
    reference text NOT NULL CONSTRAINT payment_reference_not_blank CHECK (btrim(reference) <> ''),
    amount_minor bigint NOT NULL CONSTRAINT payment_amount_positive CHECK (amount_minor > 0),
    currency text NOT NULL CONSTRAINT payment_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    recorded_by bigint NOT NULL CONSTRAINT payment_recorded_by_fkey REFERENCES invoiceflow.employee (id),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE invoiceflow.payment IS 'Payments made against an invoice; partial payments add up to at most the invoice amount.';
COMMENT ON COLUMN invoiceflow.payment.reference IS 'Bank reference (payment order number) of the payment.';
CREATE INDEX payment_invoice_idx ON invoiceflow.payment (invoice_id);

CREATE TABLE invoiceflow.closing_document (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT closing_document_pkey PRIMARY KEY,
    invoice_id bigint NOT NULL CONSTRAINT closing_document_invoice_fkey REFERENCES invoiceflow.invoice (id),
    kind text NOT NULL CONSTRAINT closing_document_kind_check CHECK (kind IN
        ('upd', 'act', 'invoice_factura', 'torg12', 'bank_register', 'customs_declaration', 'cmr', 'expense_report', 'other')),
    number text NOT NULL CONSTRAINT closing_document_number_not_blank CHECK (btrim(number) <> ''),
    document_date date NOT NULL,
    recorded_by bigint NOT NULL CONSTRAINT closing_document_recorded_by_fkey REFERENCES invoiceflow.employee (id),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE invoiceflow.closing_document IS 'Closing documents received for an invoice (УПД, акт, счёт-фактура, ...).';
COMMENT ON COLUMN invoiceflow.closing_document.kind IS
    'upd (УПД), act (акт), invoice_factura (счёт-фактура), torg12 (ТОРГ-12), bank_register, customs_declaration, cmr, expense_report, other.';
CREATE INDEX closing_document_invoice_idx ON invoiceflow.closing_document (invoice_id);

CREATE TABLE invoiceflow_private.work_item (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT work_item_pkey PRIMARY KEY,
    invoice_id bigint NOT NULL CONSTRAINT work_item_invoice_fkey REFERENCES invoiceflow.invoice (id),
    kind text NOT NULL CONSTRAINT work_item_kind_not_blank CHECK (btrim(kind) <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    run_after timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    locked_by text,
    last_error text,
    done_at timestamptz
);
COMMENT ON TABLE invoiceflow_private.work_item IS
    'Routing work queue: one row per event the router must act on; claimed with FOR UPDATE SKIP LOCKED. '
    'NOTIFY invoiceflow_work carries only ids; this table is the truth (invariant 1).';
COMMENT ON COLUMN invoiceflow_private.work_item.kind IS
    'Event: submitted, resubmitted, task_decided, task_delegated, returned, withdrawn, rejected, paid, document_recorded, closed, stage_changed.';
COMMENT ON COLUMN invoiceflow_private.work_item.run_after IS 'Not claimable before this time (retry back-off).';
COMMENT ON COLUMN invoiceflow_private.work_item.locked_until IS 'Lease of the claiming worker; an expired lease makes the item claimable again.';
CREATE INDEX work_item_pending_idx ON invoiceflow_private.work_item (run_after) WHERE done_at IS NULL;
CREATE INDEX work_item_invoice_idx ON invoiceflow_private.work_item (invoice_id);

CREATE FUNCTION invoiceflow_private.enqueue_work(p_invoice_id bigint, p_kind text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO invoiceflow_private.work_item (invoice_id, kind) VALUES (p_invoice_id, p_kind) RETURNING id INTO v_id;
    -- The work item's id only: LISTEN needs no privilege, so anyone connected may read the payload (not even
    -- the invoice id goes out); it is only a wake-up hint and the daemon reads the queue itself.
    PERFORM pg_catalog.pg_notify('invoiceflow_work', pg_catalog.json_build_object('work_item_id', v_id)::text);
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.enqueue_work(bigint, text) IS
    'Queues a routing work item and sends NOTIFY invoiceflow_work {"work_item_id": N}; called by commands only.';

-- Invariant 8 in the database: whatever the caller, the content of a submitted invoice does not change.
CREATE FUNCTION invoiceflow_private.invoice_guard_content() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF OLD.stage <> 'draft'::invoiceflow.invoice_stage
       AND (NEW.invoice_type_id, NEW.paying_subdivision_id, NEW.counterparty_id, NEW.receiving_subdivision_id,
            NEW.initiator_id, NEW.initiator_department_id, NEW.supplier_invoice_number, NEW.supplier_invoice_date,
            NEW.amount_minor, NEW.currency, NEW.vat_minor, NEW.purpose, NEW.due_date, NEW.prepayment,
            NEW.prepayment_percent, NEW.urgent, NEW.outside_budget, NEW.goods_received, NEW.confidential, NEW.created_at)
           IS DISTINCT FROM
           (OLD.invoice_type_id, OLD.paying_subdivision_id, OLD.counterparty_id, OLD.receiving_subdivision_id,
            OLD.initiator_id, OLD.initiator_department_id, OLD.supplier_invoice_number, OLD.supplier_invoice_date,
            OLD.amount_minor, OLD.currency, OLD.vat_minor, OLD.purpose, OLD.due_date, OLD.prepayment,
            OLD.prepayment_percent, OLD.urgent, OLD.outside_budget, OLD.goods_received, OLD.confidential, OLD.created_at)
    THEN
        RAISE EXCEPTION 'invoice % is %: its content is immutable; return it for rework first', OLD.id, OLD.stage
            USING ERRCODE = 'IF009';
    END IF;
    IF NEW.stage IS DISTINCT FROM OLD.stage THEN
        NEW.stage_changed_at := now();
    END IF;
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.invoice_guard_content() IS
    'Trigger: refuses content changes to an invoice outside draft (IF009), bumps version, stamps stage changes.';
CREATE TRIGGER invoice_guard_content BEFORE UPDATE ON invoiceflow.invoice
    FOR EACH ROW EXECUTE FUNCTION invoiceflow_private.invoice_guard_content();

CREATE FUNCTION invoiceflow_private.invoice_refuse_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted; withdraw the invoice instead', TG_TABLE_NAME USING ERRCODE = 'IF002';
END
$$;
COMMENT ON FUNCTION invoiceflow_private.invoice_refuse_delete() IS
    'Trigger: registry rows are never deleted (history is kept); withdrawal is a stage.';
CREATE TRIGGER invoice_refuse_delete BEFORE DELETE ON invoiceflow.invoice
    FOR EACH ROW EXECUTE FUNCTION invoiceflow_private.invoice_refuse_delete();
CREATE TRIGGER payment_refuse_delete BEFORE DELETE ON invoiceflow.payment
    FOR EACH ROW EXECUTE FUNCTION invoiceflow_private.invoice_refuse_delete();
CREATE TRIGGER task_refuse_delete BEFORE DELETE ON invoiceflow.task
    FOR EACH ROW EXECUTE FUNCTION invoiceflow_private.invoice_refuse_delete();

-- Attachments are content too: they change only while the invoice is a draft.
CREATE FUNCTION invoiceflow_private.attachment_guard_content() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_stage invoiceflow.invoice_stage;
BEGIN
    SELECT i.stage INTO v_stage FROM invoiceflow.invoice AS i
    WHERE i.id = (CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END);
    IF v_stage <> 'draft'::invoiceflow.invoice_stage THEN
        RAISE EXCEPTION 'attachments of invoice % cannot change: it is %', coalesce(NEW.invoice_id, OLD.invoice_id), v_stage
            USING ERRCODE = 'IF009';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.attachment_guard_content() IS
    'Trigger: attachments are added, changed or removed only while their invoice is a draft (IF009).';
CREATE TRIGGER attachment_guard_content BEFORE INSERT OR UPDATE OR DELETE ON invoiceflow.attachment
    FOR EACH ROW EXECUTE FUNCTION invoiceflow_private.attachment_guard_content();

-- Invariant 7 in the database: the initiator never approves or pays, not even as a substitute.
CREATE FUNCTION invoiceflow_private.task_guard_duties() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_initiator bigint;
BEGIN
    SELECT i.initiator_id INTO v_initiator FROM invoiceflow.invoice AS i WHERE i.id = NEW.invoice_id;
    IF NEW.kind IN ('approve', 'pay')
       AND v_initiator IN (NEW.assignee_id, NEW.acting_for_id, NEW.decided_by, NEW.decided_for_id)
    THEN
        RAISE EXCEPTION 'separation of duties: the initiator of invoice % may not % it, not even as a substitute',
            NEW.invoice_id, NEW.kind USING ERRCODE = 'IF005';
    END IF;
    IF NEW.kind = 'pay' AND EXISTS (
        SELECT FROM invoiceflow.task AS t
        WHERE t.invoice_id = NEW.invoice_id AND t.kind = 'approve'
          AND t.outcome IN ('approved', 'approved_with_remarks')
          AND (t.decided_by IN (NEW.assignee_id, NEW.decided_by) OR t.decided_for_id IN (NEW.assignee_id, NEW.decided_by)))
    THEN
        RAISE EXCEPTION 'separation of duties: whoever approved invoice % may not pay it', NEW.invoice_id
            USING ERRCODE = 'IF005';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.task_guard_duties() IS
    'Trigger: refuses approve/pay tasks held, decided or substituted by the initiator, and pay tasks for an approver (IF005).';
CREATE TRIGGER task_guard_duties BEFORE INSERT OR UPDATE ON invoiceflow.task
    FOR EACH ROW EXECUTE FUNCTION invoiceflow_private.task_guard_duties();

CREATE FUNCTION invoiceflow_private.payment_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_invoice invoiceflow.invoice;
    v_paid bigint;
BEGIN
    -- Lock the invoice so concurrent partial payments are summed one after the other.
    SELECT * INTO v_invoice FROM invoiceflow.invoice AS i WHERE i.id = NEW.invoice_id FOR UPDATE;
    IF NEW.recorded_by = v_invoice.initiator_id THEN
        RAISE EXCEPTION 'separation of duties: the initiator of invoice % may not pay it', NEW.invoice_id
            USING ERRCODE = 'IF005';
    END IF;
    IF EXISTS (SELECT FROM invoiceflow.task AS t
               WHERE t.invoice_id = NEW.invoice_id AND t.kind = 'approve'
                 AND t.outcome IN ('approved', 'approved_with_remarks')
                 AND NEW.recorded_by IN (t.decided_by, t.decided_for_id)) THEN
        RAISE EXCEPTION 'separation of duties: whoever approved invoice % may not pay it', NEW.invoice_id
            USING ERRCODE = 'IF005';
    END IF;
    IF NEW.currency <> v_invoice.currency THEN
        RAISE EXCEPTION 'payment currency % differs from the invoice currency %', NEW.currency, v_invoice.currency
            USING ERRCODE = 'IF001', COLUMN = 'p_currency';
    END IF;
    SELECT coalesce(sum(p.amount_minor), 0) INTO v_paid FROM invoiceflow.payment AS p WHERE p.invoice_id = NEW.invoice_id;
    IF v_paid + NEW.amount_minor > v_invoice.amount_minor THEN
        RAISE EXCEPTION 'payments would add up to % but invoice % is for %', v_paid + NEW.amount_minor,
            NEW.invoice_id, v_invoice.amount_minor USING ERRCODE = 'IF010', COLUMN = 'p_amount_minor';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.payment_guard() IS
    'Trigger: payments add up to at most the invoice amount (IF010), in its currency; never by the initiator or an approver (IF005).';
CREATE TRIGGER payment_guard BEFORE INSERT OR UPDATE ON invoiceflow.payment
    FOR EACH ROW EXECUTE FUNCTION invoiceflow_private.payment_guard();

RESET ROLE;
