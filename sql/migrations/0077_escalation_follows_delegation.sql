-- 0077_escalation_follows_delegation: a task delegated after its escalation is not escalated again.
--
-- A late approver's task is escalated once: the head gets a parallel task acting for them (0055), and
-- deciding any task of that family closes the rest (0058 made the family follow delegation). But a late
-- approver who delegated after the escalation handed the delegate a new task with the same, already past,
-- due_at and no notice recorded, so the next scheduler round escalated it again: a second mail to the head
-- and a second parallel task for an approval the head already held. The delegate's task now inherits the
-- escalation the task it came from has had (same head's task, no recipients of its own: nobody was mailed
-- for it), so the schedule, the listing and the claim's re-check all see the escalation as done. Reminders
-- are not inherited: the delegate has not been reminded of anything yet.

SET LOCAL ROLE invoiceflow_owner;

CREATE FUNCTION invoiceflow_private.task_inherit_escalation() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO invoiceflow_private.task_notice (task_id, notice, invoice_id, as_of, worker, recipients,
                                                 escalation_task_id)
    SELECT NEW.id, n.notice, n.invoice_id, n.as_of, 'delegation of task ' || NEW.delegated_from_task_id, '{}',
           n.escalation_task_id
    FROM invoiceflow_private.task_notice AS n
    WHERE n.task_id = NEW.delegated_from_task_id AND n.notice = 'escalation';
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.task_inherit_escalation() IS
    'Trigger: a delegated task inherits the escalation already recorded for the task it came from (no recipients), so '
    'it is not escalated a second time.';
REVOKE ALL ON FUNCTION invoiceflow_private.task_inherit_escalation() FROM PUBLIC;

-- Fires before the statement-level task_schedule_inserted, so the new task's schedule is computed without it.
CREATE TRIGGER task_inherit_escalation AFTER INSERT ON invoiceflow.task
    FOR EACH ROW WHEN (NEW.delegated_from_task_id IS NOT NULL)
    EXECUTE FUNCTION invoiceflow_private.task_inherit_escalation();
COMMENT ON TRIGGER task_inherit_escalation ON invoiceflow.task IS
    'A delegated task inherits its source''s escalation notice (0077).';

COMMENT ON TABLE invoiceflow_private.task_notice IS
    'What the scheduler sent about a task, one row per (task, notice): the primary key is what makes every reminder, '
    'escalation and overdue notice go out once across replicas and repeated rounds. Written by daemon_scheduler_record, '
    'and on delegation, which copies an escalation to the delegate''s task (worker "delegation of task N", no recipients).';

RESET ROLE;
