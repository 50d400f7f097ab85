-- 0055_scheduler: what the scheduler needs to find due work race-free across daemon replicas — SLA
-- reminders, escalations, the payment-day mail and overdue closing documents — and a record of what was
-- sent, so a notice goes out once however many replicas run and however often a round repeats.
--
-- The rules (all in business time, working_calendar_day, 09:00–18:00 Moscow):
--   reminder                approve and collect_documents tasks, once the step's reminderAtPercent (default
--                           50) of the business time from created_at to due_at has passed, before due_at;
--   escalation              approve and pay tasks at due_at, unless the step says "remindOnly": the
--                           daemon resolves the late person's head (domain core, company structure as of
--                           p_now), mails them and, for an approval, gives them a parallel task acting for
--                           the late holder. The late task stays open: a timeout never rejects;
--   payment_due             pay tasks due today, on a payment day from 09:00, when the task existed
--                           before the morning (a task assigned later in the day was just mailed);
--   documents_overdue       collect_documents tasks past due_at: mail to the collector, audit row;
--   documents_overdue_head  the same tasks once a second period (the task's own business time from
--                           created_at to due_at) has passed since due_at: mail to the collector's head.
--
-- A round is "as of" an explicit p_now (tests and `invoiceflow demo` run one at a later moment). The
-- daemon lists due notices without locks (daemon_scheduler_due), then handles each in a transaction of
-- its own: daemon_scheduler_claim locks the invoice and the task with SKIP LOCKED (so replicas never wait
-- for each other, nor for a person deciding the task) and re-checks the rule under the lock;
-- daemon_scheduler_record inserts the notice (primary key task + notice: a second insert is refused)
-- with its audit row. A crash before COMMIT rolls the mail back with the record.

SET LOCAL ROLE invoiceflow_owner;

CREATE TABLE invoiceflow_private.task_notice (
    task_id bigint NOT NULL CONSTRAINT task_notice_task_fkey REFERENCES invoiceflow.task (id),
    notice text NOT NULL CONSTRAINT task_notice_notice_check CHECK (notice IN
        ('reminder', 'escalation', 'payment_due', 'documents_overdue', 'documents_overdue_head')),
    invoice_id bigint NOT NULL CONSTRAINT task_notice_invoice_fkey REFERENCES invoiceflow.invoice (id),
    as_of timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    worker text NOT NULL CONSTRAINT task_notice_worker_not_blank CHECK (btrim(worker) <> ''),
    recipients bigint[] NOT NULL DEFAULT '{}',
    escalation_task_id bigint CONSTRAINT task_notice_escalation_task_fkey REFERENCES invoiceflow.task (id),
    CONSTRAINT task_notice_pkey PRIMARY KEY (task_id, notice),
    CONSTRAINT task_notice_escalation_task_only_for_escalation
        CHECK (escalation_task_id IS NULL OR notice = 'escalation')
);
COMMENT ON TABLE invoiceflow_private.task_notice IS
    'What the scheduler sent about a task, one row per (task, notice): the primary key is what makes every reminder, '
    'escalation and overdue notice go out once across replicas and repeated rounds. Written only by daemon_scheduler_record.';
COMMENT ON COLUMN invoiceflow_private.task_notice.notice IS
    'reminder, escalation, payment_due, documents_overdue (to the collector) or documents_overdue_head (to their head).';
COMMENT ON COLUMN invoiceflow_private.task_notice.as_of IS 'The round''s p_now: the moment the rule was evaluated at.';
COMMENT ON COLUMN invoiceflow_private.task_notice.recorded_at IS 'When the round really ran (transaction time).';
COMMENT ON COLUMN invoiceflow_private.task_notice.worker IS 'The scheduler that sent it (scheduler@host:pid).';
COMMENT ON COLUMN invoiceflow_private.task_notice.recipients IS 'Employees mailed (empty when nobody could be: e.g. no head up the tree).';
COMMENT ON COLUMN invoiceflow_private.task_notice.escalation_task_id IS
    'For an escalated approval: the head''s parallel task acting for the late holder; deciding either closes the other.';
CREATE INDEX task_notice_escalation_task_idx ON invoiceflow_private.task_notice (escalation_task_id)
    WHERE escalation_task_id IS NOT NULL;
CREATE INDEX task_notice_invoice_idx ON invoiceflow_private.task_notice (invoice_id);

ALTER TABLE invoiceflow_private.task_notice ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoiceflow_private.task_notice FORCE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE invoiceflow_private.task_notice FROM PUBLIC;
CREATE POLICY owner_all ON invoiceflow_private.task_notice AS PERMISSIVE FOR ALL TO invoiceflow_owner
    USING (true) WITH CHECK (true);
COMMENT ON POLICY owner_all ON invoiceflow_private.task_notice IS
    'The owner (NOLOGIN; used only by migrations and definer functions) reads and writes every row: FORCE RLS would otherwise '
    'deny it. Nobody else reads the table; the mails and audit rows are the visible record.';

-- The Moscow wall-clock time of an instant (UTC+3 all year, as business_seconds_at).
CREATE FUNCTION invoiceflow_private.moscow_time(p_at timestamptz) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
RETURN (p_at AT TIME ZONE 'UTC') OPERATOR(pg_catalog.+) INTERVAL '3 hours';
COMMENT ON FUNCTION invoiceflow_private.moscow_time(timestamptz) IS
    'The Moscow wall-clock time of an instant (fixed UTC+3, like the working calendar).';

CREATE FUNCTION invoiceflow_private.scheduler_route_step(p_invoice_id bigint, p_step_key text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    -- The step of the invoice's pinned route version (docs/routes.md format), or NULL.
    SELECT s.value
    FROM invoiceflow.invoice AS i
    JOIN invoiceflow.route_version AS v
      ON v.invoice_type_id OPERATOR(pg_catalog.=) i.invoice_type_id AND v.version OPERATOR(pg_catalog.=) i.route_version
    CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(v.body -> 'steps') AS s (value)
    WHERE i.id OPERATOR(pg_catalog.=) p_invoice_id AND s.value ->> 'id' OPERATOR(pg_catalog.=) p_step_key
    LIMIT 1
$$;
COMMENT ON FUNCTION invoiceflow_private.scheduler_route_step(bigint, text) IS
    'The route step (JSON, docs/routes.md) a task belongs to, from the invoice''s pinned route version; NULL if none.';

CREATE FUNCTION invoiceflow_private.scheduler_notice_due(p_task invoiceflow.task, p_notice text, p_now timestamptz)
RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
-- The rules of the header, for one open task and one notice at p_now (whether it was sent is not checked here).
DECLARE
    v_step jsonb;
    v_start bigint;
    v_due bigint;
    v_now bigint;
    v_percent integer;
    v_today date;
BEGIN
    IF p_task.outcome IS NOT NULL OR p_task.due_at IS NULL OR p_now IS NULL THEN
        RETURN false;
    END IF;
    CASE p_notice
    WHEN 'reminder' THEN
        IF p_task.kind NOT IN ('approve', 'collect_documents') OR p_now >= p_task.due_at THEN
            RETURN false;
        END IF;
        v_step := invoiceflow_private.scheduler_route_step(p_task.invoice_id, p_task.step_key);
        v_percent := coalesce((v_step ->> 'reminderAtPercent')::integer, 50);
        v_start := invoiceflow_private.business_seconds_at(p_task.created_at);
        v_due := invoiceflow_private.business_seconds_at(p_task.due_at);
        v_now := invoiceflow_private.business_seconds_at(p_now);
        RETURN v_percent BETWEEN 1 AND 99 AND v_due > v_start
           AND (v_now - v_start) * 100 >= (v_due - v_start) * v_percent;
    WHEN 'escalation' THEN
        IF p_task.kind NOT IN ('approve', 'pay') OR p_now < p_task.due_at THEN
            RETURN false;
        END IF;
        v_step := invoiceflow_private.scheduler_route_step(p_task.invoice_id, p_task.step_key);
        RETURN coalesce(v_step ->> 'escalation', 'approversHead') <> 'remindOnly';
    WHEN 'payment_due' THEN
        v_today := invoiceflow_private.moscow_time(p_now)::date;
        RETURN p_task.kind = 'pay' AND p_now < p_task.due_at
           AND invoiceflow_private.moscow_time(p_task.due_at)::date = v_today
           AND invoiceflow.is_payment_day(v_today)
           AND invoiceflow_private.moscow_time(p_now) >= v_today + TIME '09:00'
           AND invoiceflow_private.moscow_time(p_task.created_at) < v_today + TIME '09:00';
    WHEN 'documents_overdue' THEN
        RETURN p_task.kind = 'collect_documents' AND p_now >= p_task.due_at;
    WHEN 'documents_overdue_head' THEN
        IF p_task.kind <> 'collect_documents' OR p_now < p_task.due_at THEN
            RETURN false;
        END IF;
        v_start := invoiceflow_private.business_seconds_at(p_task.created_at);
        v_due := invoiceflow_private.business_seconds_at(p_task.due_at);
        v_now := invoiceflow_private.business_seconds_at(p_now);
        -- After the collector was told, and a second period as long as the task's own has passed.
        RETURN v_now - v_due >= greatest(v_due - v_start, 1)
           AND EXISTS (SELECT FROM invoiceflow_private.task_notice AS n
                       WHERE n.task_id = p_task.id AND n.notice = 'documents_overdue');
    ELSE
        RETURN false;
    END CASE;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.scheduler_notice_due(invoiceflow.task, text, timestamptz) IS
    'Whether a notice (reminder, escalation, payment_due, documents_overdue, documents_overdue_head) is due for an open '
    'task at p_now, by the rules of migration 0055 in business time; ignores whether it was already sent.';

CREATE FUNCTION invoiceflow.daemon_scheduler_due(p_now timestamptz, p_limit integer DEFAULT 100)
RETURNS TABLE (task_id bigint, invoice_id bigint, notice text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    -- No locks: a candidate list. Each one is claimed (and re-checked) in its own transaction.
    SELECT t.id, t.invoice_id, k.notice
    FROM invoiceflow.task AS t
    JOIN (VALUES ('approve', 'reminder', 2), ('approve', 'escalation', 1), ('pay', 'escalation', 1),
                 ('pay', 'payment_due', 3), ('collect_documents', 'reminder', 2),
                 ('collect_documents', 'documents_overdue', 1), ('collect_documents', 'documents_overdue_head', 1))
        AS k (kind, notice, priority) ON k.kind OPERATOR(pg_catalog.=) t.kind::text
    WHERE t.outcome IS NULL AND t.due_at IS NOT NULL
      AND NOT EXISTS (SELECT FROM invoiceflow_private.task_notice AS n
                      WHERE n.task_id OPERATOR(pg_catalog.=) t.id AND n.notice OPERATOR(pg_catalog.=) k.notice)
      AND invoiceflow_private.scheduler_notice_due(t, k.notice, p_now)
    ORDER BY k.priority, t.due_at, t.id
    LIMIT greatest(p_limit, 0)
$$;
COMMENT ON FUNCTION invoiceflow.daemon_scheduler_due(timestamptz, integer) IS
    'Daemon only: up to p_limit notices due at p_now and not yet sent (escalations and overdue documents first, then '
    'reminders, then payment-day mail), without locking. Claim each with daemon_scheduler_claim in its own transaction.';

CREATE FUNCTION invoiceflow.daemon_scheduler_claim(p_task_id bigint, p_notice text, p_now timestamptz)
RETURNS TABLE (task_id bigint, invoice_id bigint, notice text, step_key text, kind text, assignee_id bigint,
               acting_for_id bigint, created_at timestamptz, due_at timestamptz, route_step jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_task invoiceflow.task;
BEGIN
    SELECT * INTO v_task FROM invoiceflow.task AS t WHERE t.id = p_task_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- Invoice first, as the router's claim does, and never waiting: whoever holds the invoice (the router,
    -- a person deciding, another scheduler) wins; the notice is looked at again next round.
    PERFORM FROM invoiceflow.invoice AS i WHERE i.id = v_task.invoice_id FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO v_task FROM invoiceflow.task AS t WHERE t.id = p_task_id FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- Re-checked under the locks, with a snapshot taken after them: decided meanwhile, or sent by another replica.
    IF NOT invoiceflow_private.scheduler_notice_due(v_task, p_notice, p_now)
       OR EXISTS (SELECT FROM invoiceflow_private.task_notice AS n WHERE n.task_id = p_task_id AND n.notice = p_notice) THEN
        RETURN;
    END IF;
    task_id := v_task.id;
    invoice_id := v_task.invoice_id;
    notice := p_notice;
    step_key := v_task.step_key;
    kind := v_task.kind::text;
    assignee_id := v_task.assignee_id;
    acting_for_id := v_task.acting_for_id;
    created_at := v_task.created_at;
    due_at := v_task.due_at;
    route_step := invoiceflow_private.scheduler_route_step(v_task.invoice_id, v_task.step_key);
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_scheduler_claim(bigint, text, timestamptz) IS
    'Daemon only: claims one due notice for the rest of the caller''s transaction — invoice then task locked with SKIP '
    'LOCKED, the rule re-checked at p_now, not yet sent — and returns the task and its route step; no row when someone '
    'else holds it, it was decided, it was sent, or it is not due. Finish with daemon_scheduler_record before COMMIT.';

CREATE FUNCTION invoiceflow.daemon_scheduler_record(
    p_task_id bigint, p_notice text, p_now timestamptz, p_worker text, p_recipients bigint[],
    p_escalation_task_id bigint DEFAULT NULL, p_detail jsonb DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_task invoiceflow.task;
    v_after jsonb;
BEGIN
    SELECT * INTO v_task FROM invoiceflow.task AS t WHERE t.id = p_task_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task % does not exist', p_task_id USING ERRCODE = 'IF007';
    END IF;
    IF btrim(coalesce(p_worker, '')) = '' THEN
        PERFORM invoiceflow_private.invalid('p_worker', 'is required');
    END IF;
    IF p_now IS NULL THEN
        PERFORM invoiceflow_private.invalid('p_now', 'is required');
    END IF;
    IF p_escalation_task_id IS NOT NULL AND NOT EXISTS (
        SELECT FROM invoiceflow.task AS e
        WHERE e.id = p_escalation_task_id AND e.invoice_id = v_task.invoice_id AND e.step_key = v_task.step_key
          AND e.kind = v_task.kind AND e.id <> v_task.id) THEN
        PERFORM invoiceflow_private.invalid('p_escalation_task_id', 'must be another task of the same step of the invoice');
    END IF;
    BEGIN
        INSERT INTO invoiceflow_private.task_notice (task_id, notice, invoice_id, as_of, worker, recipients,
                                                     escalation_task_id)
        VALUES (p_task_id, p_notice, v_task.invoice_id, p_now, btrim(p_worker), coalesce(p_recipients, '{}'),
                p_escalation_task_id);
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'the % of task % was already sent', p_notice, p_task_id USING ERRCODE = 'IF006';
        WHEN check_violation THEN
            PERFORM invoiceflow_private.invalid(CASE WHEN SQLERRM LIKE '%notice_check%' THEN 'p_notice'
                                                     ELSE 'p_escalation_task_id' END, SQLERRM);
    END;
    v_after := coalesce(p_detail, '{}') || jsonb_build_object(
        'step', v_task.step_key, 'task_id', v_task.id, 'kind', v_task.kind, 'assignee_id', v_task.assignee_id,
        'acting_for_id', v_task.acting_for_id, 'due_at', v_task.due_at, 'as_of', p_now,
        'notified', to_jsonb(coalesce(p_recipients, '{}')));
    -- Escalations and overdue documents are state the reports and the timeline show; a reminder or the
    -- payment-day mail changes nothing (the outbox row is its record).
    IF p_notice = 'escalation' THEN
        PERFORM invoiceflow_private.audit(v_task.invoice_id, 'invoice', v_task.invoice_id, 'route_escalated', NULL,
            v_after || jsonb_build_object('escalation_task_id', p_escalation_task_id),
            format('step %s overdue since %s: a timeout never rejects; the task stays open', v_task.step_key,
                   v_task.due_at));
    ELSIF p_notice IN ('documents_overdue', 'documents_overdue_head') THEN
        PERFORM invoiceflow_private.audit(v_task.invoice_id, 'task', v_task.id, 'documents_overdue', NULL,
            v_after || jsonb_build_object('level', CASE p_notice WHEN 'documents_overdue' THEN 'collector' ELSE 'head' END),
            format('closing documents due %s', v_task.due_at));
    END IF;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_scheduler_record(bigint, text, timestamptz, text, bigint[], bigint, jsonb) IS
    'Daemon only, in the claiming transaction: records that a notice was sent (IF006 if it already was) with whom it '
    'mailed and, for an escalated approval, the head''s parallel task; writes one audit row route_escalated (escalation) '
    'or documents_overdue (either overdue notice). Reminders and the payment-day mail write no audit row.';

-- Deciding either side of an escalation closes the other: the head acted for the late holder, or the late
-- holder acted after all. Without this the router would wait for the other task of an all-in-parallel step.
CREATE FUNCTION invoiceflow_private.scheduler_close_escalation_family() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_other invoiceflow.task;
BEGIN
    FOR v_other IN
        WITH RECURSIVE family (id) AS (
            SELECT NEW.id
            UNION
            SELECT CASE WHEN n.task_id = f.id THEN n.escalation_task_id ELSE n.task_id END
            FROM family AS f
            JOIN invoiceflow_private.task_notice AS n
              ON n.escalation_task_id IS NOT NULL AND (n.task_id = f.id OR n.escalation_task_id = f.id))
        SELECT t.* FROM invoiceflow.task AS t JOIN family AS f ON f.id = t.id
        WHERE t.id <> NEW.id AND t.outcome IS NULL
        ORDER BY t.id
        FOR UPDATE OF t
    LOOP
        UPDATE invoiceflow.task AS t
        SET outcome = 'cancelled', decided_at = pg_catalog.now(),
            comment = format('closed: task %s of the same escalation was %s', NEW.id, NEW.outcome)
        WHERE t.id = v_other.id;
        PERFORM invoiceflow_private.audit(v_other.invoice_id, 'task', v_other.id, 'cancel_task',
            jsonb_build_object('outcome', NULL),
            jsonb_build_object('outcome', 'cancelled', 'step_key', v_other.step_key, 'escalation_of', NEW.id),
            format('closed: task %s of the same escalation was %s', NEW.id, NEW.outcome));
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION invoiceflow_private.scheduler_close_escalation_family() IS
    'Trigger: when a task that is part of an SLA escalation (the late task, the head''s parallel task, further up) is '
    'decided, cancels the others still open, with an audit row each.';
CREATE TRIGGER task_close_escalation_family AFTER UPDATE OF outcome ON invoiceflow.task
    FOR EACH ROW
    WHEN (OLD.outcome IS NULL AND NEW.outcome IN ('approved', 'approved_with_remarks', 'rejected', 'done'))
    EXECUTE FUNCTION invoiceflow_private.scheduler_close_escalation_family();

REVOKE ALL ON FUNCTION invoiceflow_private.moscow_time(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow_private.scheduler_route_step(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow_private.scheduler_notice_due(invoiceflow.task, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow_private.scheduler_close_escalation_family() FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow.daemon_scheduler_due(timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow.daemon_scheduler_claim(bigint, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION invoiceflow.daemon_scheduler_record(bigint, text, timestamptz, text, bigint[], bigint, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoiceflow.daemon_scheduler_due(timestamptz, integer),
    invoiceflow.daemon_scheduler_claim(bigint, text, timestamptz),
    invoiceflow.daemon_scheduler_record(bigint, text, timestamptz, text, bigint[], bigint, jsonb)
    TO invoiceflow_daemon;

RESET ROLE;
