import Foundation
import InvoiceDomain
import Mustache
import SMTP

/// Turns a ``MailNotification`` into final message bytes: subject, plain text and HTML from the
/// compiled mustache templates in the recipient's language, dates in the recipient's time zone, a
/// Message-ID that retries keep. Rendering happens once, at enqueue; the outbox stores the result.
public struct MailComposer: Sendable {
    /// The From of every mail (`INVOICEFLOW_MAIL_FROM`).
    public var sender: Mailbox
    /// The base URL of the daemon's pages, for links (`INVOICEFLOW_PUBLIC_URL`).
    public var publicURL: String
    /// Signs the links of task mails (`/a/<token>`, the confirmation page); nil leaves them unsigned
    /// (`/tasks/<id>`), as in tools that only preview mails.
    public var actionLinks: ActionLinks?

    private let compiled: [Key: Compiled]
    private let textLayout: MustacheTemplate
    private let htmlLayout: MustacheTemplate
    private let digestLines: [MailLocale: (text: MustacheTemplate, html: MustacheTemplate)]

    private struct Key: Hashable {
        var kind: MailKind
        var locale: MailLocale
    }

    private struct Compiled: Sendable {
        var subject: MustacheTemplate
        var leadText: MustacheTemplate
        var leadHTML: MustacheTemplate
        var action: String
    }

    /// Compiles every template; throws only if a template in the binary is broken (the tests render
    /// them all).
    public init(sender: Mailbox, publicURL: String, actionLinks: ActionLinks? = nil) throws {
        self.sender = sender
        self.actionLinks = actionLinks
        var base = publicURL
        while base.hasSuffix("/") { base.removeLast() }
        self.publicURL = base
        let text = "{{% CONTENT_TYPE: TEXT}}"
        var compiled: [Key: Compiled] = [:]
        var lines: [MailLocale: (text: MustacheTemplate, html: MustacheTemplate)] = [:]
        for locale in MailLocale.allCases {
            for kind in MailKind.allCases {
                let pieces = MailTemplateText.pieces(kind, locale)
                compiled[Key(kind: kind, locale: locale)] = Compiled(
                    subject: try MustacheTemplate(string: text + pieces.subject),
                    leadText: try MustacheTemplate(string: text + pieces.lead),
                    leadHTML: try MustacheTemplate(string: pieces.lead), action: pieces.action)
            }
            let line = MailTemplateText.digestLine(locale)
            lines[locale] = (try MustacheTemplate(string: text + line), try MustacheTemplate(string: line))
        }
        self.compiled = compiled
        digestLines = lines
        textLayout = try MustacheTemplate(string: MailTemplateText.textLayout)
        htmlLayout = try MustacheTemplate(string: MailTemplateText.htmlLayout)
    }

    /// The parts of a mail, before MIME: what tests and the `.eml` reader look at.
    public struct Content: Sendable, Hashable {
        /// The subject line.
        public var subject: String
        /// The text/plain body.
        public var text: String
        /// The text/html body.
        public var html: String
    }

    /// Renders the subject and both bodies.
    public func content(of notification: MailNotification) -> Content {
        let locale = notification.recipient.locale
        let templates = compiled[Key(kind: notification.kind, locale: locale)]!
        let values = variables(notification)
        let labels = MailTemplateText.labels(locale)
        // A subject is one line whatever a counterparty's name holds.
        let subject = templates.subject.render(values).map { $0.isNewline || $0 == "\t" ? " " : $0 }
        var facts: [[String: String]] = []
        if let invoice = notification.invoice {
            facts.append(["label": labels["number"]!, "value": invoice.number])
            facts.append(["label": labels["counterparty"]!, "value": invoice.counterparty])
            facts.append(["label": labels["amount"]!, "value": MailFormat.money(invoice.amount, locale: locale)])
            facts.append(["label": labels["purpose"]!, "value": invoice.purpose])
            facts.append(["label": labels["initiator"]!, "value": invoice.initiator])
            facts.append(["label": labels["payer"]!, "value": invoice.payingSubdivision])
        }
        if let due = values["due"] as? String { facts.append(["label": labels["due"]!, "value": due]) }
        if let actingFor = notification.actingFor {
            facts.append(["label": labels["acting_for"]!, "value": actingFor])
        }

        var context: [String: Any] = [
            "lang": locale.rawValue, "subject": String(subject),
            "greeting": labels["greeting"]!.replacingOccurrences(of: "%@", with: notification.recipient.name),
            "comment_label": labels["comment"]!, "facts": facts, "has_facts": !facts.isEmpty,
            "action_label": templates.action, "link": link(for: notification), "footer": labels["footer"]!,
        ]
        if let comment = notification.comment, !comment.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            context["comment"] = comment
        }
        let lines = digestLines[locale]!
        let itemValues = notification.digest.map {
            digestVariables($0, locale: locale, zone: notification.recipient.timeZone)
        }
        context["has_items"] = !itemValues.isEmpty

        var textContext = context
        textContext["lead"] = templates.leadText.render(values)
        textContext["items"] = itemValues.map { ["line": lines.text.render($0)] }
        var htmlContext = context
        htmlContext["lead"] = templates.leadHTML.render(values)
        htmlContext["items"] = itemValues.map { ["line": lines.html.render($0)] }
        return Content(
            subject: String(subject), text: textLayout.render(textContext), html: htmlLayout.render(htmlContext))
    }

    /// Builds the message with its final Message-ID and Date.
    public func message(for notification: MailNotification, date: Date = Date()) throws(MessageError) -> MailMessage {
        let content = content(of: notification)
        let domain = sender.address.domain
        let messageID: MessageID
        if let key = notification.deduplicationKey {
            messageID = try MessageID("\(key)@\(domain)")
        } else if let task = notification.taskID, notification.kind == .taskAssigned {
            // The root of the task's thread, and one message even if the routing step runs twice.
            messageID = try MessageID("task-\(task)@\(domain)")
        } else {
            messageID = try MessageID.random(domain: domain)
        }
        // Every mail about one task threads under the (deterministic) id of its first mail.
        var thread: MessageID?
        if let task = notification.taskID, notification.kind != .taskAssigned {
            let root = try MessageID("task-\(task)@\(domain)")
            // A task's first mail may be of another kind (a collector's request): the root, not a reply.
            if root != messageID { thread = root }
        }
        let recipient = try Mailbox(displayName: notification.recipient.name, address: notification.recipient.address)
        return MailMessage(
            from: sender, to: [recipient], subject: content.subject, textBody: content.text, htmlBody: content.html,
            messageID: messageID, date: date, inReplyTo: thread, references: thread.map { [$0] } ?? [])
    }

    /// The link the mail points to: for a task, the signed link of its confirmation page, made for this
    /// recipient and expiring after the configured lifetime, opening in the language the mail is written
    /// in (the recipient's stored one, `?lang=`); else the invoice's card.
    public func link(for notification: MailNotification, now: Date = Date()) -> String {
        if notification.kind == .digest { return "\(publicURL)/tasks" }
        if let task = notification.taskID, Self.taskKinds.contains(notification.kind) {
            if let actionLinks, let recipient = notification.recipient.employeeID {
                return actionLinks.link(task: task, recipient: recipient, now: now) + "?lang="
                    + notification.recipient.locale.rawValue
            }
            return "\(publicURL)/tasks/\(task)"
        }
        if let invoice = notification.invoice { return "\(publicURL)/invoices/\(invoice.id)" }
        return publicURL
    }

    private static let taskKinds: Set<MailKind> = [
        .taskAssigned, .reminder, .escalation, .paymentDue, .documentsRequested, .documentsOverdue,
    ]

    private func variables(_ notification: MailNotification) -> [String: Any] {
        let locale = notification.recipient.locale
        var values: [String: Any] = [:]
        if let invoice = notification.invoice {
            values["number"] = invoice.number
            values["counterparty"] = invoice.counterparty
            values["amount"] = MailFormat.money(invoice.amount, locale: locale)
            values["purpose"] = invoice.purpose
            values["initiator"] = invoice.initiator
            values["payer"] = invoice.payingSubdivision
        }
        if let due = notification.dueAt {
            values["due"] = MailFormat.moment(due, in: notification.recipient.timeZone, locale: locale)
        }
        if let actor = notification.actor { values["actor"] = actor }
        if let actingFor = notification.actingFor { values["acting_for"] = actingFor }
        if notification.kind == .digest {
            values["open_tasks"] = MailTemplateText.openTasks(notification.digest.count, locale)
            let overdue = notification.digest.filter(\.overdue).count
            if overdue > 0 { values["overdue_count"] = String(overdue) }
        }
        return values
    }

    private func digestVariables(_ item: MailDigestItem, locale: MailLocale, zone: TimeZone) -> [String: Any] {
        var values: [String: Any] = [
            "number": item.invoice.number, "counterparty": item.invoice.counterparty,
            "amount": MailFormat.money(item.invoice.amount, locale: locale), "overdue": item.overdue,
        ]
        if let due = item.dueAt { values["due"] = MailFormat.moment(due, in: zone, locale: locale) }
        return values
    }
}
