-- 0010_views: the lists people use. All are security_invoker, so the caller's row-level security
-- decides what they show; each also filters explicitly on the caller (P15), which is what lets
-- "my invoices" and "my tasks" use index scans at any registry size.

SET LOCAL ROLE invoiceflow_owner;

CREATE FUNCTION invoiceflow_private.action_label(p_action text, p_locale text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(CASE WHEN p_locale OPERATOR(pg_catalog.=) 'ru' THEN l.ru ELSE l.en END, p_action)
    FROM (SELECT NULL::text) AS dummy (x)
    LEFT JOIN (VALUES
        ('create', 'created the draft', 'создал(а) черновик'),
        ('edit', 'edited the draft', 'изменил(а) черновик'),
        ('attach', 'attached a file', 'приложил(а) файл'),
        ('comment', 'commented', 'оставил(а) комментарий'),
        ('submit', 'submitted for approval', 'отправил(а) на согласование'),
        ('resubmit', 'resubmitted after rework', 'повторно отправил(а) после доработки'),
        ('withdraw', 'withdrew the invoice', 'отозвал(а) счёт'),
        ('return_for_rework', 'returned for rework', 'вернул(а) на доработку'),
        ('assign_task', 'task assigned', 'назначена задача'),
        ('approve', 'approved', 'согласовал(а)'),
        ('approve_with_remarks', 'approved with remarks', 'согласовал(а) с замечаниями'),
        ('reject', 'rejected', 'отклонил(а)'),
        ('delegate', 'delegated the task', 'передал(а) задачу'),
        ('pay', 'recorded a payment', 'провёл(а) оплату'),
        ('record_document', 'recorded a closing document', 'внёс(ла) закрывающий документ'),
        ('close', 'closed the invoice', 'закрыл(а) счёт'),
        ('stage_payment', 'approved by everyone: moved to payment', 'согласован всеми: передан на оплату'),
        ('stage_closing_documents', 'moved to closing documents', 'передан на сбор закрывающих документов'),
        ('stage_closed', 'closed', 'закрыт')
    ) AS l (action, en, ru) ON l.action OPERATOR(pg_catalog.=) p_action
$$;
COMMENT ON FUNCTION invoiceflow_private.action_label(text, text) IS
    'Human wording of an audit action in en or ru (falls back to the action code).';
REVOKE ALL ON FUNCTION invoiceflow_private.action_label(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow_private.action_label(text, text) TO invoiceflow_employee, invoiceflow_auditor,
    invoiceflow_admin;

CREATE VIEW invoiceflow.invoice_card WITH (security_invoker = true) AS
SELECT
    i.id,
    t.code AS invoice_type,
    t.name_ru AS invoice_type_name,
    i.stage,
    i.version,
    ps.code AS paying_subdivision,
    ps.name AS paying_subdivision_name,
    coalesce(c.name, rs.name) AS receiver_name,
    coalesce(c.inn, rs.inn) AS receiver_inn,
    i.counterparty_id,
    i.receiving_subdivision_id,
    i.initiator_id,
    ini.full_name AS initiator_name,
    d.name AS initiator_department,
    i.supplier_invoice_number,
    i.supplier_invoice_date,
    i.amount_minor,
    i.vat_minor,
    i.currency,
    coalesce((SELECT sum(p.amount_minor) FROM invoiceflow.payment AS p WHERE p.invoice_id = i.id), 0)::bigint AS paid_minor,
    i.amount_minor - coalesce((SELECT sum(p.amount_minor) FROM invoiceflow.payment AS p WHERE p.invoice_id = i.id), 0)::bigint
        AS remaining_minor,
    i.purpose,
    i.due_date,
    i.prepayment,
    i.prepayment_percent,
    i.urgent,
    i.outside_budget,
    i.goods_received,
    i.confidential,
    i.created_at,
    i.submitted_at,
    i.stage_changed_at,
    (SELECT string_agg(e.full_name, ', ' ORDER BY e.full_name) FROM invoiceflow.task AS ot
     JOIN invoiceflow.employee AS e ON e.id = ot.assignee_id
     WHERE ot.invoice_id = i.id AND ot.outcome IS NULL) AS waiting_for,
    (SELECT count(*) FROM invoiceflow.attachment AS a WHERE a.invoice_id = i.id) AS attachments,
    (SELECT count(*) FROM invoiceflow.closing_document AS cd WHERE cd.invoice_id = i.id) AS closing_documents,
    (SELECT count(*) FROM invoiceflow.invoice_comment AS cm WHERE cm.invoice_id = i.id) AS comments
FROM invoiceflow.invoice AS i
JOIN invoiceflow.invoice_type AS t ON t.id = i.invoice_type_id
JOIN invoiceflow.subdivision AS ps ON ps.id = i.paying_subdivision_id
JOIN invoiceflow.employee AS ini ON ini.id = i.initiator_id
LEFT JOIN invoiceflow.department AS d ON d.id = i.initiator_department_id
LEFT JOIN invoiceflow.counterparty AS c ON c.id = i.counterparty_id
LEFT JOIN invoiceflow.subdivision AS rs ON rs.id = i.receiving_subdivision_id;
COMMENT ON VIEW invoiceflow.invoice_card IS
    'The card of every invoice the caller may see: content, receiver, initiator, paid and remaining amounts, who it waits '
    'for, counts of attachments, documents and comments. The timeline is invoice_timeline.';

CREATE VIEW invoiceflow.my_invoices WITH (security_invoker = true) AS
SELECT card.id, card.invoice_type, card.stage, card.receiver_name, card.supplier_invoice_number, card.supplier_invoice_date,
       card.amount_minor, card.currency, card.paid_minor, card.due_date, card.waiting_for, card.created_at,
       card.submitted_at, card.stage_changed_at
FROM invoiceflow.invoice_card AS card
WHERE card.initiator_id = (SELECT invoiceflow.current_employee_id());
COMMENT ON VIEW invoiceflow.my_invoices IS
    'Invoices the caller initiated, at every stage, newest first when ordered by created_at.';

CREATE VIEW invoiceflow.my_tasks WITH (security_invoker = true) AS
SELECT
    t.id AS task_id,
    t.invoice_id,
    t.step_key,
    t.kind,
    CASE WHEN t.assignee_id = (SELECT invoiceflow.current_employee_id()) THEN t.acting_for_id ELSE t.assignee_id END
        AS acting_for_id,
    (SELECT e.full_name FROM invoiceflow.employee AS e
     WHERE e.id = CASE WHEN t.assignee_id = (SELECT invoiceflow.current_employee_id()) THEN t.acting_for_id
                       ELSE t.assignee_id END) AS acting_for_name,
    t.due_at,
    t.due_at < now() AS overdue,
    t.created_at,
    i.stage,
    it.code AS invoice_type,
    i.amount_minor,
    i.currency,
    coalesce(c.name, rs.name) AS receiver_name,
    ini.full_name AS initiator_name,
    i.purpose,
    i.urgent
FROM invoiceflow.task AS t
JOIN invoiceflow.invoice AS i ON i.id = t.invoice_id
JOIN invoiceflow.invoice_type AS it ON it.id = i.invoice_type_id
JOIN invoiceflow.employee AS ini ON ini.id = i.initiator_id
LEFT JOIN invoiceflow.counterparty AS c ON c.id = i.counterparty_id
LEFT JOIN invoiceflow.subdivision AS rs ON rs.id = i.receiving_subdivision_id
WHERE t.outcome IS NULL
  AND t.assignee_id = ANY ((SELECT invoiceflow_private.my_acting_ids())::bigint[])
  AND (t.assignee_id = (SELECT invoiceflow.current_employee_id())
       OR invoiceflow_private.substitution_covers(t.assignee_id, i.invoice_type_id));
COMMENT ON VIEW invoiceflow.my_tasks IS
    'Open tasks the caller must act on: their own, and those of people they substitute for right now (within the '
    'substitution''s invoice types); acting_for_* names for whom.';

CREATE VIEW invoiceflow.invoice_timeline WITH (security_invoker = true) AS
SELECT
    a.invoice_id,
    row_number() OVER (PARTITION BY a.invoice_id ORDER BY a.id) AS step,
    a.id AS audit_id,
    a.occurred_at,
    a.action,
    coalesce(actor.full_name, CASE a.channel WHEN 'daemon' THEN 'InvoiceFlow' ELSE a.session_role::text END) AS actor_name,
    forwhom.full_name AS acting_for_name,
    a.channel,
    coalesce(actor.full_name, CASE a.channel WHEN 'daemon' THEN 'InvoiceFlow' ELSE a.session_role::text END)
        || coalesce(' (for ' || forwhom.full_name || ')', '') || ' ' || invoiceflow_private.action_label(a.action, 'en')
        || CASE WHEN (a.before ->> 'stage') IS DISTINCT FROM (a.after ->> 'stage')
                THEN coalesce(': ' || (a.before ->> 'stage') || ' → ' || (a.after ->> 'stage'), '') ELSE '' END
        || coalesce(' — ' || a.comment, '') AS description,
    coalesce(actor.full_name, CASE a.channel WHEN 'daemon' THEN 'InvoiceFlow' ELSE a.session_role::text END)
        || coalesce(' (за ' || forwhom.full_name || ')', '') || ' ' || invoiceflow_private.action_label(a.action, 'ru')
        || CASE WHEN (a.before ->> 'stage') IS DISTINCT FROM (a.after ->> 'stage')
                THEN coalesce(': ' || (a.before ->> 'stage') || ' → ' || (a.after ->> 'stage'), '') ELSE '' END
        || coalesce(' — ' || a.comment, '') AS description_ru,
    a.comment,
    a.before,
    a.after
FROM invoiceflow.audit_log AS a
LEFT JOIN invoiceflow.employee AS actor ON actor.id = a.actor_employee_id
LEFT JOIN invoiceflow.employee AS forwhom ON forwhom.id = a.acting_for_employee_id
WHERE a.invoice_id IS NOT NULL;
COMMENT ON VIEW invoiceflow.invoice_timeline IS
    'Every audit row of every invoice the caller may see, in order (step), as a sentence in English and Russian: who, for '
    'whom, what, stage change, comment. Order by invoice_id, step.';
COMMENT ON COLUMN invoiceflow.invoice_timeline.step IS 'Position of the event in the invoice''s history, from 1.';
COMMENT ON COLUMN invoiceflow.invoice_timeline.description IS 'The event as one English sentence.';
COMMENT ON COLUMN invoiceflow.invoice_timeline.description_ru IS 'The event as one Russian sentence.';

GRANT SELECT ON invoiceflow.invoice_card, invoiceflow.my_invoices, invoiceflow.my_tasks, invoiceflow.invoice_timeline
    TO invoiceflow_employee, invoiceflow_auditor;

RESET ROLE;
