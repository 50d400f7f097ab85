-- 0058_scheduler_family_delegation: the escalation family follows delegation. 0055 closed the other
-- tasks of an SLA escalation (the late task, the head's parallel task, further escalations) when one of
-- them was decided, following task_notice.escalation_task_id only. A late approver who delegated after
-- the escalation left the delegate's task outside the family: when the head approved, the delegate's
-- task stayed open and an all-in-parallel step waited for it forever. Here the family also follows
-- task.delegated_from_task_id both ways (the delegate's task belongs to the family of the task it came
-- from, and a delegated head's task keeps its delegate in the family), so deciding any member closes the
-- open rest.

SET LOCAL ROLE invoiceflow_owner;

CREATE OR REPLACE FUNCTION invoiceflow_private.scheduler_close_escalation_family() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_other invoiceflow.task;
BEGIN
    -- Only a task that is, or descends by delegation from, part of an escalation has a family to close.
    FOR v_other IN
        WITH RECURSIVE family (id) AS (
            SELECT NEW.id
            UNION
            SELECT e.other
            FROM family AS f
            CROSS JOIN LATERAL (
                SELECT n.escalation_task_id FROM invoiceflow_private.task_notice AS n
                WHERE n.task_id = f.id AND n.escalation_task_id IS NOT NULL
                UNION ALL
                SELECT n.task_id FROM invoiceflow_private.task_notice AS n WHERE n.escalation_task_id = f.id
                UNION ALL
                SELECT t.delegated_from_task_id FROM invoiceflow.task AS t
                WHERE t.id = f.id AND t.delegated_from_task_id IS NOT NULL
                UNION ALL
                SELECT t.id FROM invoiceflow.task AS t WHERE t.delegated_from_task_id = f.id) AS e (other))
        SELECT t.* FROM invoiceflow.task AS t JOIN family AS f ON f.id = t.id
        WHERE t.id <> NEW.id AND t.outcome IS NULL
          -- A plain delegation chain has one open task; a family exists only where an escalation was recorded.
          AND EXISTS (SELECT FROM family AS m JOIN invoiceflow_private.task_notice AS n
                      ON n.escalation_task_id IS NOT NULL AND (n.task_id = m.id OR n.escalation_task_id = m.id))
        ORDER BY t.id
        FOR UPDATE OF t
    LOOP
        UPDATE invoiceflow.task AS t
        SET outcome = 'cancelled', decided_at = pg_catalog.now(),
            comment = format('closed: task %s of the same escalation was %s', NEW.id, NEW.outcome)
        WHERE t.id = v_other.id;
        PERFORM invoiceflow_private.audit(v_other.invoice_id, 'task', v_other.id, 'cancel_task',
            jsonb_build_object('outcome', NULL),
            jsonb_build_object('outcome', 'cancelled', 'step_key', v_other.step_key, 'escalation_of', NEW.id),
            format('closed: task %s of the same escalation was %s', NEW.id, NEW.outcome));
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.scheduler_close_escalation_family() IS
    'Trigger: when a task that is part of an SLA escalation (the late task, the head''s parallel task, further up, and '
    'the tasks delegated from any of them) is decided, cancels the others still open, with an audit row each.';

RESET ROLE;
