-- The raw ceiling (pgbench script): a single-row insert and a NOTIFY, one transaction.
INSERT INTO bench_ceiling (client, at) VALUES (:client_id, now());
SELECT pg_notify('bench_ceiling', 'x');
