-- 0032_reporting_stage_indexes: indexes the reporting views can use under row-level security (issue 7).
--
-- Why 0031's invoice_stage_since_idx (stage, stage_changed_at) does not serve report logins: the views
-- are security_invoker, so every app role reads invoice through the invoice_read policy, and a WHERE
-- clause whose operator is not LEAKPROOF is evaluated only after the policy, never as an index
-- condition. Equality on an enum (enum_eq) is not leakproof, so `stage = 'approval'` became a filter
-- over a sequential scan of the whole registry (10 s at a million invoices for "the 20 oldest approvals
-- of a subdivision"). Marking a function LEAKPROOF needs a superuser, which production migrations are
-- not. A PARTIAL index whose predicate is the stage test does work: the planner chooses it because the
-- query's clause implies the predicate, and no function runs on a row the caller may not see (the
-- predicate was evaluated when the index was built). So: one partial index per open stage, ordered by
-- stage_changed_at (the view's stage_since); closing_documents' index is also the candidate set of
-- reporting.paid_without_documents, whose per-invoice lookups get covering indexes below (its
-- task.kind = 'collect_documents' is an enum test too).

SET LOCAL ROLE invoiceflow_owner;

CREATE INDEX invoice_draft_since_idx ON invoiceflow.invoice (stage_changed_at) WHERE stage = 'draft';
CREATE INDEX invoice_approval_since_idx ON invoiceflow.invoice (stage_changed_at) WHERE stage = 'approval';
CREATE INDEX invoice_payment_since_idx ON invoiceflow.invoice (stage_changed_at) WHERE stage = 'payment';
-- Covering: everything reporting.paid_without_documents and the invoice_read policy read of the invoice,
-- so its 50 000 candidates (at a million) come from an index-only scan.
CREATE INDEX invoice_closing_documents_since_idx ON invoiceflow.invoice (stage_changed_at)
    INCLUDE (id, stage, initiator_id, submitted_at, confidential, paying_subdivision_id, receiving_subdivision_id,
             invoice_type_id, counterparty_id, amount_minor, currency)
    WHERE stage = 'closing_documents';
CREATE INDEX invoice_rejected_since_idx ON invoiceflow.invoice (stage_changed_at) WHERE stage = 'rejected';
COMMENT ON INDEX invoiceflow.invoice_draft_since_idx IS
    'Invoices in draft, oldest stage change first: usable under RLS, unlike (stage, stage_changed_at) (0032 header).';
COMMENT ON INDEX invoiceflow.invoice_approval_since_idx IS
    'Invoices in approval, oldest stage change first: usable under RLS, unlike (stage, stage_changed_at) (0032 header).';
COMMENT ON INDEX invoiceflow.invoice_payment_since_idx IS
    'Invoices in payment, oldest stage change first: usable under RLS, unlike (stage, stage_changed_at) (0032 header).';
COMMENT ON INDEX invoiceflow.invoice_closing_documents_since_idx IS
    'Invoices awaiting closing documents: the candidate set of reporting.paid_without_documents, usable under RLS (0032 header).';
COMMENT ON INDEX invoiceflow.invoice_rejected_since_idx IS
    'Rejected invoices, oldest stage change first: usable under RLS, unlike (stage, stage_changed_at) (0032 header).';

-- Covering (INCLUDE) so that the per-invoice lookups of reporting.paid_without_documents are index-only
-- scans (about 50 000 invoices await documents at a million): the collector, and the payments' sum.
CREATE INDEX task_collect_documents_idx ON invoiceflow.task (invoice_id, id) INCLUDE (assignee_id, outcome)
    WHERE kind = 'collect_documents';
COMMENT ON INDEX invoiceflow.task_collect_documents_idx IS
    'The collect_documents task(s) of an invoice with holder and outcome: spares reporting.paid_without_documents the '
    'policy check on the invoice''s other tasks and the heap visit (0032 header).';
CREATE INDEX payment_invoice_paid_idx ON invoiceflow.payment (invoice_id) INCLUDE (paid_on, amount_minor);
COMMENT ON INDEX invoiceflow.payment_invoice_paid_idx IS
    'Payments of an invoice with date and amount: the last payment date and the paid sum of '
    'reporting.paid_without_documents as an index-only scan (0032 header).';

RESET ROLE;
