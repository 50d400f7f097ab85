import Foundation
import InvoiceDomain
import InvoiceStore
import InvoiceTestSupport
import PostgresClient
import SMTP
import Testing

@testable import InvoiceDaemon

extension RouterTestCompany {
    /// The composer the mail tests render with: a fixed sender domain, so Message-IDs are predictable.
    static func testComposer() throws -> MailComposer {
        try MailComposer(
            sender: try Mailbox(displayName: "InvoiceFlow", address: "noreply@invoiceflow.test"),
            publicURL: "https://invoiceflow.test")
    }

    /// A router that writes the new tasks' mails.
    func mailingRouter() throws -> RouterService {
        RouterService(
            configuration: daemonConfiguration, worker: "router-mail-test", logger: TestPostgres.silentLogger,
            mail: RouterMail(composer: try Self.testComposer()))
    }

    /// Routes everything claimable with a mail-writing router; returns how many items were routed.
    @discardableResult
    func routeWithMail() async throws -> Int {
        try await route(with: try mailingRouter())
    }

    struct OutboxRow: Sendable {
        var messageID: String
        var kind: String
        var recipient: String
        var taskID: Int64?
        var content: [UInt8]
    }

    func outbox(of invoice: Int64) async throws -> [OutboxRow] {
        try await admin.query(
            """
            SELECT message_id, kind, recipient, task_id, content FROM invoiceflow_private.mail_outbox
            WHERE invoice_id = \(invoice) ORDER BY id
            """
        ).map { row in
            OutboxRow(
                messageID: try row.decode("message_id"), kind: try row.decode("kind"),
                recipient: try row.decode("recipient"), taskID: try row.decode("task_id"),
                content: Array(try row.decode("content", as: Data.self)))
        }
    }

    /// The notification the router must have written for `task`, from what the database says about its
    /// assignee, the colleague they act for and the invoice.
    func expectedNotification(task: TaskRow, invoice: Int64, kind: MailKind, deduplicationKey: String? = nil)
        async throws -> MailNotification
    {
        let assignee = employee(task.assignee)
        let actingFor = task.actingFor.map { employee($0) }
        let (recipients, facts) = try await people.transaction { c in
            (
                try MailOutbox.recipients([assignee] + (actingFor.map { [$0] } ?? []), on: c),
                try MailOutbox.invoiceFacts(invoice, on: c)
            )
        }
        let due: Int64? = try await admin.query(
            "SELECT (extract(epoch FROM due_at) * 1000000)::bigint FROM invoiceflow.task WHERE id = \(task.id)"
        )[0].decode(0)
        return MailNotification(
            kind: kind, recipient: try #require(recipients.first { $0.employeeID == assignee }), invoice: facts,
            taskID: task.id, dueAt: due.map { Date(timeIntervalSince1970: Double($0) / 1_000_000) },
            actingFor: actingFor.flatMap { id in recipients.first { $0.employeeID == id }?.name },
            deduplicationKey: deduplicationKey)
    }

    /// The bytes the composer renders for `task`: what its outbox row must hold, Date aside.
    func expectedMessage(task: TaskRow, invoice: Int64, kind: MailKind, deduplicationKey: String? = nil) async throws
        -> [UInt8]
    {
        let notification = try await expectedNotification(
            task: task, invoice: invoice, kind: kind, deduplicationKey: deduplicationKey)
        return try Self.testComposer().message(for: notification).render().bytes
    }
}

/// A message's lines without its Date header, the one part that depends on when it was rendered.
func withoutDate(_ bytes: [UInt8]) -> [String] {
    String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.hasPrefix("Date:") }
}

@Suite("router: the new tasks' mails, written in the routing transaction")
struct RouterMailTests {
    @Test("each new task gets exactly one outbox row, to its assignee in their language, Message-ID task-<id>@…")
    func oneMailPerTask() async throws {
        try await withCompany { company in
            try await company.admin.execute(
                "UPDATE invoiceflow.employee SET locale = 'en' WHERE id = \(company.employee("boris"))")
            let invoice = try await company.submit(.init(type: "supplier_goods", initiator: "anna", roubles: 2_000_000))
            try await company.routeWithMail()
            let first = try #require(try await company.tasks(of: invoice).first)
            try await company.decide(first.id, as: "boris")
            try await company.routeWithMail()

            let tasks = try await company.tasks(of: invoice)
            #expect(tasks.map(\.assignee) == ["boris", "cfo"])
            let outbox = try await company.outbox(of: invoice)
            #expect(outbox.count == tasks.count, "\(outbox.map(\.messageID))")
            for task in tasks {
                let rows = outbox.filter { $0.taskID == task.id }
                #expect(rows.count == 1, "task \(task.id) of \(task.assignee)")
                guard let row = rows.first else { continue }
                #expect(row.messageID == "task-\(task.id)@invoiceflow.test")
                #expect(row.kind == "task_assigned")
                #expect(row.recipient.contains("\(task.assignee)@example.com"), "\(row.recipient)")
                let expected = try await company.expectedMessage(task: task, invoice: invoice, kind: .taskAssigned)
                #expect(withoutDate(row.content) == withoutDate(expected), "the stored bytes are the composer's")
            }
            // Boris reads English: his stored mail is the English rendering, which differs from the Russian one.
            let boris = try #require(outbox.first { $0.taskID == tasks[0].id })
            var russian = try await company.expectedNotification(task: tasks[0], invoice: invoice, kind: .taskAssigned)
            #expect(russian.recipient.locale == .en)
            russian.recipient.locale = .ru
            let asRussian = try RouterTestCompany.testComposer().message(for: russian).render().bytes
            #expect(withoutDate(boris.content) != withoutDate(asRussian))
        }
    }

    @Test("a step rolled back before COMMIT leaves no mail; routed again, each task's mail is stored once")
    func rollbackAndRetryDoNotDuplicate() async throws {
        try await withCompany { company in
            let invoice = try await company.submit(
                .init(type: "operating_expenses", initiator: "petr", roubles: 100_000))
            struct Crash: Error {}
            let router = try company.mailingRouter()
            let connection = try await PostgresConnection.connect(
                company.daemonConfiguration, logger: TestPostgres.silentLogger)
            let routes = router.defaultRoutes
            let mail = router.mail
            try await connection.transaction { try RoutingStore.installRoutes(routes, on: $0) }
            // The whole step, mails included, then a "crash" before COMMIT.
            await #expect(throws: Crash.self) {
                try await connection.transaction(retry: .never) { c in
                    while let claimed = try RoutingStore.next(worker: "doomed", knownVersion: nil, on: c) {
                        try RouterService.route(
                            claimed, calendar: .russia, cache: RoutingReferenceCache(), mail: mail, on: c)
                        if claimed.item.invoiceID == invoice, claimed.item.kind == "submitted" { throw Crash() }
                    }
                }
            }
            await connection.close()
            #expect(try await company.tasks(of: invoice).isEmpty)
            #expect(try await company.outbox(of: invoice).isEmpty)

            try await company.routeWithMail()
            let tasks = try await company.tasks(of: invoice)
            #expect(!tasks.isEmpty)
            var outbox = try await company.outbox(of: invoice)
            #expect(outbox.map(\.messageID).sorted() == tasks.map { "task-\($0.id)@invoiceflow.test" }.sorted())

            // The invoice routed once more (a stray work item): same state, no new task, no new mail.
            try await company.admin.execute(
                "INSERT INTO invoiceflow_private.work_item (invoice_id, kind) VALUES (\(invoice), 'test_again')")
            #expect(try await company.routeWithMail() == 1)
            #expect(try await company.tasks(of: invoice).count == tasks.count)
            outbox = try await company.outbox(of: invoice)
            #expect(outbox.count == tasks.count)
        }
    }

    @Test("a substitute's mail says for whom they act")
    func substituteMailNamesTheAbsent() async throws {
        try await withCompany { company in
            try await company.admin.execute(
                """
                INSERT INTO invoiceflow.substitution (absent_employee_id, deputy_employee_id, valid, reason)
                VALUES (\(company.employee("boris")), \(company.employee("gleb")),
                        tstzrange(now() - interval '1 day', now() + interval '7 days'), 'отпуск')
                """)
            let invoice = try await company.submit(.init(type: "supplier_goods", initiator: "anna", roubles: 2_000_000))
            try await company.routeWithMail()
            let task = try #require(try await company.tasks(of: invoice).first)
            #expect(task.assignee == "gleb" && task.actingFor == "boris", "\(task)")
            let row = try #require(try await company.outbox(of: invoice).first)
            #expect(row.recipient.contains("gleb@example.com"))
            let expected = try await company.expectedMessage(task: task, invoice: invoice, kind: .taskAssigned)
            #expect(withoutDate(row.content) == withoutDate(expected))
            // And the text the composer made for it names Boris as the one Gleb stands in for.
            let composer = try RouterTestCompany.testComposer()
            let text = composer.content(
                of: MailNotification(
                    kind: .taskAssigned, recipient: MailRecipient(name: "gleb", address: "gleb@example.com"),
                    taskID: task.id, actingFor: "boris")
            ).text
            #expect(text.contains("вы замещаете: boris"))
        }
    }

    @Test("the collector's request is its task's first mail: documents_requested, task-<id>@…, not a reply")
    func collectorRequest() async throws {
        try await withCompany { company in
            let invoice = try await company.submit(.init(type: "payroll", initiator: "payroll", roubles: 900_000))
            try await company.routeWithMail()
            while let open = try await company.tasks(of: invoice, openOnly: true).first(where: { $0.kind == "approve" })
            {
                try await company.decide(open.id, as: open.assignee)
                try await company.routeWithMail()
            }
            let pay = try #require(try await company.tasks(of: invoice, openOnly: true).first)
            #expect(pay.kind == "pay")
            try await company.pay(invoice, as: pay.assignee)
            try await company.routeWithMail()
            let collect = try #require(
                try await company.tasks(of: invoice, openOnly: true).first { $0.kind == "collect_documents" })
            let row = try #require(try await company.outbox(of: invoice).first { $0.taskID == collect.id })
            #expect(row.kind == "documents_requested")
            #expect(row.messageID == "task-\(collect.id)@invoiceflow.test")
            let lines = withoutDate(row.content)
            #expect(!lines.contains { $0.hasPrefix("In-Reply-To:") }, "a thread's root replies to nothing")
            let expected = try await company.expectedMessage(
                task: collect, invoice: invoice, kind: .documentsRequested, deduplicationKey: "task-\(collect.id)")
            #expect(lines == withoutDate(expected))
            // Every task of the journey got its one mail.
            let tasks = try await company.tasks(of: invoice)
            let outbox = try await company.outbox(of: invoice)
            #expect(Set(outbox.compactMap(\.taskID)) == Set(tasks.map(\.id)))
            #expect(outbox.count == tasks.count)
        }
    }
}
