import Foundation
import InvoiceDomain
import InvoiceStore
import PostgresClient

/// One due notice of the scheduler, claimed in the current transaction: who gets told what about
/// which task, and how that is written (mail through the outbox, escalation task, record, audit row).
struct SchedulerNotice: Sendable {
    /// What the notice is (the `notice` column of `invoiceflow_private.task_notice`).
    enum Kind: String, Sendable {
        case reminder
        case escalation
        case paymentDue = "payment_due"
        case documentsOverdue = "documents_overdue"
        case documentsOverdueHead = "documents_overdue_head"
    }

    /// A candidate from `daemon_scheduler_due`.
    struct Key: Sendable, Hashable {
        var taskID: Int64
        var notice: String
    }

    var kind: Kind
    var taskID: Int64
    var invoiceID: Int64
    var stepKey: String
    var assignee: EmployeeID
    var actingFor: EmployeeID?
    var dueAt: Date
    var asOf: Date

    /// The late (or reminded) task's position holder: whoever the assignee acts for, else the assignee.
    var holder: EmployeeID { actingFor ?? assignee }

    /// The employees a mail about this task names: the assignee and whom they act for.
    var people: [Int64] { [assignee.rawValue] + (actingFor.map { [$0.rawValue] } ?? []) }

    /// Claims `key` for the rest of the transaction; nil when it is not claimable now.
    static func claim(_ key: Key, asOf: Date, on c: isolated PostgresConnection) throws -> SchedulerNotice? {
        guard let kind = Kind(rawValue: key.notice) else { return nil }
        guard
            let row = try c.query(
                """
                SELECT task_id, invoice_id, step_key, assignee_id, acting_for_id, due_at
                FROM invoiceflow.daemon_scheduler_claim(\(key.taskID), \(key.notice), \(asOf))
                """
            ).first
        else { return nil }
        return SchedulerNotice(
            kind: kind, taskID: try row.decode("task_id"), invoiceID: try row.decode("invoice_id"),
            stepKey: try row.decode("step_key"), assignee: EmployeeID(try row.decode("assignee_id")),
            actingFor: try row.decode("acting_for_id", as: Int64?.self).map(EmployeeID.init),
            dueAt: try row.decode("due_at"), asOf: asOf)
    }

    /// Writes everything the notice causes, in the claiming transaction: the mail(s), for an escalated
    /// approval the head's parallel task, and the record with its audit row.
    static func deliver(
        _ notice: SchedulerNotice, worker: String, composer: MailComposer, calendar: WorkingCalendar,
        on c: isolated PostgresConnection
    ) throws {
        var notified: [EmployeeID] = []
        var escalationTask: Int64?
        var detail: [String: String] = [:]
        switch notice.kind {
        case .reminder, .paymentDue, .documentsOverdue:
            let kind: MailKind =
                notice.kind == .reminder ? .reminder : notice.kind == .paymentDue ? .paymentDue : .documentsOverdue
            let people = try MailOutbox.recipients(notice.people, on: c)
            if try mail(
                kind, to: notice.assignee, about: notice, actingFor: notice.actingFor, people: people,
                composer: composer, on: c)
            {
                notified.append(notice.assignee)
            }
        case .escalation, .documentsOverdueHead:
            let state = try RoutingStore.state(of: notice.invoiceID, on: c)
            let snapshotJSON =
                try c.query("SELECT invoiceflow.daemon_org_snapshot(\(notice.asOf))").first?.text(0) ?? "{}"
            let snapshot = try JSONDecoder().decode(OrgSnapshot.self, from: Data(snapshotJSON.utf8))
            let step = state.route?.steps.first { $0.id == notice.stepKey }
            let stepKind = step?.kind ?? (notice.kind == .escalation ? .approve : .collectClosingDocuments)
            let selector = step?.participants.first?.selector ?? .headOfInitiatorDepartment
            // The company structure as of the round's moment: whoever heads the late holder's department then
            // (a deputy's own head may be the absent holder, whose deputy is the late person again).
            let head = ApproverResolver(snapshot: snapshot, facts: state.facts)
                .escalation(forOverdue: notice.holder, selector: selector, kind: stepKind)
            guard let head, head.actor != notice.assignee else {
                detail["nobody"] = "no head up the department tree can take over"
                break
            }
            detail["explanation"] = head.explanation
            if notice.kind == .escalation, stepKind == .approve, head.actor != notice.holder,
                !state.tasks.contains(where: { $0.isOpen && $0.stepKey == notice.stepKey && $0.assignee == head.actor })
            {
                // The head may decide for the late holder; deciding either task closes the other (0055's trigger).
                let stored = try RoutingStore.workingCalendar(adjusting: calendar, on: c)
                let start = Instant(microsecondsSinceEpoch: Int64(notice.asOf.timeIntervalSince1970 * 1_000_000))
                let due = step?.dueInstant(startedAt: start, calendar: stored)
                let dueSeconds = due.map { Double($0.microsecondsSinceEpoch) / 1_000_000 }
                escalationTask = try c.query(
                    """
                    SELECT invoiceflow.daemon_create_task(\(notice.invoiceID), \(notice.stepKey), 'approve',
                        \(head.actor.rawValue), \(notice.holder.rawValue), to_timestamp(\(dueSeconds)))
                    """)[0].decode(0)
            }
            let kind: MailKind = notice.kind == .escalation ? .escalation : .documentsOverdue
            let people = try MailOutbox.recipients(notice.people + [head.actor.rawValue], on: c)
            if try mail(
                kind, to: head.actor, about: notice, taskID: escalationTask ?? notice.taskID, actor: notice.assignee,
                actingFor: escalationTask == nil ? nil : notice.holder, people: people, composer: composer, on: c)
            {
                notified.append(head.actor)
            }
        }
        let detailJSON = String(decoding: try JSONEncoder().encode(detail), as: UTF8.self)
        try c.execute(
            """
            SELECT invoiceflow.daemon_scheduler_record(\(notice.taskID), \(notice.kind.rawValue), \(notice.asOf),
                \(worker), \(notified.map(\.rawValue)), \(escalationTask), \(detailJSON)::jsonb)
            """)
    }

    /// Renders and enqueues one mail; false when the recipient has left (no address to write to).
    /// The Message-ID is derived from the task and the notice, so a retried transaction stores it once.
    /// `actor` is the late assignee an escalation names, `actingFor` whom the recipient acts for;
    /// `people` holds the names and addresses of everyone involved.
    private static func mail(
        _ kind: MailKind, to recipientID: EmployeeID, about notice: SchedulerNotice, taskID: Int64? = nil,
        actor: EmployeeID? = nil, actingFor: EmployeeID?, people: [MailRecipient], composer: MailComposer,
        on c: isolated PostgresConnection
    ) throws -> Bool {
        guard let recipient = people.first(where: { $0.employeeID == recipientID.rawValue }) else { return false }
        let name = { (id: EmployeeID?) in id.flatMap { id in people.first { $0.employeeID == id.rawValue }?.name } }
        let notification = MailNotification(
            kind: kind, recipient: recipient, invoice: try MailOutbox.invoiceFacts(notice.invoiceID, on: c),
            taskID: taskID ?? notice.taskID, dueAt: notice.dueAt, actingFor: name(actingFor), actor: name(actor),
            deduplicationKey: "task-\(notice.taskID).\(notice.kind.rawValue.replacingOccurrences(of: "_", with: "-"))")
        let rendered = try composer.message(for: notification).render()
        try MailOutbox.enqueue(rendered, for: notification, on: c)
        return true
    }
}
