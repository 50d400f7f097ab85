-- One submission (pgbench script, connected as one initiator): the initiator's oldest draft.
SELECT invoiceflow.submit_invoice((SELECT min(i.id) FROM invoiceflow.invoice AS i
                                   WHERE i.stage = 'draft' AND i.initiator_id = invoiceflow.current_employee_id()));
