-- 0075_queue_metrics: what /metrics and /healthz read from the database at scrape time — depths of the
-- routing work queue and the mail outbox, the ages of their oldest pending items, the parked and
-- dead-lettered counts, whether the outbox is paused, and how full the NOTIFY queue is.
--
-- The daemon's HTTP endpoint calls daemon_queue_metrics() on every scrape (every 15-60 s per replica), so
-- each figure must cost a read of the few rows it counts, never a scan of the history: the partial indexes
-- below hold only pending, parked or dead rows, which stay few while the system is healthy. Ages are
-- computed by the server (now() minus the row's created_at), so a daemon with a skewed clock reports them
-- correctly.

SET LOCAL ROLE invoiceflow_owner;

CREATE INDEX work_item_pending_created_idx ON invoiceflow_private.work_item (created_at)
    WHERE done_at IS NULL AND parked_at IS NULL;
COMMENT ON INDEX invoiceflow_private.work_item_pending_created_idx IS
    'The oldest claimable-or-backing-off routing item for daemon_queue_metrics(); holds only pending rows.';
CREATE INDEX mail_outbox_pending_created_idx ON invoiceflow_private.mail_outbox (created_at)
    WHERE state = 'pending';
COMMENT ON INDEX invoiceflow_private.mail_outbox_pending_created_idx IS
    'The oldest unsent message for daemon_queue_metrics(); holds only pending rows.';
CREATE INDEX mail_outbox_dead_idx ON invoiceflow_private.mail_outbox (id) WHERE state = 'dead';
COMMENT ON INDEX invoiceflow_private.mail_outbox_dead_idx IS
    'Dead-lettered messages, counted by daemon_queue_metrics() without reading the sent history.';

CREATE FUNCTION invoiceflow.daemon_queue_metrics()
RETURNS TABLE (
    routing_pending bigint, routing_due bigint, routing_parked bigint, routing_oldest_pending_seconds double precision,
    mail_pending bigint, mail_due bigint, mail_dead bigint, mail_oldest_pending_seconds double precision,
    mail_paused boolean, mail_paused_reason text, notification_queue_usage double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT
        (SELECT pg_catalog.count(*) FROM invoiceflow_private.work_item AS w
         WHERE w.done_at IS NULL AND w.parked_at IS NULL),
        (SELECT pg_catalog.count(*) FROM invoiceflow_private.work_item AS w
         WHERE w.done_at IS NULL AND w.parked_at IS NULL AND w.run_after OPERATOR(pg_catalog.<=) pg_catalog.now()),
        (SELECT pg_catalog.count(*) FROM invoiceflow_private.work_item AS w
         WHERE w.parked_at IS NOT NULL AND w.done_at IS NULL),
        (SELECT COALESCE(pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.min(w.created_at)), 0)
         FROM invoiceflow_private.work_item AS w WHERE w.done_at IS NULL AND w.parked_at IS NULL),
        (SELECT pg_catalog.count(*) FROM invoiceflow_private.mail_outbox AS o
         WHERE o.state OPERATOR(pg_catalog.=) 'pending'),
        (SELECT pg_catalog.count(*) FROM invoiceflow_private.mail_outbox AS o
         WHERE o.state OPERATOR(pg_catalog.=) 'pending' AND o.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()),
        (SELECT pg_catalog.count(*) FROM invoiceflow_private.mail_outbox AS o
         WHERE o.state OPERATOR(pg_catalog.=) 'dead'),
        (SELECT COALESCE(pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.min(o.created_at)), 0)
         FROM invoiceflow_private.mail_outbox AS o WHERE o.state OPERATOR(pg_catalog.=) 'pending'),
        q.paused_at IS NOT NULL,
        q.paused_reason,
        pg_catalog.pg_notification_queue_usage()
    FROM invoiceflow_private.mail_queue AS q
$$;
COMMENT ON FUNCTION invoiceflow.daemon_queue_metrics() IS
    'Daemon only (for /metrics and /healthz): routing items pending, due now and parked, the age in seconds of the '
    'oldest pending one (0 when none); outbox messages pending, due and dead, the oldest pending one''s age; whether '
    'the outbox is paused and why; pg_notification_queue_usage(). Counts only, no invoice or message content; every '
    'figure reads a partial index of pending, parked or dead rows.';
REVOKE ALL ON FUNCTION invoiceflow.daemon_queue_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.daemon_queue_metrics() TO invoiceflow_daemon;

RESET ROLE;
