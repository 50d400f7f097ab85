-- The raw ceiling (pgbench script): a single-row insert and a NOTIFY in one transaction and one round trip
-- (`\;` sends both as one query string, which runs as one implicit transaction).
INSERT INTO bench_ceiling (client, at) VALUES (:client_id, now()) \;
SELECT pg_notify('bench_ceiling', 'x');
