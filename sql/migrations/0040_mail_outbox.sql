-- 0040_mail_outbox: the mail outbox — every notification as final RFC 5322 bytes with a stable
-- Message-ID, stored once when the daemon renders it (in the same transaction as the routing step that
-- caused it), then delivered at least once by the mailer.
--
-- Lifecycle of a message: pending → (claimed under a lease by one mailer) → sent | dead | cancelled, or
-- back to pending with a later next_attempt_at after a transient failure. Every attempt and the relay's
-- reply is kept in mail_attempt. A configuration fault (bad credentials, a certificate that does not
-- verify) pauses the whole queue: nothing is claimed until resume_mail_queue(), and the attempt that met
-- the fault does not count against the message. A message tied to a task with only_while_task_open (a
-- reminder) is cancelled instead of sent once the task has been decided.
--
-- Only the daemon touches the outbox (daemon_* functions); administrators see the queue state and
-- resume it. People have no access at all: the bytes hold invoice facts of other people's invoices.

SET LOCAL ROLE invoiceflow_owner;

CREATE TYPE invoiceflow.mail_state AS ENUM ('pending', 'sent', 'dead', 'cancelled');
COMMENT ON TYPE invoiceflow.mail_state IS
    'pending = to be sent (possibly leased by a mailer right now); sent = the relay accepted it; dead = refused for '
    'good (5xx) or gave up after the maximum age; cancelled = no longer relevant (its task was decided).';

CREATE TABLE invoiceflow_private.mail_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT mail_outbox_pkey PRIMARY KEY,
    message_id text NOT NULL CONSTRAINT mail_outbox_message_id_key UNIQUE
        CONSTRAINT mail_outbox_message_id_format CHECK (message_id ~ '^[!-;=?-~]+@[!-;=?-~]+$'),
    kind text NOT NULL CONSTRAINT mail_outbox_kind_check CHECK (kind IN (
        'task_assigned', 'reminder', 'escalation', 'approved', 'rejected', 'returned', 'payment_due', 'paid',
        'documents_requested', 'documents_overdue', 'digest', 'test')),
    sender text NOT NULL CONSTRAINT mail_outbox_sender_format CHECK (sender ~ '^[^@\s<>]+@[^@\s<>]+$'),
    recipient text NOT NULL CONSTRAINT mail_outbox_recipient_format CHECK (recipient ~ '^[^@\s<>]+@[^@\s<>]+$'),
    recipient_employee_id bigint CONSTRAINT mail_outbox_recipient_employee_fkey REFERENCES invoiceflow.employee (id),
    invoice_id bigint CONSTRAINT mail_outbox_invoice_fkey REFERENCES invoiceflow.invoice (id),
    task_id bigint CONSTRAINT mail_outbox_task_fkey REFERENCES invoiceflow.task (id),
    only_while_task_open boolean NOT NULL DEFAULT false,
    content bytea NOT NULL CONSTRAINT mail_outbox_content_not_empty CHECK (octet_length(content) > 0),
    state invoiceflow.mail_state NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0 CONSTRAINT mail_outbox_attempts_not_negative CHECK (attempts >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    give_up_at timestamptz NOT NULL,
    locked_until timestamptz,
    locked_by text,
    finished_at timestamptz,
    last_error text,
    CONSTRAINT mail_outbox_finished_when_final CHECK ((state = 'pending') = (finished_at IS NULL)),
    CONSTRAINT mail_outbox_task_needed CHECK (NOT only_while_task_open OR task_id IS NOT NULL),
    CONSTRAINT mail_outbox_give_up_after_creation CHECK (give_up_at > created_at)
);
COMMENT ON TABLE invoiceflow_private.mail_outbox IS
    'Mail to send: the rendered message (final bytes, stable Message-ID) and its delivery state. Filled by the daemon '
    'in the transaction that decided the mail; drained by mailers with leases (FOR UPDATE SKIP LOCKED); never deleted.';
COMMENT ON COLUMN invoiceflow_private.mail_outbox.message_id IS
    'The Message-ID header without angle brackets; unique, so enqueueing the same message twice stores it once.';
COMMENT ON COLUMN invoiceflow_private.mail_outbox.kind IS 'Which template produced it (task_assigned, reminder, ...).';
COMMENT ON COLUMN invoiceflow_private.mail_outbox.sender IS 'Envelope sender (MAIL FROM).';
COMMENT ON COLUMN invoiceflow_private.mail_outbox.recipient IS 'Envelope recipient (RCPT TO): one per message, so one outcome per row.';
COMMENT ON COLUMN invoiceflow_private.mail_outbox.only_while_task_open IS
    'Send only while task_id is undecided (reminders, escalations): a decided task cancels the message.';
COMMENT ON COLUMN invoiceflow_private.mail_outbox.content IS
    'The complete RFC 5322 message (CRLF line ends, 7-bit), rendered once; every retry sends exactly these bytes.';
COMMENT ON COLUMN invoiceflow_private.mail_outbox.attempts IS
    'Delivery attempts that counted (an attempt stopped by a configuration fault does not count).';
COMMENT ON COLUMN invoiceflow_private.mail_outbox.next_attempt_at IS 'Not claimable before this time (back-off).';
COMMENT ON COLUMN invoiceflow_private.mail_outbox.give_up_at IS
    'Maximum age: a transient failure after this time dead-letters the message instead of retrying.';
COMMENT ON COLUMN invoiceflow_private.mail_outbox.locked_until IS
    'Lease of the mailer sending it now; longer than the final-dot timeout. An expired lease makes it claimable again.';
COMMENT ON COLUMN invoiceflow_private.mail_outbox.last_error IS 'The latest failure, as the relay or the client reported it.';
CREATE INDEX mail_outbox_due_idx ON invoiceflow_private.mail_outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX mail_outbox_invoice_idx ON invoiceflow_private.mail_outbox (invoice_id) WHERE invoice_id IS NOT NULL;
CREATE INDEX mail_outbox_task_idx ON invoiceflow_private.mail_outbox (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX mail_outbox_recipient_employee_idx ON invoiceflow_private.mail_outbox (recipient_employee_id)
    WHERE recipient_employee_id IS NOT NULL;

CREATE TABLE invoiceflow_private.mail_attempt (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT mail_attempt_pkey PRIMARY KEY,
    mail_id bigint NOT NULL CONSTRAINT mail_attempt_mail_fkey REFERENCES invoiceflow_private.mail_outbox (id),
    attempted_at timestamptz NOT NULL DEFAULT now(),
    worker text NOT NULL,
    outcome text NOT NULL CONSTRAINT mail_attempt_outcome_check CHECK (outcome IN
        ('sent', 'transient', 'permanent', 'configuration', 'unknown_after_final_dot', 'cancelled')),
    phase text,
    reply_code integer CONSTRAINT mail_attempt_reply_code_range CHECK (reply_code BETWEEN 200 AND 599),
    enhanced_status text,
    reply text,
    detail text
);
COMMENT ON TABLE invoiceflow_private.mail_attempt IS
    'Every delivery attempt of every outbox message with the relay''s reply: the evidence of what happened to a mail.';
COMMENT ON COLUMN invoiceflow_private.mail_attempt.outcome IS
    'sent, transient (4xx, network), permanent (5xx), configuration (queue paused), unknown_after_final_dot '
    '(retried with the same Message-ID), cancelled (task decided before sending).';
COMMENT ON COLUMN invoiceflow_private.mail_attempt.phase IS 'SMTP phase the attempt ended in (connect, tls, recipient, finalDot, ...).';
COMMENT ON COLUMN invoiceflow_private.mail_attempt.enhanced_status IS 'RFC 3463 enhanced status code, e.g. 5.1.1.';
COMMENT ON COLUMN invoiceflow_private.mail_attempt.reply IS 'The text of the relay''s reply.';
CREATE INDEX mail_attempt_mail_idx ON invoiceflow_private.mail_attempt (mail_id, id);

CREATE TABLE invoiceflow_private.mail_queue (
    singleton boolean NOT NULL DEFAULT true CONSTRAINT mail_queue_pkey PRIMARY KEY
        CONSTRAINT mail_queue_singleton CHECK (singleton),
    paused_at timestamptz,
    paused_reason text,
    CONSTRAINT mail_queue_reason_when_paused CHECK ((paused_at IS NULL) = (paused_reason IS NULL))
);
COMMENT ON TABLE invoiceflow_private.mail_queue IS
    'One row: whether the whole outbox is paused after a configuration fault (messages kept, nothing claimed).';
COMMENT ON COLUMN invoiceflow_private.mail_queue.paused_reason IS 'The fault that paused the queue, e.g. 535 authentication failed.';
INSERT INTO invoiceflow_private.mail_queue DEFAULT VALUES;

DO $$
DECLARE
    t regclass;
BEGIN
    FOREACH t IN ARRAY ARRAY['invoiceflow_private.mail_outbox', 'invoiceflow_private.mail_attempt',
                             'invoiceflow_private.mail_queue']::regclass[] LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC', t);
        EXECUTE format('CREATE POLICY owner_all ON %s AS PERMISSIVE FOR ALL TO invoiceflow_owner USING (true) '
                       'WITH CHECK (true)', t);
        EXECUTE format('COMMENT ON POLICY owner_all ON %s IS %L', t,
            'The owner (NOLOGIN; used only by migrations and definer functions) reads and writes every row: FORCE RLS '
            'would otherwise deny it. Nobody else reads the outbox directly.');
    END LOOP;
END
$$;

-- Enqueue ---------------------------------------------------------------------------------------------

CREATE FUNCTION invoiceflow.daemon_enqueue_mail(
    p_message_id text, p_kind text, p_sender text, p_recipient text, p_content bytea,
    p_recipient_employee_id bigint DEFAULT NULL, p_invoice_id bigint DEFAULT NULL, p_task_id bigint DEFAULT NULL,
    p_only_while_task_open boolean DEFAULT false, p_max_age interval DEFAULT '48 hours',
    p_send_after timestamptz DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_max_age IS NULL OR p_max_age OPERATOR(pg_catalog.<=) interval '0' THEN
        PERFORM invoiceflow_private.invalid('p_max_age', 'must be a positive interval');
    END IF;
    IF p_content IS NULL OR pg_catalog.octet_length(p_content) OPERATOR(pg_catalog.=) 0 THEN
        PERFORM invoiceflow_private.invalid('p_content', 'the rendered message is empty');
    END IF;
    INSERT INTO invoiceflow_private.mail_outbox AS o (message_id, kind, sender, recipient, content,
        recipient_employee_id, invoice_id, task_id, only_while_task_open, next_attempt_at, give_up_at)
    VALUES (p_message_id, p_kind, p_sender, p_recipient, p_content, p_recipient_employee_id, p_invoice_id, p_task_id,
        coalesce(p_only_while_task_open, false), coalesce(p_send_after, pg_catalog.now()),
        coalesce(p_send_after, pg_catalog.now()) OPERATOR(pg_catalog.+) p_max_age)
    ON CONFLICT ON CONSTRAINT mail_outbox_message_id_key DO NOTHING
    RETURNING o.id INTO v_id;
    IF v_id IS NULL THEN
        -- The same message again (a retried routing step): stored once, same id.
        SELECT o.id INTO v_id FROM invoiceflow_private.mail_outbox AS o
        WHERE o.message_id OPERATOR(pg_catalog.=) p_message_id;
        RETURN v_id;
    END IF;
    -- Ids only: the payload is readable by anyone who can LISTEN.
    PERFORM pg_catalog.pg_notify('invoiceflow_mail', pg_catalog.json_build_object('mail_id', v_id)::text);
    RETURN v_id;
EXCEPTION
    WHEN check_violation THEN
        PERFORM invoiceflow_private.invalid('p_' || CASE
            WHEN SQLERRM LIKE '%message_id%' THEN 'message_id' WHEN SQLERRM LIKE '%kind%' THEN 'kind'
            WHEN SQLERRM LIKE '%sender%' THEN 'sender' WHEN SQLERRM LIKE '%recipient%' THEN 'recipient'
            WHEN SQLERRM LIKE '%task_needed%' THEN 'task_id' ELSE 'content' END, SQLERRM);
        RETURN NULL;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_enqueue_mail(text, text, text, text, bytea, bigint, bigint, bigint, boolean,
    interval, timestamptz) IS
    'Daemon only: stores a rendered message (idempotent on p_message_id) and sends NOTIFY invoiceflow_mail '
    '{"mail_id": N}. Call it in the transaction that decided the mail, so the mail exists exactly when the decision does.';

-- Claim -----------------------------------------------------------------------------------------------

CREATE FUNCTION invoiceflow.daemon_claim_mail(p_worker text, p_limit integer DEFAULT 10,
                                              p_lease interval DEFAULT '15 minutes')
RETURNS TABLE (mail_id bigint, message_id text, sender text, recipient text, content bytea, attempts integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM invoiceflow_private.mail_queue AS q WHERE q.paused_at IS NOT NULL) THEN
        RETURN;
    END IF;
    -- Reminders for tasks decided meanwhile are not sent: cancel them first (in the same snapshot the
    -- claim uses, so a decision committed before this claim always wins).
    WITH stale AS (
        SELECT o.id FROM invoiceflow_private.mail_outbox AS o
        JOIN invoiceflow.task AS t ON t.id OPERATOR(pg_catalog.=) o.task_id
        WHERE o.state OPERATOR(pg_catalog.=) 'pending' AND o.only_while_task_open AND t.outcome IS NOT NULL
          AND o.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()
          AND (o.locked_until IS NULL OR o.locked_until OPERATOR(pg_catalog.<) pg_catalog.now())
        FOR UPDATE OF o SKIP LOCKED),
    cancelled AS (
        UPDATE invoiceflow_private.mail_outbox AS o
        SET state = 'cancelled', finished_at = pg_catalog.now(), last_error = 'the task was decided before sending',
            locked_until = NULL, locked_by = NULL
        FROM stale WHERE o.id OPERATOR(pg_catalog.=) stale.id
        RETURNING o.id)
    INSERT INTO invoiceflow_private.mail_attempt (mail_id, worker, outcome, detail)
    SELECT c.id, p_worker, 'cancelled', 'the task was decided before sending' FROM cancelled AS c;

    RETURN QUERY
    WITH claimable AS (
        SELECT o.id FROM invoiceflow_private.mail_outbox AS o
        WHERE o.state OPERATOR(pg_catalog.=) 'pending' AND o.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()
          AND (o.locked_until IS NULL OR o.locked_until OPERATOR(pg_catalog.<) pg_catalog.now())
        ORDER BY o.next_attempt_at, o.id
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED)
    UPDATE invoiceflow_private.mail_outbox AS o
    SET locked_by = p_worker, locked_until = pg_catalog.now() OPERATOR(pg_catalog.+) p_lease,
        attempts = o.attempts OPERATOR(pg_catalog.+) 1
    FROM claimable WHERE o.id OPERATOR(pg_catalog.=) claimable.id
    RETURNING o.id, o.message_id, o.sender, o.recipient, o.content, o.attempts;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_claim_mail(text, integer, interval) IS
    'Daemon only: leases up to p_limit due messages to p_worker (FOR UPDATE SKIP LOCKED), counting the attempt; '
    'cancels due reminders whose task was decided; returns nothing while the queue is paused. Commit before sending.';

-- Record ----------------------------------------------------------------------------------------------

CREATE FUNCTION invoiceflow.daemon_record_mail_attempt(
    p_mail_id bigint, p_worker text, p_outcome text, p_phase text DEFAULT NULL, p_reply_code integer DEFAULT NULL,
    p_enhanced_status text DEFAULT NULL, p_reply text DEFAULT NULL, p_detail text DEFAULT NULL,
    p_retry_after interval DEFAULT '1 minute'
) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_mail invoiceflow_private.mail_outbox;
    v_error text := pg_catalog.concat_ws(' ', p_reply_code::text, p_enhanced_status, p_reply,
        CASE WHEN p_detail IS NOT NULL THEN '(' OPERATOR(pg_catalog.||) p_detail OPERATOR(pg_catalog.||) ')' END);
    v_state text;
BEGIN
    IF p_outcome IS NULL OR p_outcome NOT IN ('sent', 'transient', 'permanent', 'configuration', 'unknown_after_final_dot') THEN
        PERFORM invoiceflow_private.invalid('p_outcome',
            'must be sent, transient, permanent, configuration or unknown_after_final_dot');
    END IF;
    SELECT * INTO v_mail FROM invoiceflow_private.mail_outbox AS o WHERE o.id OPERATOR(pg_catalog.=) p_mail_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no outbox message %', p_mail_id USING ERRCODE = 'IF007';
    END IF;
    INSERT INTO invoiceflow_private.mail_attempt (mail_id, worker, outcome, phase, reply_code, enhanced_status, reply, detail)
    VALUES (p_mail_id, p_worker, p_outcome, p_phase, p_reply_code, p_enhanced_status, p_reply, p_detail);
    -- Only the lease holder moves the state: after an expired lease another mailer owns the message.
    IF v_mail.state OPERATOR(pg_catalog.<>) 'pending' OR v_mail.locked_by IS DISTINCT FROM p_worker THEN
        RETURN 'lease_lost';
    END IF;
    IF p_outcome OPERATOR(pg_catalog.=) 'sent' THEN
        v_state := 'sent';
    ELSIF p_outcome OPERATOR(pg_catalog.=) 'permanent' THEN
        v_state := 'dead';
    ELSIF p_outcome OPERATOR(pg_catalog.=) 'configuration' THEN
        v_state := 'paused';
    ELSIF pg_catalog.now() OPERATOR(pg_catalog.+) p_retry_after OPERATOR(pg_catalog.>) v_mail.give_up_at THEN
        v_state := 'dead';
        v_error := 'gave up after ' OPERATOR(pg_catalog.||) v_mail.attempts::text OPERATOR(pg_catalog.||)
            ' attempts: ' OPERATOR(pg_catalog.||) v_error;
    ELSE
        v_state := 'pending';
    END IF;

    IF v_state OPERATOR(pg_catalog.=) 'paused' THEN
        -- A fault of the setup, not of this message: keep it, give the attempt back, stop the queue.
        UPDATE invoiceflow_private.mail_outbox AS o
        SET attempts = o.attempts OPERATOR(pg_catalog.-) 1, next_attempt_at = pg_catalog.now(), last_error = v_error,
            locked_until = NULL, locked_by = NULL
        WHERE o.id OPERATOR(pg_catalog.=) p_mail_id;
        UPDATE invoiceflow_private.mail_queue AS q SET paused_at = pg_catalog.now(), paused_reason = v_error
        WHERE q.paused_at IS NULL;
        IF FOUND THEN
            PERFORM invoiceflow_private.audit(NULL, 'mail_queue', NULL, 'pause', NULL,
                pg_catalog.jsonb_build_object('reason', v_error));
        END IF;
    ELSE
        UPDATE invoiceflow_private.mail_outbox AS o
        SET state = v_state::invoiceflow.mail_state,
            finished_at = CASE WHEN v_state OPERATOR(pg_catalog.=) 'pending' THEN NULL ELSE pg_catalog.now() END,
            next_attempt_at = CASE WHEN v_state OPERATOR(pg_catalog.=) 'pending'
                THEN pg_catalog.now() OPERATOR(pg_catalog.+) p_retry_after ELSE o.next_attempt_at END,
            last_error = CASE WHEN v_state OPERATOR(pg_catalog.=) 'sent' THEN o.last_error ELSE v_error END,
            locked_until = NULL, locked_by = NULL
        WHERE o.id OPERATOR(pg_catalog.=) p_mail_id;
    END IF;
    RETURN v_state;
END
$$;
COMMENT ON FUNCTION invoiceflow.daemon_record_mail_attempt(bigint, text, text, text, integer, text, text, text, interval) IS
    'Daemon only: records one attempt and the relay''s reply, then moves the message: sent; permanent → dead; '
    'transient or unknown_after_final_dot → retry after p_retry_after, or dead past give_up_at; configuration → the '
    'message stays pending (attempt not counted) and the queue pauses. Returns sent, dead, pending, paused or lease_lost.';

-- Queue state -----------------------------------------------------------------------------------------

CREATE FUNCTION invoiceflow.mail_queue_status()
RETURNS TABLE (paused_at timestamptz, paused_reason text, pending bigint, due bigint, dead bigint, sent bigint,
               oldest_pending_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT q.paused_at, q.paused_reason,
        (SELECT pg_catalog.count(*) FROM invoiceflow_private.mail_outbox AS o WHERE o.state OPERATOR(pg_catalog.=) 'pending'),
        (SELECT pg_catalog.count(*) FROM invoiceflow_private.mail_outbox AS o
         WHERE o.state OPERATOR(pg_catalog.=) 'pending' AND o.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()),
        (SELECT pg_catalog.count(*) FROM invoiceflow_private.mail_outbox AS o WHERE o.state OPERATOR(pg_catalog.=) 'dead'),
        (SELECT pg_catalog.count(*) FROM invoiceflow_private.mail_outbox AS o WHERE o.state OPERATOR(pg_catalog.=) 'sent'),
        (SELECT pg_catalog.min(o.created_at) FROM invoiceflow_private.mail_outbox AS o
         WHERE o.state OPERATOR(pg_catalog.=) 'pending')
    FROM invoiceflow_private.mail_queue AS q
$$;
COMMENT ON FUNCTION invoiceflow.mail_queue_status() IS
    'Daemon and administrators: whether the outbox is paused and why, and counts of pending, due, dead and sent '
    'messages (no message content).';

CREATE FUNCTION invoiceflow.resume_mail_queue(p_comment text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_reason text;
BEGIN
    SELECT q.paused_reason INTO v_reason FROM invoiceflow_private.mail_queue AS q WHERE q.paused_at IS NOT NULL FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE invoiceflow_private.mail_queue AS q SET paused_at = NULL, paused_reason = NULL;
    PERFORM invoiceflow_private.audit(NULL, 'mail_queue', NULL, 'resume',
        pg_catalog.jsonb_build_object('reason', v_reason), NULL, NULLIF(pg_catalog.btrim(p_comment), ''));
    -- Wake the mailers: the kept messages are due at once.
    PERFORM pg_catalog.pg_notify('invoiceflow_mail', '{"resumed": true}');
    RETURN true;
END
$$;
COMMENT ON FUNCTION invoiceflow.resume_mail_queue(text) IS
    'Administrators and the daemon: resumes a paused outbox after the configuration was fixed (audited); returns false '
    'when it was not paused.';

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
             WHERE p.pronamespace = 'invoiceflow'::regnamespace
               AND p.proname IN ('daemon_enqueue_mail', 'daemon_claim_mail', 'daemon_record_mail_attempt',
                                 'mail_queue_status', 'resume_mail_queue')
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO invoiceflow_daemon', f);
    END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION invoiceflow.mail_queue_status(), invoiceflow.resume_mail_queue(text) TO invoiceflow_admin;

RESET ROLE;
