-- One submission (pgbench script, connected as one initiator, -D n=0): the initiator's next draft in
-- creation order (bench_draft, made by bench/routing/run), found by its primary key.
\set n :n + 1
SELECT invoiceflow.submit_invoice((SELECT d.invoice_id FROM bench_draft AS d WHERE d.initiator = current_user AND d.ord = :n));
