-- 0053_router_claim_index: the routing claim finds the oldest claimable work item without walking past the
-- finished ones. daemon_claim_routing orders the unfinished items by id; with only work_item_pending_idx
-- (by run_after) and the primary key, the planner either sorted every pending item or walked the primary
-- key from the first item ever queued, skipping the finished ones: 0.4 ms per claim after 2 000 items in
-- scripts/bench routing's workload, growing with the table. A partial index on the id of the unfinished,
-- unparked items keeps a claim at a few index entries (0.15 ms) whatever the history.

SET LOCAL ROLE invoiceflow_owner;

CREATE INDEX work_item_claimable_idx ON invoiceflow_private.work_item (id)
    WHERE done_at IS NULL AND parked_at IS NULL;
COMMENT ON INDEX invoiceflow_private.work_item_claimable_idx IS
    'Unfinished, unparked routing work in queue order: what daemon_claim_routing scans, oldest first.';

RESET ROLE;
