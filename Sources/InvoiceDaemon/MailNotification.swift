import Foundation
import InvoiceDomain

/// Why a mail goes out; each kind has its own template in both languages.
public enum MailKind: String, Sendable, Hashable, CaseIterable {
    /// A task was assigned: act on it.
    case taskAssigned = "task_assigned"
    /// A task is still open as its due time nears or passes.
    case reminder
    /// An overdue task was escalated to the recipient.
    case escalation
    /// The initiator's invoice was approved.
    case approved
    /// The initiator's invoice was rejected.
    case rejected
    /// The initiator's invoice was returned for rework.
    case returned
    /// The payer must pay an approved invoice.
    case paymentDue = "payment_due"
    /// The initiator's invoice was paid.
    case paid
    /// The collector must obtain the closing documents.
    case documentsRequested = "documents_requested"
    /// The closing documents are overdue.
    case documentsOverdue = "documents_overdue"
    /// A summary of the recipient's open tasks.
    case digest

    /// Kinds that lose their point once their task is decided: the outbox cancels them unsent.
    public var onlyWhileTaskOpen: Bool {
        switch self {
        case .reminder, .escalation, .documentsOverdue: return true
        default: return false
        }
    }
}

/// Who receives a mail, and how they read it.
public struct MailRecipient: Sendable, Hashable {
    /// The employee, when the recipient is one.
    public var employeeID: Int64?
    /// The name shown in the To header and the greeting.
    public var name: String
    /// The mailbox.
    public var address: String
    /// The language of the mail.
    public var locale: MailLocale
    /// The zone dates are shown in.
    public var timeZone: TimeZone

    /// Creates a recipient; dates default to Moscow time.
    public init(
        employeeID: Int64? = nil, name: String, address: String, locale: MailLocale = .ru,
        timeZone: TimeZone = TimeZone(identifier: "Europe/Moscow") ?? .gmt
    ) {
        self.employeeID = employeeID
        self.name = name
        self.address = address
        self.locale = locale
        self.timeZone = timeZone
    }
}

/// The card's key facts, as a mail shows them.
public struct MailInvoiceFacts: Sendable, Hashable {
    /// The invoice's id in InvoiceFlow.
    public var id: Int64
    /// The supplier's invoice number.
    public var number: String
    /// Who is to be paid.
    public var counterparty: String
    /// How much.
    public var amount: Money
    /// What for.
    public var purpose: String
    /// Who registered it.
    public var initiator: String
    /// The subdivision that pays.
    public var payingSubdivision: String

    /// Creates the facts.
    public init(
        id: Int64, number: String, counterparty: String, amount: Money, purpose: String, initiator: String,
        payingSubdivision: String
    ) {
        self.id = id
        self.number = number
        self.counterparty = counterparty
        self.amount = amount
        self.purpose = purpose
        self.initiator = initiator
        self.payingSubdivision = payingSubdivision
    }
}

/// One line of a digest: an open task.
public struct MailDigestItem: Sendable, Hashable {
    /// The invoice the task is on.
    public var invoice: MailInvoiceFacts
    /// When the task is due, if it has a deadline.
    public var dueAt: Date?
    /// Whether it is past due.
    public var overdue: Bool

    /// Creates a line.
    public init(invoice: MailInvoiceFacts, dueAt: Date?, overdue: Bool) {
        self.invoice = invoice
        self.dueAt = dueAt
        self.overdue = overdue
    }
}

/// Everything one mail says, before it is rendered.
public struct MailNotification: Sendable, Hashable {
    /// Which template.
    public var kind: MailKind
    /// Who gets it.
    public var recipient: MailRecipient
    /// The invoice it is about (every kind but the digest).
    public var invoice: MailInvoiceFacts?
    /// The task it is about, if any: reminders are cancelled once it is decided, and mails on one task
    /// thread together.
    public var taskID: Int64?
    /// When the task or the documents are due.
    public var dueAt: Date?
    /// The absent colleague the recipient acts for, as a substitute.
    public var actingFor: String?
    /// Who did what the mail reports (approved, rejected, escalated from).
    public var actor: String?
    /// The decision's comment (rejection, return for rework, remarks).
    public var comment: String?
    /// The open tasks of a digest.
    public var digest: [MailDigestItem]
    /// A key that makes the Message-ID deterministic (`task-17.assigned`), so a retried routing step
    /// enqueues the same message once; random when absent.
    public var deduplicationKey: String?

    /// Creates a notification.
    public init(
        kind: MailKind, recipient: MailRecipient, invoice: MailInvoiceFacts? = nil, taskID: Int64? = nil,
        dueAt: Date? = nil, actingFor: String? = nil, actor: String? = nil, comment: String? = nil,
        digest: [MailDigestItem] = [], deduplicationKey: String? = nil
    ) {
        self.kind = kind
        self.recipient = recipient
        self.invoice = invoice
        self.taskID = taskID
        self.dueAt = dueAt
        self.actingFor = actingFor
        self.actor = actor
        self.comment = comment
        self.digest = digest
        self.deduplicationKey = deduplicationKey
    }
}
