-- The floor (bench/routing/run, phase 4): what one routing transaction must write, and nothing else. Per
-- transaction one call that marks a work item done, moves an invoice's stage, creates a task, appends three
-- audit rows and one mail of 5 KB, and notifies: the rows the issue lists for a transition (tasks, stage,
-- audit rows, outbox rows, work item done), each table with its primary key only, no checks, no triggers,
-- no row security, no hash chain, no decision. One round trip, like the ceiling's transaction. Its ratio to the
-- ceiling says how close to the ceiling any router writing those rows one transition per transaction could be
-- on this machine; routing's ratio to it, what the router's own work costs.
CREATE TABLE bench_floor_item (id bigint PRIMARY KEY, done_at timestamptz);
CREATE TABLE bench_floor_invoice (id bigint PRIMARY KEY, stage text NOT NULL, stage_changed_at timestamptz NOT NULL);
CREATE TABLE bench_floor_task (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, invoice_id bigint NOT NULL,
    step_key text NOT NULL, assignee_id bigint NOT NULL, due_at timestamptz NOT NULL);
CREATE TABLE bench_floor_audit (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, invoice_id bigint NOT NULL,
    action text NOT NULL, after jsonb NOT NULL, occurred_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE bench_floor_mail (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, invoice_id bigint NOT NULL,
    recipient text NOT NULL, content bytea NOT NULL);
ALTER TABLE bench_floor_mail ALTER COLUMN content SET COMPRESSION lz4;
INSERT INTO bench_floor_item (id) SELECT g FROM generate_series(1, 200000) AS g;
INSERT INTO bench_floor_invoice SELECT g, 'approval', now() FROM generate_series(1, 200000) AS g;
CREATE FUNCTION bench_floor_step(p_id bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_task bigint;
BEGIN
    UPDATE bench_floor_item SET done_at = now() WHERE id = p_id;
    UPDATE bench_floor_invoice SET stage = 'approval', stage_changed_at = now() WHERE id = p_id;
    INSERT INTO bench_floor_task (invoice_id, step_key, assignee_id, due_at)
    VALUES (p_id, 'department_head', 7, now() + interval '1 day') RETURNING id INTO v_task;
    INSERT INTO bench_floor_audit (invoice_id, action, after) VALUES
        (p_id, 'pin_route', jsonb_build_object('route_version', 1)),
        (p_id, 'route_step_started', jsonb_build_object('step', 'department_head', 'selector', 'head of the initiator''s department',
                                                       'holder', 7, 'excluded', '[]'::jsonb)),
        (p_id, 'assign_task', jsonb_build_object('task', v_task, 'assignee', 7, 'step_key', 'department_head'));
    INSERT INTO bench_floor_mail (invoice_id, recipient, content)
    VALUES (p_id, 'head@example.com', convert_to(repeat('Invoice ' || p_id || ' waits for your approval. ', 100), 'UTF8'));
    PERFORM pg_notify('bench_floor', p_id::text);
END
$$;
VACUUM ANALYZE bench_floor_item, bench_floor_invoice;
