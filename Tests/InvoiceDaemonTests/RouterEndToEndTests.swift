import InvoiceDomain
import InvoiceStore
import InvoiceTestSupport
import PostgresClient
import Testing

@testable import InvoiceDaemon

/// One default type's expected journey through the real database and the router.
struct Journey: Sendable, CustomTestStringConvertible {
    var draft: RouterTestCompany.InvoiceDraft
    /// The approvers asked at each approval step, in route order.
    var steps: [(step: String, people: Set<String>)]
    /// Who gets the pay task (after separation of duties).
    var payers: Set<String>
    /// Who gets the closing-documents tasks.
    var collectors: Set<String>
    var testDescription: String { "\(draft.type) \(draft.roubles) RUB" }
}

@Suite("router: every default type from submission to closed, through PostgreSQL")
struct RouterEndToEndTests {
    static let journeys: [Journey] = [
        Journey(
            draft: .init(type: "supplier_goods", initiator: "anna", roubles: 2_000_000),
            steps: [("purchasing", ["boris"]), ("cfo", ["cfo"]), ("ceo", ["ceo"])],
            payers: ["treasurer"], collectors: ["clerk"]),
        Journey(
            draft: .init(type: "payroll", initiator: "payroll", roubles: 900_000, counterparty: 1),
            steps: [("chief_accountant", ["chief_acc"]), ("ceo", ["ceo"])],
            payers: ["treasurer"], collectors: ["payroll"]),
        Journey(
            draft: .init(type: "operating_expenses", initiator: "petr", roubles: 100_000),
            steps: [("department_head", ["olga"]), ("cfo", ["cfo"])],
            payers: ["accountant", "accountant2"], collectors: ["petr", "clerk"]),
        Journey(
            draft: .init(type: "intercompany", initiator: "wh_ivan", roubles: 800_000, paying: "wh", receiving: "ho"),
            steps: [("payer_head", ["wh_head"]), ("payee_head", ["ceo"]), ("group_cfo", ["cfo"])],
            payers: ["wh_treasurer"], collectors: ["wh_clerk", "clerk"]),
        Journey(
            draft: .init(type: "logistics_customs", initiator: "maks", roubles: 150_000, counterparty: 1),
            steps: [("logistics", ["lena"]), ("cfo", ["cfo"]), ("ceo", ["ceo"])],
            payers: ["treasurer"], collectors: ["lena"]),
        // The accountant step is any-one: the first accountant's approval closes the other's task,
        // and the approving accountant may not pay (separation of duties), so the other one pays.
        Journey(
            draft: .init(type: "employee_advance", initiator: "petr", roubles: 50_000, counterparty: 1),
            steps: [("department_head", ["olga"]), ("accountant", ["accountant", "accountant2"]), ("cfo", ["cfo"])],
            payers: ["accountant2"], collectors: ["petr"]),
    ]

    @Test("submission → approvals by the right people → payment → closing documents → closed", arguments: journeys)
    func journey(_ journey: Journey) async throws {
        let company = try await RouterTestCompany.create()
        do {
            try await run(journey, in: company)
            await company.close()
        } catch {
            await company.close()
            throw error
        }
    }

    private func run(_ journey: Journey, in company: RouterTestCompany) async throws {
        let invoice = try await company.submit(journey.draft)
        try await company.route()
        for (step, people) in journey.steps {
            let open = try await company.tasks(of: invoice, openOnly: true)
            #expect(Set(open.map(\.step)) == [step], "open tasks before \(step): \(open)")
            #expect(Set(open.map(\.assignee)) == people, "asked at \(step)")
            #expect(open.allSatisfy { $0.kind == "approve" && $0.hasDue && $0.actingFor == nil })
            guard let first = open.first else { return }
            try await company.decide(first.id, as: first.assignee)
            try await company.route()
            // Everyone else still asked at an all-must-approve step approves too.
            while let next = try await company.tasks(of: invoice, openOnly: true).first(where: { $0.step == step }) {
                try await company.decide(next.id, as: next.assignee)
                try await company.route()
            }
        }
        #expect(try await company.stage(of: invoice) == "payment")
        let payTasks = try await company.tasks(of: invoice, openOnly: true)
        #expect(payTasks.allSatisfy { $0.kind == "pay" && $0.step == "payment" && $0.hasDue }, "\(payTasks)")
        #expect(Set(payTasks.map(\.assignee)) == journey.payers)

        try await company.pay(invoice, as: try #require(payTasks.first).assignee)
        #expect(try await company.stage(of: invoice) == "closing_documents")
        try await company.route()
        let collect = try await company.tasks(of: invoice, openOnly: true)
        #expect(collect.allSatisfy { $0.kind == "collect_documents" && $0.hasDue }, "\(collect)")
        #expect(Set(collect.map(\.assignee)) == journey.collectors)

        try await company.recordDocumentAndClose(invoice, as: try #require(collect.first).assignee)
        try await company.route()
        #expect(try await company.stage(of: invoice) == "closed")
        #expect(try await company.tasks(of: invoice, openOnly: true).isEmpty)

        let audit = try await company.auditActions(of: invoice)
        #expect(audit.filter { $0 == "pin_route" }.count == 1)
        #expect(audit.filter { $0 == "route_step_started" }.count == journey.steps.count + 2)
        #expect(audit.contains("stage_payment"))
        let pending = try await company.admin.query(
            "SELECT count(*) FROM invoiceflow_private.work_item WHERE invoice_id = \(invoice) AND done_at IS NULL")
        #expect(try pending[0].decode(0, as: Int.self) == 0)
    }

    @Test(
        "a customs payment asks the CFO alone (no logistics, no CEO) and is due for payment at once, not on a payment day"
    )
    func customsPayment() async throws {
        try await withCompany { company in
            // Make sure the next working day is not a payment day, whatever day the test runs on: close
            // the days that would make the two payment dates coincide.
            let todayText: String = try await company.admin.query(
                "SELECT ((now() AT TIME ZONE 'Europe/Moscow')::date)::text")[0].decode(0)
            let today = try #require(CalendarDate(iso: todayText))
            func storedCalendar() async throws -> WorkingCalendar {
                try await company.people.transaction { try RoutingStore.workingCalendar(adjusting: .russia, on: $0) }
            }
            var calendar = try await storedCalendar()
            while calendar.isPaymentDay(calendar.nextWorkingDay(onOrAfter: today)) {
                let day = calendar.nextWorkingDay(onOrAfter: today)
                try await company.admin.execute(
                    "SELECT invoiceflow.set_working_day(\(day.description)::date, false, 'test: office closed')")
                calendar = try await storedCalendar()
            }
            func register(customs: Bool) async throws -> Int64 {
                let paying = company.subdivisions["ho"]!
                let counterparty = company.counterparties[1]
                return try await company.act(as: "maks") { c in
                    let id: Int64 = try c.query(
                        """
                        SELECT invoiceflow.create_invoice(
                            p_invoice_type => 'logistics_customs', p_paying_subdivision_id => \(paying),
                            p_supplier_invoice_number => \(customs ? "ДТ-1" : "CMR-1"),
                            p_supplier_invoice_date => current_date, p_amount_minor => 25000000,
                            p_purpose => 'router test', p_counterparty_id => \(counterparty), p_customs => \(customs))
                        """)[0].decode(0)
                    try c.execute("SELECT invoiceflow.submit_invoice(\(id))")
                    return id
                }
            }
            func approveAll(_ invoice: Int64) async throws -> [String] {
                var steps: [String] = []
                try await company.route()
                while let open = try await company.tasks(of: invoice, openOnly: true).first(where: {
                    $0.kind == "approve"
                }) {
                    steps.append("\(open.step):\(open.assignee)")
                    try await company.decide(open.id, as: open.assignee)
                    try await company.route()
                }
                return steps
            }
            func payDue(_ invoice: Int64) async throws -> Int64 {
                try await company.admin.query(
                    """
                    SELECT (extract(epoch FROM due_at) * 1000000)::bigint FROM invoiceflow.task
                    WHERE invoice_id = \(invoice) AND kind = 'pay'
                    """)[0].decode(0)
            }
            let customs = try await register(customs: true)
            let ordinary = try await register(customs: false)
            // 250 000 RUB is above the CEO's threshold: only the customs flag keeps the CEO out.
            #expect(try await approveAll(customs) == ["cfo_customs:cfo"])
            #expect(try await approveAll(ordinary) == ["logistics:lena", "cfo:cfo", "ceo:ceo"])
            #expect(try await company.stage(of: customs) == "payment")
            let customsPay = try #require(try await company.tasks(of: customs, openOnly: true).first)
            #expect(customsPay.kind == "pay" && customsPay.assignee == "treasurer")

            // The customs payment is due from the next working day, the ordinary one from the next payment day.
            let zone = calendar.zone
            let customsDue = Instant(microsecondsSinceEpoch: try await payDue(customs))
            let ordinaryDue = Instant(microsecondsSinceEpoch: try await payDue(ordinary))
            let paymentDay = zone.instant(
                calendar.nextPaymentDay(onOrAfter: today), hour: calendar.workdayStartMinute / 60)
            #expect(ordinaryDue > paymentDay, "the ordinary payment waits for the payment day")
            #expect(customsDue < ordinaryDue, "customs due \(customsDue), ordinary due \(ordinaryDue)")

            // Paid at once, the invoice moves on to its closing documents with the logistics manager.
            try await company.pay(customs, as: "treasurer")
            try await company.route()
            #expect(try await company.stage(of: customs) == "closing_documents")
            let collect = try await company.tasks(of: customs, openOnly: true)
            #expect(collect.map(\.assignee) == ["lena"] && collect.allSatisfy { $0.kind == "collect_documents" })
            let audit = try await company.auditActions(of: customs)
            #expect(audit.filter { $0 == "route_step_started" }.count == 3, "cfo_customs, payment, closing")
        }
    }
}
