-- The floor (pgbench script): one routing transaction's required writes, one call per transaction (floor.sql).
\set id random(1, 200000)
SELECT bench_floor_step(:id);
