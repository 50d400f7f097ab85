import Foundation
import InvoiceDomain
import PostgresClient
import SMTP

/// The SQL of the mail outbox (migration 0040): enqueue, claim, record. Every call runs on a
/// connection the caller holds, so enqueueing joins the caller's transaction (the routing step that
/// decided the mail) and claims are committed before any network I/O.
public enum MailOutbox {
    /// The NOTIFY channel the enqueue function signals, with `{"mail_id": N}`.
    public static let channel = "invoiceflow_mail"

    /// Stores the rendered `message` for `notification`'s recipient; idempotent on the Message-ID.
    /// Returns the outbox id.
    @discardableResult
    public static func enqueue(
        _ message: RenderedMessage, for notification: MailNotification, maximumAge: Duration = .seconds(48 * 3600),
        sendAfter: Date? = nil, on connection: isolated PostgresConnection
    ) throws -> Int64 {
        guard let recipient = message.envelope.recipients.first, message.envelope.recipients.count == 1 else {
            // One recipient per row, so one SMTP outcome per row.
            throw MessageError.noRecipients
        }
        let invoiceID = notification.invoice?.id
        let rows = try connection.query(
            """
            SELECT invoiceflow.daemon_enqueue_mail(
                p_message_id => \(message.messageID.value), p_kind => \(notification.kind.rawValue),
                p_sender => \(message.envelope.sender.description), p_recipient => \(recipient.description),
                p_content => \(Data(message.bytes)), p_recipient_employee_id => \(notification.recipient.employeeID),
                p_invoice_id => \(invoiceID), p_task_id => \(notification.taskID),
                p_only_while_task_open => \(notification.kind.onlyWhileTaskOpen && notification.taskID != nil),
                p_max_age => make_interval(secs => \(maximumAge.mailSeconds)),
                p_send_after => \(sendAfter)) AS id
            """)
        return try rows[0].decode("id", as: Int64.self)
    }

    /// One claimed message, leased to this mailer.
    public struct ClaimedMail: Sendable {
        /// The outbox row.
        public var id: Int64
        /// Attempts so far, this one included.
        public var attempt: Int
        /// The stored message, byte for byte.
        public var message: RenderedMessage
    }

    /// Leases up to `limit` due messages to `worker` and commits, so the lease holds while sending.
    /// Returns nothing while the queue is paused.
    static func claim(worker: String, limit: Int, lease: Duration, on connection: isolated PostgresConnection) throws
        -> [ClaimedMail]
    {
        let rows = try connection.query(
            """
            SELECT mail_id, message_id, sender, recipient, content, attempts
            FROM invoiceflow.daemon_claim_mail(\(worker), \(limit)::integer, make_interval(secs => \(lease.mailSeconds)))
            """)
        return try rows.map { row in
            let sender = try EmailAddress(try row.decode("sender", as: String.self))
            let recipient = try EmailAddress(try row.decode("recipient", as: String.self))
            let message = RenderedMessage(
                messageID: try MessageID(try row.decode("message_id", as: String.self)),
                envelope: Envelope(sender: sender, recipients: [recipient]),
                bytes: Array(try row.decode("content", as: Data.self)))
            return ClaimedMail(
                id: try row.decode("mail_id", as: Int64.self), attempt: try row.decode("attempts", as: Int.self),
                message: message)
        }
    }

    /// What the outbox did with a recorded attempt.
    enum RecordedState: String, Sendable {
        case sent, dead, pending, paused
        /// Another mailer holds the message now (our lease expired).
        case leaseLost = "lease_lost"
    }

    /// Records one attempt with the relay's reply and moves the message on.
    static func record(
        _ outcome: DeliveryOutcome, of mailID: Int64, worker: String, retryAfter: Duration,
        on connection: isolated PostgresConnection
    ) throws -> RecordedState {
        let kind: String
        switch outcome.kind {
        case .sent: kind = "sent"
        case .transient: kind = "transient"
        case .permanent: kind = "permanent"
        case .configuration: kind = "configuration"
        case .unknownAfterFinalDot: kind = "unknown_after_final_dot"
        }
        let rows = try connection.query(
            """
            SELECT invoiceflow.daemon_record_mail_attempt(
                \(mailID), \(worker), \(kind), \(outcome.phase.rawValue), \(outcome.replyCode)::integer,
                \(outcome.enhancedStatus), \(outcome.reply?.text), \(outcome.detail),
                make_interval(secs => \(retryAfter.mailSeconds))) AS state
            """)
        let state = try rows[0].decode("state", as: String.self)
        return RecordedState(rawValue: state) ?? .pending
    }

    /// The queue's state for operators (`invoiceflow mail status`) and the mailer's start-up log.
    public struct Status: Sendable, Hashable {
        /// Why the queue is paused, if it is.
        public var pausedReason: String?
        /// Messages not yet sent, dead or cancelled.
        public var pending: Int
        /// Of those, the ones due now.
        public var due: Int
        /// Dead-lettered messages.
        public var dead: Int
        /// Delivered messages.
        public var sent: Int
    }

    /// Reads the queue's state.
    public static func status(on connection: isolated PostgresConnection) throws -> Status {
        let row = try connection.query(
            "SELECT paused_reason, pending, due, dead, sent FROM invoiceflow.mail_queue_status()")[0]
        return Status(
            pausedReason: try row.decode("paused_reason", as: String?.self), pending: try row.decode("pending"),
            due: try row.decode("due"), dead: try row.decode("dead"), sent: try row.decode("sent"))
    }

    /// Why the queue is paused, or nil: the check an idle mailer makes after every empty claim, so it reads
    /// the one row that says so (``status(on:)`` counts the whole sent history; `daemon_queue_metrics()`
    /// computes every figure of `/metrics`, 2-6 ms under load).
    static func pausedReason(on connection: isolated PostgresConnection) throws -> String? {
        let row = try connection.query("SELECT paused, reason FROM invoiceflow.daemon_mail_paused()")[0]
        guard try row.decode("paused", as: Bool.self) else { return nil }
        return try row.decode("reason", as: String?.self) ?? "paused"
    }

    /// Resumes a paused queue (audited); false when it was not paused.
    public static func resume(comment: String?, on connection: isolated PostgresConnection) throws -> Bool {
        try connection.query("SELECT invoiceflow.resume_mail_queue(\(comment)) AS resumed")[0].decode("resumed")
    }
}

extension Duration {
    /// Whole and fractional seconds, for `make_interval(secs => ...)`.
    var mailSeconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}

extension MailOutbox {
    /// The active employees among `ids` as mail recipients, dates shown in `timeZone` (employees have
    /// no zone of their own yet). People who have left are not returned.
    public static func recipients(
        _ ids: [Int64], timeZone: TimeZone = TimeZone(identifier: "Europe/Moscow") ?? .gmt,
        on connection: isolated PostgresConnection
    ) throws -> [MailRecipient] {
        try connection.query(
            "SELECT employee_id, full_name, email, locale FROM invoiceflow.daemon_mail_recipients(\(ids))"
        ).map { row in
            MailRecipient(
                employeeID: try row.decode("employee_id"), name: try row.decode("full_name"),
                address: try row.decode("email"),
                locale: MailLocale(stored: try row.decode("locale", as: String?.self)),
                timeZone: timeZone)
        }
    }

    /// The card's key facts of an invoice, as a mail shows them; nil when there is no such invoice.
    public static func invoiceFacts(_ invoiceID: Int64, on connection: isolated PostgresConnection) throws
        -> MailInvoiceFacts?
    {
        guard
            let row = try connection.query(
                """
                SELECT invoice_id, number, counterparty, amount_minor, currency, purpose, initiator, paying_subdivision
                FROM invoiceflow.daemon_invoice_mail_facts(\(invoiceID))
                """
            ).first
        else { return nil }
        let code: String = try row.decode("currency")
        guard let currency = CurrencyCode(code) else {
            throw PostgresDecodingError(reason: "unknown currency \(code)")
        }
        return MailInvoiceFacts(
            id: try row.decode("invoice_id"), number: try row.decode("number"),
            counterparty: try row.decode("counterparty"),
            amount: Money(minorUnits: try row.decode("amount_minor"), currency: currency),
            purpose: try row.decode("purpose"), initiator: try row.decode("initiator"),
            payingSubdivision: try row.decode("paying_subdivision"))
    }
}
