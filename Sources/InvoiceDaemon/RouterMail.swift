import Foundation
import InvoiceDomain
import InvoiceStore
import PostgresClient
import SMTP

/// The mails a routing step sends: one per new task, to its assignee, rendered and stored in the outbox
/// in the routing transaction itself, so a mail exists exactly when its task does. The Message-ID is
/// `task-<id>@<sender domain>`, so a step that runs again after a crash before COMMIT (same decision,
/// new task ids) leaves nothing behind from the first run, and a re-sent row keeps its id.
public struct RouterMail: Sendable {
    /// Renders the messages (sender, links, templates).
    public var composer: MailComposer
    /// The zone dates are shown in (employees have none of their own yet).
    public var timeZone: TimeZone

    /// Creates the router's mail writer.
    public init(composer: MailComposer, timeZone: TimeZone = TimeZone(identifier: "Europe/Moscow") ?? .gmt) {
        self.composer = composer
        self.timeZone = timeZone
    }

    /// The notification for each created task whose assignee can receive mail: "task assigned" for
    /// approving and paying, the closing-documents request for a collector. A substitute's mail names
    /// the colleague they act for.
    func notifications(for created: [(id: Int64, task: NewTask)], applied: AppliedRouting) throws
        -> [MailNotification]
    {
        guard let facts = applied.invoice else { return [] }
        guard let currency = CurrencyCode(facts.currency) else {
            throw PostgresDecodingError(reason: "unknown currency \(facts.currency)")
        }
        let invoice = MailInvoiceFacts(
            id: facts.invoiceID, number: facts.number, counterparty: facts.counterparty,
            amount: Money(minorUnits: facts.amountMinor, currency: currency), purpose: facts.purpose,
            initiator: facts.initiator, payingSubdivision: facts.payingSubdivision)
        let people = Dictionary((applied.recipients ?? []).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return created.compactMap { id, task in
            // Someone who left gets no mail; the scheduler's escalation finds their task.
            guard let person = people[task.assignee.rawValue] else { return nil }
            let recipient = MailRecipient(
                employeeID: person.id, name: person.name, address: person.email,
                locale: MailLocale(stored: person.locale), timeZone: timeZone)
            let collecting = task.kind == .collectDocuments
            return MailNotification(
                kind: collecting ? .documentsRequested : .taskAssigned, recipient: recipient, invoice: invoice,
                taskID: id,
                dueAt: task.dueAt.map { Date(timeIntervalSince1970: Double($0.microsecondsSinceEpoch) / 1_000_000) },
                actingFor: task.actingFor.flatMap { people[$0.rawValue]?.name },
                // The request to a collector is that task's first mail too: same Message-ID rule.
                deduplicationKey: collecting ? "task-\(id)" : nil)
        }
    }

    /// Renders `notifications` as the JSON array `daemon_finish_step` stores (base64 bodies).
    func rows(_ notifications: [MailNotification]) throws -> String {
        // Written by hand: JSONSerialization of these rows (base64 bodies) was the router's costliest step.
        var rows: [String] = []
        for notification in notifications {
            let rendered = try composer.message(for: notification).render()
            guard let recipient = rendered.envelope.recipients.first else { throw MessageError.noRecipients }
            var row =
                #"{"messageID":\#(JSONText.quoted(rendered.messageID.value)),"#
                + #""kind":\#(JSONText.quoted(notification.kind.rawValue)),"#
                + #""sender":\#(JSONText.quoted(rendered.envelope.sender.description)),"#
                + #""recipient":\#(JSONText.quoted(recipient.description)),"#
                + #""content":"\#(Data(rendered.bytes).base64EncodedString())""#
            if let employee = notification.recipient.employeeID { row += #","employee":\#(employee)"# }
            if let invoice = notification.invoice?.id { row += #","invoice":\#(invoice)"# }
            if let task = notification.taskID { row += #","task":\#(task)"# }
            rows.append(row + "}")
        }
        return "[" + rows.joined(separator: ",") + "]"
    }

    /// Ends a routing step begun with ``RoutingStore/routeStep(_:invoiceID:workItem:on:)``: renders
    /// `notifications`, stores them in the outbox and then writes the step's audit rows, in one statement
    /// on the caller's transaction (the outbox's NOTIFY wakes the mailer once it commits). Called even with
    /// no notification: the audit rows are written here.
    func finishStep(_ notifications: [MailNotification], on connection: isolated PostgresConnection) throws {
        let json = try rows(notifications)
        try connection.execute("SELECT invoiceflow.daemon_finish_step(\(json)::jsonb)")
    }
}
