import Foundation
import InvoiceTestSupport
import PostgresClient
import SMTP
import Testing

@testable import InvoiceDaemon

/// The scheduler over a real database with the router's test company: rounds run "as of" concrete
/// moments around a Friday task whose one business day of SLA spans a weekend and a holiday Monday
/// (14 June 2027, День России moved), so business time is checked with dates, not offsets.
@Suite("scheduler: reminders, escalations, payment days and overdue documents in business time")
struct SchedulerTests {
    /// Friday 11 June 2027 15:00 Moscow: the approval task starts.
    static let friday = moment("2027-06-11T15:00:00+03:00")
    /// One business day later: 3 h on Friday, nothing over the weekend and the holiday, 6 h on Tuesday.
    static let tuesdayDue = moment("2027-06-15T15:00:00+03:00")

    static func moment(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text)!
    }

    static func scheduler(_ company: RouterTestCompany, worker: String = "scheduler-test") throws -> SchedulerService {
        SchedulerService(
            configuration: company.daemonConfiguration,
            composer: try MailComposer(
                sender: Mailbox(displayName: "InvoiceFlow", address: "noreply@invoiceflow.test"),
                publicURL: "http://localhost:8080"),
            worker: worker, logger: TestPostgres.silentLogger)
    }

    /// Runs one round as of `moment` on a fresh daemon connection.
    static func round(_ company: RouterTestCompany, at moment: Date, worker: String = "scheduler-test") async throws
        -> SchedulerService.RoundReport
    {
        let connection = try await PostgresConnection.connect(
            company.daemonConfiguration, logger: TestPostgres.silentLogger)
        do {
            let report = try await scheduler(company, worker: worker).round(asOf: moment, on: connection)
            await connection.close()
            return report
        } catch {
            await connection.close()
            throw error
        }
    }

    struct Mail: Sendable, Hashable {
        var kind: String
        var recipient: String
        var task: Int64?
    }

    /// The scheduler's mail in the outbox (the router's "task assigned" mail left out).
    static func mail(_ company: RouterTestCompany, invoice: Int64) async throws -> [Mail] {
        try await company.admin.query(
            """
            SELECT kind, recipient_employee_id, task_id FROM invoiceflow_private.mail_outbox
            WHERE invoice_id = \(invoice) AND kind IN ('reminder', 'escalation', 'payment_due', 'documents_overdue')
            ORDER BY id
            """
        ).map { row in
            Mail(
                kind: try row.decode("kind"), recipient: company.name(of: try row.decode("recipient_employee_id")),
                task: try row.decode("task_id"))
        }
    }

    /// Moves a task's start and deadline to concrete moments (the router set them from the real clock).
    static func schedule(_ company: RouterTestCompany, task: Int64, created: Date, due: Date) async throws {
        try await company.admin.execute(
            "UPDATE invoiceflow.task SET created_at = \(created), due_at = \(due) WHERE id = \(task)")
    }

    /// An operating expense of 10 000 RUB by petr: one approval step, olga (head of the office).
    static func approvalTask(_ company: RouterTestCompany) async throws -> (invoice: Int64, task: Int64) {
        let invoice = try await company.submit(.init(type: "operating_expenses", initiator: "petr", roubles: 10_000))
        try await company.route()
        let tasks = try await company.tasks(of: invoice, openOnly: true)
        #expect(tasks.map(\.assignee) == ["olga"])
        try await schedule(company, task: tasks[0].id, created: friday, due: tuesdayDue)
        return (invoice, tasks[0].id)
    }

    static func withCompany(_ body: (RouterTestCompany) async throws -> Void) async throws {
        let company = try await RouterTestCompany.create()
        do {
            try await body(company)
            await company.close()
        } catch {
            await company.close()
            throw error
        }
    }

    @Test("the half-SLA reminder goes out once: not at 10:29 on Tuesday, once at 10:31, never again")
    func reminderOnce() async throws {
        try await Self.withCompany { company in
            let (invoice, task) = try await Self.approvalTask(company)
            // Friday 15:00–18:00 is 3 h; Monday 14 June is a holiday; half of 9 h is reached Tuesday 10:30.
            for quiet in ["2027-06-11T17:59:00+03:00", "2027-06-14T16:00:00+03:00", "2027-06-15T10:29:00+03:00"] {
                let report = try await Self.round(company, at: Self.moment(quiet))
                #expect(report.handled == 0, "nothing is due at \(quiet)")
            }
            #expect(try await Self.mail(company, invoice: invoice).isEmpty)

            let first = try await Self.round(company, at: Self.moment("2027-06-15T10:31:00+03:00"))
            #expect(first.reminders == 1)
            let again = try await Self.round(company, at: Self.moment("2027-06-15T10:31:00+03:00"))
            let later = try await Self.round(company, at: Self.moment("2027-06-15T12:00:00+03:00"))
            #expect(again.handled == 0 && later.handled == 0)
            #expect(
                try await Self.mail(company, invoice: invoice) == [
                    Mail(kind: "reminder", recipient: "olga", task: task)
                ])
            let messageID: String = try await company.admin.query(
                "SELECT message_id FROM invoiceflow_private.mail_outbox WHERE kind = 'reminder'")[0].decode(0)
            #expect(messageID == "task-\(task).reminder@invoiceflow.test")
        }
    }

    @Test("at due on Tuesday 15:00 the head above gets an escalation mail and a task; the late task stays open")
    func escalationAtDue() async throws {
        try await Self.withCompany { company in
            let (invoice, task) = try await Self.approvalTask(company)
            let early = try await Self.round(company, at: Self.moment("2027-06-15T14:59:00+03:00"))
            #expect(early.escalations == 0 && early.reminders == 1)

            let due = try await Self.round(company, at: Self.tuesdayDue)
            #expect(due.escalations == 1)
            // olga heads the office, so her head is the head of the department above: the CEO (Management).
            let open = try await company.tasks(of: invoice, openOnly: true)
            #expect(open.map(\.assignee) == ["olga", "ceo"])
            #expect(open.last?.actingFor == "olga" && open.last?.step == "department_head")
            let headTask = try #require(open.last?.id)
            #expect(
                try await Self.mail(company, invoice: invoice).last
                    == Mail(kind: "escalation", recipient: "ceo", task: headTask))
            // The head's own deadline is one business day from Tuesday 15:00: Wednesday 15:00.
            let headDue: Date = try await company.admin.query(
                "SELECT due_at FROM invoiceflow.task WHERE id = \(headTask)")[0].decode(0)
            #expect(headDue == Self.moment("2027-06-16T15:00:00+03:00"))
            let escalations = try await company.auditActions(of: invoice).filter { $0 == "route_escalated" }
            #expect(escalations.count == 1)

            // Again at the same moment, and later: nothing new (the head's own task is not due before Wednesday 15:00).
            let again = try await Self.round(company, at: Self.tuesdayDue)
            #expect(again.escalations == 0)
            #expect(try await company.stage(of: invoice) == "approval", "a timeout never rejects")

            // The head decides for the late holder: olga's task closes and the invoice moves on.
            try await company.decide(headTask, as: "ceo")
            try await company.route()
            let olga = try await company.tasks(of: invoice).first { $0.id == task }
            #expect(olga?.outcome == "cancelled")
            #expect(try await company.stage(of: invoice) == "payment")
        }
    }

    @Test("a late approver who delegates after the escalation: the head's approval closes the delegate's task too")
    func delegationAfterEscalation() async throws {
        try await Self.withCompany { company in
            let (invoice, task) = try await Self.approvalTask(company)
            #expect(try await Self.round(company, at: Self.tuesdayDue).escalations == 1)
            let headTask = try #require(
                try await company.tasks(of: invoice, openOnly: true).first { $0.assignee == "ceo" }?.id)
            // olga hands her late task to gleb; the delegate's task is not the one the escalation named.
            let gleb = company.employee("gleb")
            let delegated: Int64 = try await company.act(as: "olga") { c in
                try c.query("SELECT invoiceflow.delegate_task(\(task), \(gleb), 'на подпись')")[0].decode(0)
            }
            #expect(try await company.tasks(of: invoice, openOnly: true).map(\.assignee) == ["ceo", "gleb"])

            // Closed by the decision itself, not by the router (an all-in-parallel step would wait for it).
            try await company.decide(headTask, as: "ceo")
            let closed = try await company.admin.query(
                "SELECT outcome::text, comment FROM invoiceflow.task WHERE id = \(delegated)")[0]
            #expect(try closed.decode("outcome") as String == "cancelled")
            #expect(
                try closed.decode("comment") as String
                    == "closed: task \(headTask) of the same escalation was approved")
            try await company.route()
            #expect(try await company.stage(of: invoice) == "payment", "the step does not wait for the delegate")
        }
    }

    @Test("a deputy's overdue task escalates to the absent holder's head, acting for the holder")
    func deputyEscalation() async throws {
        try await Self.withCompany { company in
            // olga is away until 2028 and gleb acts for her.
            try await company.admin.execute(
                """
                INSERT INTO invoiceflow.substitution (absent_employee_id, deputy_employee_id, valid, reason)
                VALUES (\(company.employee("olga")), \(company.employee("gleb")),
                        tstzrange(now() - interval '1 day', '2028-01-01'), 'отпуск')
                """)
            let invoice = try await company.submit(
                .init(type: "operating_expenses", initiator: "petr", roubles: 10_000))
            try await company.route()
            let late = try #require(try await company.tasks(of: invoice, openOnly: true).first)
            #expect(late.assignee == "gleb" && late.actingFor == "olga")
            try await Self.schedule(company, task: late.id, created: Self.friday, due: Self.tuesdayDue)
            #expect(try await Self.round(company, at: Self.tuesdayDue).escalations == 1)
            let open = try await company.tasks(of: invoice, openOnly: true)
            #expect(open.map(\.assignee) == ["gleb", "ceo"])
            #expect(open.last?.actingFor == "olga")
        }
    }

    @Test("two schedulers running at once send every escalation once")
    func twoSchedulers() async throws {
        try await Self.withCompany { company in
            var invoices: [Int64] = []
            for _ in 0..<6 { invoices.append(try await Self.approvalTask(company).invoice) }
            async let a = Self.round(company, at: Self.tuesdayDue, worker: "scheduler-a")
            async let b = Self.round(company, at: Self.tuesdayDue, worker: "scheduler-b")
            let (first, second) = try await (a, b)
            #expect(first.escalations + second.escalations == 6)
            #expect(first.failed == 0 && second.failed == 0)
            for invoice in invoices {
                let mails = try await Self.mail(company, invoice: invoice)
                #expect(mails.filter { $0.kind == "escalation" }.count == 1)
                #expect(try await company.auditActions(of: invoice).filter { $0 == "route_escalated" }.count == 1)
                #expect(try await company.tasks(of: invoice, openOnly: true).count == 2)
            }
        }
    }

    @Test("the payment-day mail goes to the payers on Tuesday morning, not before 09:00 and not on Wednesday")
    func paymentDay() async throws {
        try await Self.withCompany { company in
            let (invoice, task) = try await Self.approvalTask(company)
            try await company.decide(task, as: "olga")
            try await company.route()
            let payTasks = try await company.tasks(of: invoice, openOnly: true).filter { $0.kind == "pay" }
            #expect(Set(payTasks.map(\.assignee)) == ["accountant", "accountant2"])
            for pay in payTasks {
                try await Self.schedule(
                    company, task: pay.id, created: Self.moment("2027-06-11T16:00:00+03:00"),
                    due: Self.moment("2027-06-15T18:00:00+03:00"))
            }
            #expect(try await Self.round(company, at: Self.moment("2027-06-15T08:59:00+03:00")).paymentDue == 0)
            #expect(try await Self.round(company, at: Self.moment("2027-06-15T09:01:00+03:00")).paymentDue == 2)
            #expect(try await Self.round(company, at: Self.moment("2027-06-15T11:00:00+03:00")).paymentDue == 0)
            let mails = try await Self.mail(company, invoice: invoice).filter { $0.kind == "payment_due" }
            #expect(Set(mails.map(\.recipient)) == ["accountant", "accountant2"])
        }
    }

    @Test("overdue closing documents: the collector at due, their head after a second period, audited")
    func documentsOverdue() async throws {
        try await Self.withCompany { company in
            let (invoice, task) = try await Self.approvalTask(company)
            try await company.decide(task, as: "olga")
            try await company.route()
            try await company.pay(invoice, as: "accountant")
            try await company.route()
            let collect = try #require(
                try await company.tasks(of: invoice, openOnly: true).first {
                    $0.kind == "collect_documents" && $0.assignee == "petr"
                })
            for other in try await company.tasks(of: invoice, openOnly: true) where other.id != collect.id {
                try await company.admin.execute("UPDATE invoiceflow.task SET due_at = NULL WHERE id = \(other.id)")
            }
            // Five business days, Wednesday 2 June 18:00 to Wednesday 9 June 18:00.
            try await Self.schedule(
                company, task: collect.id, created: Self.moment("2027-06-02T18:00:00+03:00"),
                due: Self.moment("2027-06-09T18:00:00+03:00"))
            let atDue = try await Self.round(company, at: Self.moment("2027-06-09T18:00:00+03:00"))
            #expect(atDue.documentsOverdue == 1)
            // The second period of 45 business hours ends Thursday 17 June 18:00 (Monday 14 June is a holiday).
            #expect(try await Self.round(company, at: Self.moment("2027-06-17T17:59:00+03:00")).documentsOverdue == 0)
            #expect(try await Self.round(company, at: Self.moment("2027-06-17T18:00:00+03:00")).documentsOverdue == 1)
            let mails = try await Self.mail(company, invoice: invoice).filter { $0.kind == "documents_overdue" }
            #expect(mails.map(\.recipient) == ["petr", "olga"])
            #expect(try await company.auditActions(of: invoice).filter { $0 == "documents_overdue" }.count == 2)
        }
    }

    @Test(
        "INVOICEFLOW_SCHEDULER_INTERVAL_SECONDS: 60 by default, 1...3600 accepted, anything else refused",
        arguments: [("", 60), ("1", 1), ("3600", 3600), ("0", nil), ("3601", nil), ("soon", nil)] as [(String, Int?)])
    func interval(_ raw: String, _ seconds: Int?) throws {
        let environment = raw.isEmpty ? [:] : ["INVOICEFLOW_SCHEDULER_INTERVAL_SECONDS": raw]
        if let seconds {
            #expect(try Configuration.load(environment: environment).schedulerInterval == .seconds(seconds))
        } else {
            #expect {
                _ = try Configuration.load(environment: environment)
            } throws: { error in
                (error as? ConfigurationError)?.key == "INVOICEFLOW_SCHEDULER_INTERVAL_SECONDS"
            }
        }
    }
}
