-- The claimed floor (pgbench script, bench/routing/run phase 5): the least a router that claims its work can do
-- per transition. Round trip 1 opens the transaction and claims the oldest open work item with FOR UPDATE SKIP
-- LOCKED (the router's claim, without the invoice's state it would decide from); round trip 2 writes the
-- transition's rows (the floor's call, floor.sql) and commits. No decision, no triggers, no mail rendering.
BEGIN \;
SELECT id FROM bench_floor_item WHERE done_at IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED \aset
SELECT bench_floor_step(:id) \;
COMMIT;
