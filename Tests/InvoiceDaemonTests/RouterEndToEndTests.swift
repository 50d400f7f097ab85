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
}
