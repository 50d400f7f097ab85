import Testing

@testable import InvoiceDomain

private typealias C = TestCompany

/// One row of a threshold table: an invoice and the step ids that must apply, in order.
struct ThresholdCase: Sendable, CustomTestStringConvertible {
    var facts: InvoiceFacts
    var steps: [String]
    var testDescription: String {
        "\(facts.type) \(facts.amount) \(facts.flags.sorted().map(\.rawValue)) prepay \(facts.prepaymentBasisPoints)"
    }
}

private func rub(_ roubles: Int64, _ kopecks: Int64 = 0) -> Money { .rub(roubles, kopecks: kopecks) }

private func row(
    _ type: InvoiceTypeCode, _ amount: Money, flags: Set<InvoiceFlag> = [], prepayment: Int = 0, _ steps: [String]
) -> ThresholdCase {
    var facts = C.facts(type, amount, flags: flags, prepayment: prepayment)
    switch type {
    case .payroll: facts.initiator = C.payrollAccountant; facts.initiatorDepartment = C.accounting
    case .intercompany:
        facts.payingSubdivision = C.warehouse; facts.receivingSubdivision = C.shop; facts.flags.insert(.intercompany)
        facts.initiator = C.logistician; facts.initiatorDepartment = C.logistics
    default: break
    }
    return ThresholdCase(facts: facts, steps: steps + ["payment", "closing_documents"])
}

@Suite("Default routes")
struct DefaultRouteTests {
    static let thresholds: [ThresholdCase] = [
        // 1. Supplier goods: ≤ 300 000 purchasing + CFO; up to 1 500 000 + CEO if prepayment > 50 % or a
        // new supplier; above 1 500 000 + CEO always.
        row(.supplierGoods, rub(299_999, 99), prepayment: 10_000, ["purchasing", "cfo"]),
        row(.supplierGoods, rub(300_000), flags: [.newCounterparty], prepayment: 10_000, ["purchasing", "cfo"]),
        row(.supplierGoods, rub(300_000, 1), ["purchasing", "cfo"]),
        row(.supplierGoods, rub(300_000, 1), prepayment: 5000, ["purchasing", "cfo"]),
        row(.supplierGoods, rub(300_000, 1), prepayment: 5001, ["purchasing", "cfo", "ceo"]),
        row(.supplierGoods, rub(300_000, 1), flags: [.newCounterparty], ["purchasing", "cfo", "ceo"]),
        row(.supplierGoods, rub(1_499_999, 99), ["purchasing", "cfo"]),
        row(.supplierGoods, rub(1_500_000), ["purchasing", "cfo"]),
        row(.supplierGoods, rub(1_500_000, 1), ["purchasing", "cfo", "ceo"]),
        // 2. Payroll: always chief accountant and CEO.
        row(.payroll, rub(0, 1), ["chief_accountant", "ceo"]),
        row(.payroll, rub(9_999_999), ["chief_accountant", "ceo"]),
        // 3. Operating expenses: ≤ 50 000 head only; up to 300 000 + CFO; above or outside budget + CEO.
        row(.operatingExpenses, rub(49_999, 99), ["department_head"]),
        row(.operatingExpenses, rub(50_000), ["department_head"]),
        row(.operatingExpenses, rub(50_000, 1), ["department_head", "cfo"]),
        row(.operatingExpenses, rub(299_999, 99), ["department_head", "cfo"]),
        row(.operatingExpenses, rub(300_000), ["department_head", "cfo"]),
        row(.operatingExpenses, rub(300_000, 1), ["department_head", "cfo", "ceo"]),
        row(.operatingExpenses, rub(1000), flags: [.outsideBudget], ["department_head", "cfo", "ceo"]),
        // 4. Intercompany: both sides, group CFO; above 1 000 000 + CEO.
        row(.intercompany, rub(999_999, 99), ["payer_head", "payee_head", "group_cfo"]),
        row(.intercompany, rub(1_000_000), ["payer_head", "payee_head", "group_cfo"]),
        row(.intercompany, rub(1_000_000, 1), ["payer_head", "payee_head", "group_cfo", "ceo"]),
        // 5. Logistics: ≤ 100 000 logistics + CFO; above + CEO; customs: CFO only, same day.
        row(.logisticsCustoms, rub(99_999, 99), ["logistics", "cfo"]),
        row(.logisticsCustoms, rub(100_000), ["logistics", "cfo"]),
        row(.logisticsCustoms, rub(100_000, 1), ["logistics", "cfo", "ceo"]),
        row(.logisticsCustoms, rub(100_000), flags: [.customs, .urgent], ["cfo_customs"]),
        row(.logisticsCustoms, rub(100_000, 1), flags: [.customs, .urgent], ["cfo_customs"]),
        // 6. Advances: head and accountant; above 30 000 + CFO; above 100 000 + CEO.
        row(.employeeAdvance, rub(29_999, 99), ["department_head", "accountant"]),
        row(.employeeAdvance, rub(30_000), ["department_head", "accountant"]),
        row(.employeeAdvance, rub(30_000, 1), ["department_head", "accountant", "cfo"]),
        row(.employeeAdvance, rub(100_000), ["department_head", "accountant", "cfo"]),
        row(.employeeAdvance, rub(100_000, 1), ["department_head", "accountant", "cfo", "ceo"]),
    ]

    static func route(_ type: InvoiceTypeCode) -> RouteVersion { RouteVersion.defaults.first { $0.type == type }! }

    @Test("each threshold at limit − 1, limit and limit + 1 kopeck", arguments: thresholds)
    func threshold(row: ThresholdCase) throws {
        let route = Self.route(row.facts.type)
        #expect(try route.applicableSteps(for: row.facts).map(\.id) == row.steps)
        let plan = try route.plan(for: row.facts, in: C.snapshot())
        #expect(plan.steps.map(\.step.id) == row.steps)
        #expect(plan.firstBlockedStep == nil, "\(plan.explanation)")
    }

    @Test("the six types are shipped, one route each, version 1")
    func sixTypes() {
        #expect(
            RouteVersion.defaults.map(\.type) == [
                .supplierGoods, .payroll, .operatingExpenses, .intercompany, .logisticsCustoms, .employeeAdvance,
            ])
        #expect(RouteVersion.defaults.allSatisfy { $0.version == 1 })
    }

    @Test("SLA: one business day, two for the CEO, customs same day; reminder at half; escalation to the head")
    func slas() {
        for route in RouteVersion.defaults {
            for step in route.steps where step.kind == .approve {
                let expected: StepDeadline =
                    step.id == "ceo"
                    ? .businessHours(18) : step.id == "cfo_customs" ? .endOfBusinessDay : .businessHours(9)
                #expect(step.deadline == expected, "\(route.type) \(step.id)")
            }
            #expect(route.steps.allSatisfy { $0.reminderAtPercent == 50 && $0.escalation == .approversHead })
            #expect(route.steps.filter { $0.kind == .pay }.count == 1)
            #expect(route.steps.last?.kind == .collectClosingDocuments)
        }
    }

    @Test("reminder at half and due at the end of the business SLA")
    func reminderAndDue() {
        let cfo = RouteVersion.supplierGoods.steps[1]
        let ceo = RouteVersion.supplierGoods.steps[2]
        let calendar = WorkingCalendar.russia
        #expect(cfo.dueInstant(startedAt: msk("2025-03-03", 9), calendar: calendar) == msk("2025-03-03", 18))
        #expect(cfo.reminderInstant(startedAt: msk("2025-03-03", 9), calendar: calendar) == msk("2025-03-03", 13, 30))
        #expect(ceo.dueInstant(startedAt: msk("2025-03-07", 12), calendar: calendar) == msk("2025-03-12", 12))
        #expect(ceo.reminderInstant(startedAt: msk("2025-03-07", 12), calendar: calendar) == msk("2025-03-11", 12))
        let customs = RouteVersion.logisticsCustoms.steps[2]
        #expect(customs.dueInstant(startedAt: msk("2025-03-04", 10), calendar: calendar) == msk("2025-03-04", 18))
        #expect(customs.dueInstant(startedAt: msk("2025-03-07", 19), calendar: calendar) == msk("2025-03-11", 18))
    }

    static let paymentCases: [(InvoiceTypeCode, Set<InvoiceFlag>, Instant, String)] = [
        (.supplierGoods, [], msk("2025-03-05", 15), "2025-03-06"),
        (.supplierGoods, [.urgent], msk("2025-03-05", 15), "2025-03-05"),
        (.supplierGoods, [.urgent], msk("2025-03-08", 15), "2025-03-11"),
        (.supplierGoods, [], msk("2025-03-07", 15), "2025-03-11"),
        (.logisticsCustoms, [.customs], msk("2025-03-05", 15), "2025-03-05"),
        (.logisticsCustoms, [], msk("2025-03-05", 15), "2025-03-06"),
        (.operatingExpenses, [.customs], msk("2025-03-05", 15), "2025-03-06"),
    ]

    @Test("payment on payment days, urgent and customs at once", arguments: paymentCases)
    func paymentDate(type: InvoiceTypeCode, flags: Set<InvoiceFlag>, approvedAt: Instant, expected: String) throws {
        let step = Self.route(type).steps.first { $0.kind == .pay }!
        let timing = try #require(step.payment)
        let date = try timing.paymentDate(approvedAt: approvedAt, facts: C.facts(type, flags: flags), calendar: .russia)
        #expect(date == day(expected))
    }

    @Test("closing documents are due 5 business days after payment, an expense report 3 after the trip")
    func closingDue() throws {
        let supplier = try #require(RouteVersion.supplierGoods.steps.last?.closingDocuments)
        #expect(
            supplier.dueDate(paidOn: day("2025-03-06"), facts: C.facts(.supplierGoods), calendar: .russia)
                == day("2025-03-14"))
        let advance = try #require(RouteVersion.employeeAdvance.steps.last?.closingDocuments)
        let trip = C.facts(.employeeAdvance, tripEnd: day("2025-03-07"))
        #expect(advance.dueDate(paidOn: day("2025-03-04"), facts: trip, calendar: .russia) == day("2025-03-13"))
        #expect(
            advance.dueDate(paidOn: day("2025-03-04"), facts: C.facts(.employeeAdvance), calendar: .russia)
                == day("2025-03-07"))
        let sameDay = ClosingDocumentsRule(documents: [], due: ClosingDocumentsDue(businessDays: 0, after: .payment))
        #expect(sameDay.dueDate(paidOn: day("2025-03-06"), facts: C.facts(), calendar: .russia) == day("2025-03-06"))
        #expect(sameDay.dueDate(paidOn: day("2025-03-08"), facts: C.facts(), calendar: .russia) == day("2025-03-11"))
    }

    @Test(
        "supplier goods: the warehouse manager joins purchasing only when goods were received",
        arguments: [true, false])
    func warehouseManager(received: Bool) throws {
        let facts = C.facts(
            .supplierGoods, flags: received ? [.goodsReceived] : [], initiator: C.buyer, department: C.purchasing,
            paying: C.warehouse)
        let plan = try RouteVersion.supplierGoods.plan(for: facts, in: C.snapshot())
        let purchasing = plan.steps[0].resolution.participants.map(\.actor)
        #expect(purchasing == (received ? [C.headOfPurchasing, C.warehouseManager] : [C.headOfPurchasing]))
        #expect(plan.steps[2].resolution.participants.map(\.actor) == [C.warehouseTreasurer])
        #expect(plan.steps[3].resolution.participants.map(\.actor) == [C.warehouseClerk])
    }

    @Test("intercompany: approvals on both sides and document clerks of both subdivisions")
    func intercompanyBothSides() throws {
        let facts = row(.intercompany, rub(2_000_000), []).facts
        let plan = try RouteVersion.intercompany.plan(for: facts, in: C.snapshot())
        let people = plan.steps.map { $0.resolution.participants.map(\.actor) }
        #expect(
            people == [
                [C.logisticsManager], [C.shopHead], [C.cfo], [C.ceo], [C.warehouseTreasurer],
                [C.warehouseClerk, C.shopClerk],
            ])
        #expect(RouteVersion.intercompany.steps[4].payment?.nettingAllowed == true)
    }

    @Test("payroll: only a payroll accountant may initiate; visibility is restricted")
    func payrollInitiator() throws {
        let wrong = C.facts(.payroll)
        #expect(throws: RouteEvaluationError.initiatorNotAllowed(C.marketer, allowed: [.payrollAccountant])) {
            try RouteVersion.payroll.plan(for: wrong, in: C.snapshot())
        }
        #expect(RouteVersion.payroll.visibleOnlyTo == [.payrollAccountant, .chiefAccountant, .ceo])
    }

    @Test("advances: the employee's own head approves and the employee collects the report")
    func advanceBeneficiary() throws {
        var facts = C.facts(
            .employeeAdvance, rub(50_000), initiator: C.accountantA, department: C.accounting,
            beneficiary: C.logistician)
        facts.payingSubdivision = C.warehouse
        let plan = try RouteVersion.employeeAdvance.plan(for: facts, in: C.snapshot())
        let people = plan.steps.map { $0.resolution.participants.map(\.actor) }
        #expect(
            people == [[C.logisticsManager], [C.warehouseAccountant], [C.cfo], [C.warehouseDirector], [C.logistician]])
        // The only warehouse accountant approved, so payment escalates to the warehouse's head.
        #expect(plan.steps[3].resolution.selectors[0].exclusions.map(\.reason) == [.approvedThisInvoice])
    }

    @Test("thresholds in roubles refuse to judge an invoice in another currency")
    func currencyMismatch() {
        let facts = C.facts(.supplierGoods, Money(minorUnits: 100, currency: .usd))
        #expect(
            throws: RouteEvaluationError.thresholdCurrencyMismatch(
                stepID: "ceo", threshold: rub(1_500_000), invoice: .usd)
        ) {
            try RouteVersion.supplierGoods.applicableSteps(for: facts)
        }
        #expect(throws: RouteEvaluationError.wrongType(route: .payroll, invoice: .supplierGoods)) {
            try RouteVersion.payroll.applicableSteps(for: C.facts(.supplierGoods))
        }
    }

    @Test("the simulation explains actors, substitutions, exclusions and skipped steps")
    func explanation() throws {
        let away = Substitution(absent: C.cfo, deputy: C.chiefAccountant, validity: C.always)
        let facts = C.facts(.operatingExpenses, rub(60_000), initiator: C.headOfMarketing)
        let text = try RouteVersion.operatingExpenses.plan(for: facts, in: C.snapshot(substitutions: [away]))
            .explanation
        #expect(text.contains("excluded: employee#11 (holder employee#11) is the initiator (separation of duties)"))
        #expect(
            text.contains(
                "acts: employee#1 as head of the initiator's department, escalated to the head of department#10"))
        #expect(text.contains("acts: employee#5 as group cfo, acting for employee#2"))
        #expect(text.contains("skipped ceo: condition not met: (amount > 300000.00 RUB) or (outsideBudget)"))
    }
}

@Suite("Rework")
struct ReworkTests {
    static let previous = [
        RoundDecision(stepID: "purchasing", actor: C.headOfPurchasing, decision: .approved),
        RoundDecision(stepID: "purchasing", actor: C.warehouseManager, decision: .pending),
        RoundDecision(stepID: "cfo", actor: C.chiefAccountant, actingFor: C.cfo, decision: .approved),
        RoundDecision(stepID: "ceo", actor: C.ceo, decision: .rejected),
    ]

    @Test(
        "only those who had not approved, plus whoever rejected, decide again",
        arguments: [
            ("purchasing", C.headOfPurchasing, false), ("purchasing", C.warehouseManager, true),
            ("cfo", C.cfo, false), ("cfo", C.chiefAccountant, true), ("ceo", C.ceo, true),
            ("payment", C.treasurer, true),
        ])
    func keepApprovals(step: String, holder: EmployeeID, expected: Bool) {
        #expect(ResubmissionRound(previous: Self.previous).needsDecision(stepID: step, holder: holder) == expected)
    }

    @Test("everybody decides again under the strict policy")
    func everyoneAgain() {
        let round = ResubmissionRound(previous: Self.previous, policy: .everyoneAgain)
        #expect(round.carriedOver.isEmpty)
        #expect(Self.previous.allSatisfy { round.needsDecision(stepID: $0.stepID, holder: $0.holder) })
    }

    @Test("a step whose every slot carried over is complete")
    func completedSteps() {
        let round = ResubmissionRound(previous: Self.previous)
        let required: [String: Set<EmployeeID>] = [
            "purchasing": [C.headOfPurchasing, C.warehouseManager], "cfo": [C.cfo], "ceo": [C.ceo],
        ]
        #expect(round.completedSteps(required: required) == ["cfo"])
    }
}
