import Foundation
import InvoiceDaemon
import InvoiceDomain
import PostgresClient

/// What the confirmation page must know about a link's task before it shows anything.
struct TaskLinkState: Sendable, Hashable {
    var invoiceID: Int64
    var kind: String
    var assigneeID: Int64
    var outcome: String?
    var decidedAt: Date?
    var decidedBy: String?
    var decidedFor: String?
    /// The invoice content changed since the task was created.
    var stale: Bool
    var stage: String
}

/// The invoice card as one employee may see it: facts, attachments, timeline, who holds it.
struct InvoiceCard: Sendable {
    struct Fact: Sendable {
        var label: PageText.Key
        var value: String
    }

    struct Attachment: Sendable {
        var fileName: String
        var mediaType: String
        var sizeBytes: Int64
        var uploadedBy: String
        var uploadedAt: Date
    }

    struct Event: Sendable {
        var at: Date
        var actor: String
        var actingFor: String?
        /// The audit action code, such as `approve` or `route_step_started`.
        var action: String
        /// Its wording from `action_label` (the code itself when the database has none).
        var label: String
        var comment: String?
        var channel: String
        /// Written by the daemon on its own (routing), not by a person.
        var automatic: Bool
    }

    var id: Int64
    var number: String
    /// The amount as the reader writes it, for the heading.
    var amount: String
    var stage: String
    var stageSince: Date
    var waitingFor: String?
    var initiatorID: Int64
    var facts: [Fact]
    var attachments: [Attachment]
    var timeline: [Event]
}

/// A colleague the task can be delegated to.
struct Colleague: Sendable, Hashable {
    var id: Int64
    var name: String
}

/// The SQL behind the pages. Every read of invoice data runs as the link's recipient
/// (`invoiceflow.acting_employee` on the daemon's login), so row-level security shows them exactly what
/// they would see in their own session; only the link's task state comes from a daemon function.
struct ActionLinkStore: Sendable {
    var pool: PostgresPool

    func state(task: Int64) async throws -> TaskLinkState? {
        try await pool.withConnection { c in
            try c.query("SELECT * FROM invoiceflow.daemon_action_link_state(\(task))").first.map { row in
                TaskLinkState(
                    invoiceID: try row.decode("invoice_id"), kind: try row.decode("kind"),
                    assigneeID: try row.decode("assignee_id"), outcome: try row.decode("outcome"),
                    decidedAt: try row.decode("decided_at"), decidedBy: try row.decode("decided_by_name"),
                    decidedFor: try row.decode("decided_for_name"), stale: try row.decode("stale"),
                    stage: try row.decode("stage"))
            }
        }
    }

    /// The card of `invoice` as `employee` sees it, in `locale`; nil when they may not see it.
    func card(invoice: Int64, as employee: Int64, locale: MailLocale) async throws -> InvoiceCard? {
        try await pool.transaction(retry: .never) { c in
            try c.execute("SET TRANSACTION READ ONLY")
            try c.execute("SELECT set_config('invoiceflow.acting_employee', \(String(employee)), true)")
            guard
                let row = try c.query(
                    """
                    SELECT id, invoice_type, invoice_type_name, stage::text AS stage, paying_subdivision_name,
                           receiver_name, receiver_inn, initiator_id, initiator_name, initiator_department,
                           supplier_invoice_number, to_char(supplier_invoice_date, 'DD.MM.YYYY') AS invoice_date,
                           amount_minor, vat_minor, currency, paid_minor, purpose,
                           to_char(due_date, 'DD.MM.YYYY') AS due, prepayment, prepayment_percent, urgent,
                           outside_budget, goods_received, confidential, created_at, submitted_at, stage_changed_at,
                           waiting_for,
                           (SELECT coalesce(c.settlement_account, s.settlement_account) || ', БИК '
                                   || coalesce(c.bik, s.bik)
                            FROM (SELECT) AS one
                            LEFT JOIN invoiceflow.counterparty AS c ON c.id = card.counterparty_id
                            LEFT JOIN invoiceflow.subdivision AS s ON s.id = card.receiving_subdivision_id
                           ) AS receiver_account
                    FROM invoiceflow.invoice_card AS card WHERE card.id = \(invoice)
                    """
                ).first
            else { return nil }
            let currency: String = try row.decode("currency")
            func money(_ column: String) throws -> String {
                let minor: Int64 = try row.decode(column)
                guard let code = CurrencyCodeText(currency) else { return "\(minor) \(currency)" }
                return code.format(minor, locale: locale)
            }
            let yes = PageText.text(.yes, locale)
            let no = PageText.text(.no, locale)
            var facts: [InvoiceCard.Fact] = [
                .init(label: .number, value: try row.decode("supplier_invoice_number")),
                .init(label: .invoiceDate, value: try row.decode("invoice_date")),
                .init(label: .type, value: try row.decode("invoice_type_name")),
                .init(label: .receiver, value: try row.decode("receiver_name")),
                .init(label: .receiverINN, value: try row.decode("receiver_inn")),
                .init(label: .receiverAccount, value: try row.decode("receiver_account", as: String?.self) ?? "—"),
                .init(label: .payer, value: try row.decode("paying_subdivision_name")),
                .init(label: .amount, value: try money("amount_minor")),
                .init(label: .vat, value: try money("vat_minor")),
                .init(label: .paid, value: try money("paid_minor")),
                .init(label: .purpose, value: try row.decode("purpose")),
            ]
            let initiator: String = try row.decode("initiator_name")
            let department: String? = try row.decode("initiator_department")
            facts.append(.init(label: .initiator, value: department.map { "\(initiator) (\($0))" } ?? initiator))
            if let due: String = try row.decode("due") { facts.append(.init(label: .dueDate, value: due)) }
            if try row.decode("prepayment", as: Bool.self) {
                let percent: Int16? = try row.decode("prepayment_percent")
                facts.append(.init(label: .prepayment, value: percent.map { "\($0) %" } ?? yes))
            }
            for (column, label) in [
                ("urgent", PageText.Key.urgent), ("outside_budget", .outsideBudget),
                ("goods_received", .goodsReceived), ("confidential", .confidential),
            ] {
                facts.append(.init(label: label, value: try row.decode(column, as: Bool.self) ? yes : no))
            }
            let attachments = try c.query(
                """
                SELECT a.file_name, a.media_type, a.size_bytes, e.full_name, a.uploaded_at
                FROM invoiceflow.attachment AS a JOIN invoiceflow.employee AS e ON e.id = a.uploaded_by
                WHERE a.invoice_id = \(invoice) ORDER BY a.id
                """
            ).map { a in
                InvoiceCard.Attachment(
                    fileName: try a.decode(0), mediaType: try a.decode(1), sizeBytes: try a.decode(2),
                    uploadedBy: try a.decode(3), uploadedAt: try a.decode(4))
            }
            let timeline = try c.query(
                """
                SELECT t.occurred_at, t.actor_name, t.acting_for_name,
                       invoiceflow_private.action_label(t.action, \(locale.rawValue)) AS label, t.comment, t.channel,
                       t.action, a.actor_employee_id IS NULL AS automatic
                FROM invoiceflow.invoice_timeline AS t JOIN invoiceflow.audit_log AS a ON a.id = t.audit_id
                WHERE t.invoice_id = \(invoice) ORDER BY t.step
                """
            ).map { e in
                InvoiceCard.Event(
                    at: try e.decode(0), actor: try e.decode(1), actingFor: try e.decode(2), action: try e.decode(6),
                    label: try e.decode(3), comment: try e.decode(4), channel: try e.decode(5),
                    automatic: try e.decode(7))
            }
            return InvoiceCard(
                id: try row.decode("id"), number: try row.decode("supplier_invoice_number"),
                amount: try money("amount_minor"),
                stage: try row.decode("stage"), stageSince: try row.decode("stage_changed_at"),
                waitingFor: try row.decode("waiting_for"), initiatorID: try row.decode("initiator_id"), facts: facts,
                attachments: attachments, timeline: timeline)
        }
    }

    /// People the recipient may hand the task to: active colleagues of the paying subdivision, not the
    /// recipient, the task's holder or the initiator (the command refuses those anyway).
    func colleagues(task: Int64, as employee: Int64) async throws -> [Colleague] {
        try await pool.transaction(retry: .never) { c in
            try c.execute("SET TRANSACTION READ ONLY")
            try c.execute("SELECT set_config('invoiceflow.acting_employee', \(String(employee)), true)")
            return try c.query(
                """
                SELECT DISTINCT e.id, e.full_name
                FROM invoiceflow.task AS t
                JOIN invoiceflow.invoice AS i ON i.id = t.invoice_id
                JOIN invoiceflow.assignment AS a ON a.subdivision_id = i.paying_subdivision_id AND a.valid @> now()
                JOIN invoiceflow.employee AS e ON e.id = a.employee_id AND e.active
                WHERE t.id = \(task) AND e.id <> \(employee) AND e.id <> t.assignee_id AND e.id <> i.initiator_id
                ORDER BY e.full_name, e.id
                """
            ).map { Colleague(id: try $0.decode(0), name: try $0.decode(1)) }
        }
    }

    /// What the recipient asked for on the form.
    enum Decision: Sendable, Hashable {
        case approve
        case approveWithRemarks(comment: String)
        case reject(comment: String)
        case delegate(to: Int64, comment: String)

        var action: String {
            switch self {
            case .approve: "approve"
            case .approveWithRemarks: "approve_with_remarks"
            case .reject: "reject"
            case .delegate: "delegate"
            }
        }

        var comment: String? {
            switch self {
            case .approve: nil
            case .approveWithRemarks(let comment), .reject(let comment), .delegate(_, let comment): comment
            }
        }

        var delegateTo: Int64? {
            if case .delegate(let to, _) = self { return to }
            return nil
        }
    }

    /// Redeems the link: marks it used, decides as the recipient with channel email_link, one transaction.
    ///
    /// - Throws: ``PostgresError`` with the command's IF code (IF006 replay or stale, IF005, IF002, ...).
    func act(tokenID: String, token: ActionToken, decision: Decision) async throws {
        try await pool.transaction(retry: .never) { c in
            _ = try c.query(
                """
                SELECT invoiceflow.daemon_act_on_link(
                    p_token_id => \(tokenID), p_task_id => \(token.taskID), p_employee_id => \(token.recipientID),
                    p_expires_at => \(token.expiresAt), p_action => \(decision.action),
                    p_comment => \(decision.comment), p_delegate_to => \(decision.delegateTo))
                """)
        }
    }
}

/// Money formatting for the card through the mail's formatter (one wording of amounts everywhere).
struct CurrencyCodeText {
    var code: CurrencyCode

    init?(_ text: String) {
        guard let code = CurrencyCode(text) else { return nil }
        self.code = code
    }

    func format(_ minor: Int64, locale: MailLocale) -> String {
        MailFormat.money(Money(minorUnits: minor, currency: code), locale: locale)
    }
}
