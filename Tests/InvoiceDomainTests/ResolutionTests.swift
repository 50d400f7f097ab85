import Testing

@testable import InvoiceDomain

private typealias C = TestCompany

@Suite("Approver resolution")
struct ResolutionTests {
    func resolver(_ facts: InvoiceFacts = C.facts(), substitutions: [Substitution] = [], at moment: Instant = C.moment)
        -> ApproverResolver
    {
        ApproverResolver(snapshot: C.snapshot(substitutions: substitutions, at: moment), facts: facts)
    }

    func actors(_ resolution: StepResolution) -> [EmployeeID] { resolution.participants.map(\.actor) }

    // MARK: Modes

    @Test(
        "approvals needed per mode",
        arguments: [
            (ApprovalMode.sequential, 3, 3), (.allInParallel, 3, 3), (.anyOne, 3, 1), (.anyOne, 0, 0),
            (.quorum(2), 3, 2),
        ])
    func approvalsNeeded(mode: ApprovalMode, participants: Int, expected: Int) {
        #expect(mode.approvalsNeeded(participants: participants) == expected)
    }

    @Test(
        "every mode resolves the same people and keeps their order",
        arguments: [ApprovalMode.sequential, .allInParallel, .anyOne, .quorum(2), .quorum(3)])
    func modes(mode: ApprovalMode) throws {
        let step = C.step(
            [
                .positionInPayingSubdivision(.accountant), .groupPosition(.cfo),
                .positionInPayingSubdivision(.accountant),
            ],
            mode: mode)
        let resolution = try resolver().resolve(step)
        #expect(actors(resolution) == [C.accountantA, C.accountantB, C.cfo])
        if case .ready = resolution.outcome {} else { Issue.record("expected ready, got \(resolution.outcome)") }
    }

    @Test("a quorum larger than the people who can act parks the step")
    func quorumTooLarge() throws {
        let step = C.step([.positionInPayingSubdivision(.accountant)], mode: .quorum(3))
        let resolution = try resolver().resolve(step)
        guard case .nobodyCanAct(let reason) = resolution.outcome else {
            Issue.record("expected nobodyCanAct")
            return
        }
        #expect(reason.contains("quorum of 3 needs 3 people, 2 can act"))
    }

    @Test("any-one steps go ahead when one selector has nobody; all-in-parallel steps do not")
    func anyOneToleratesAnEmptySelector() throws {
        // The CEO is the initiator: as the group CEO they are excluded, and nobody is above them.
        let facts = C.facts(.payroll, initiator: C.ceo, department: C.management)
        let selectors: [ParticipantSelector] = [.groupPosition(.ceo), .groupPosition(.cfo)]
        let anyOne = try resolver(facts).resolve(C.step(selectors, mode: .anyOne))
        #expect(actors(anyOne) == [C.cfo])
        let all = try resolver(facts).resolve(C.step(selectors, mode: .allInParallel))
        guard case .nobodyCanAct(let reason) = all.outcome else {
            Issue.record("expected nobodyCanAct")
            return
        }
        #expect(reason.contains("employee#1 is the initiator"))
        #expect(reason.contains("no head up the department tree can act"))
    }

    @Test("a person named by two selectors acts once")
    func deduplication() throws {
        let step = C.step(
            [.groupPosition(.cfo), .departmentPosition(department: "finance", position: .cfo)], mode: .allInParallel)
        #expect(actors(try resolver().resolve(step)) == [C.cfo])
    }

    // MARK: Substitution

    @Test(
        "a substitution applies only inside its half-open range",
        arguments: [
            (msk("2025-02-28", 23, 59), C.cfo), (msk("2025-03-01", 0), C.chiefAccountant),
            (msk("2025-03-09", 23, 59), C.chiefAccountant), (msk("2025-03-10", 0), C.cfo),
        ])
    func substitutionRange(moment: Instant, expected: EmployeeID) throws {
        let away = Substitution(
            absent: C.cfo, deputy: C.chiefAccountant,
            validity: ValidityRange(from: msk("2025-03-01", 0), to: msk("2025-03-10", 0)))
        let resolution = resolver(substitutions: [away], at: moment).resolve(.groupPosition(.cfo), kind: .approve)
        let person = try #require(resolution.participants.first)
        #expect(person.actor == expected)
        #expect(person.actingFor == (expected == C.cfo ? nil : C.cfo))
    }

    @Test("a chain of deputies is followed and recorded")
    func chain() throws {
        let subs = [
            Substitution(absent: C.cfo, deputy: C.chiefAccountant, validity: C.always),
            Substitution(absent: C.chiefAccountant, deputy: C.accountantA, validity: C.always),
        ]
        let person = try #require(
            resolver(substitutions: subs).resolve(.groupPosition(.cfo), kind: .approve).participants.first)
        #expect(person.actor == C.accountantA)
        #expect(person.actingFor == C.cfo)
        #expect(person.substitutionChain == [C.cfo, C.chiefAccountant, C.accountantA])
        #expect(person.explanation.contains("acting for employee#2"))
    }

    @Test(
        "cycles and over-long chains are refused and escalate to the next head",
        arguments: [
            (
                [(C.cfo, C.chiefAccountant), (C.chiefAccountant, C.cfo)], 3,
                ExclusionReason.substitutionCycle([C.cfo, C.chiefAccountant, C.cfo])
            ),
            (
                [(C.cfo, C.chiefAccountant), (C.chiefAccountant, C.accountantA)], 1,
                .substitutionChainTooLong([C.cfo, C.chiefAccountant, C.accountantA])
            ),
        ])
    func brokenChains(pairs: [(EmployeeID, EmployeeID)], maxChain: Int, reason: ExclusionReason) {
        let snapshot = C.snapshot(
            substitutions: pairs.map { Substitution(absent: $0.0, deputy: $0.1, validity: C.always) })
        let resolver = ApproverResolver(snapshot: snapshot, facts: C.facts(), maxSubstitutionChain: maxChain)
        let result = resolver.resolve(.groupPosition(.cfo), kind: .approve)
        #expect(result.exclusions.map(\.reason) == [reason])
        #expect(result.participants.map(\.actor) == [C.ceo])
        #expect(result.participants.first?.escalatedVia == [C.management])
    }

    @Test(
        "a deputy limited to some invoice types acts only on those",
        arguments: [(InvoiceTypeCode.payroll, C.chiefAccountant), (.operatingExpenses, C.ceo)])
    func typeLimit(type: InvoiceTypeCode, expected: EmployeeID) throws {
        let away = Substitution(absent: C.cfo, deputy: C.chiefAccountant, validity: C.always, invoiceTypes: [.payroll])
        let result = resolver(C.facts(type), substitutions: [away]).resolve(.groupPosition(.cfo), kind: .approve)
        #expect(result.participants.map(\.actor) == [expected])
        if expected == C.ceo { #expect(result.exclusions.map(\.reason) == [.absentWithoutDeputy]) }
    }

    // MARK: Separation of duties

    @Test("the initiator never approves their own invoice, and their deputy does not act for them")
    func initiatorIsHolder() throws {
        let away = Substitution(absent: C.headOfMarketing, deputy: C.marketer, validity: C.always)
        let facts = C.facts(initiator: C.headOfMarketing)
        let result = resolver(facts, substitutions: [away]).resolve(.headOfInitiatorDepartment, kind: .approve)
        #expect(
            result.exclusions == [Exclusion(holder: C.headOfMarketing, actor: C.headOfMarketing, reason: .initiator)])
        #expect(result.participants.map(\.actor) == [C.ceo])
    }

    @Test("the initiator never acts as somebody's substitute on their own invoice")
    func initiatorIsDeputy() {
        let away = Substitution(absent: C.cfo, deputy: C.marketer, validity: C.always)
        let result = resolver(substitutions: [away]).resolve(.groupPosition(.cfo), kind: .pay)
        #expect(result.exclusions == [Exclusion(holder: C.cfo, actor: C.marketer, reason: .initiator)])
        #expect(result.participants.map(\.actor) == [C.ceo])
    }

    @Test("whoever approved does not pay; another holder does, or the next head")
    func approverDoesNotPay() {
        let facts = C.facts()
        let oneOfTwo = resolver(facts).resolve(
            .positionInPayingSubdivision(.accountant), kind: .pay, approvers: [C.accountantA])
        #expect(oneOfTwo.participants.map(\.actor) == [C.accountantB])
        let treasurer = resolver(facts).resolve(
            .positionInPayingSubdivision(.treasurer), kind: .pay, approvers: [C.treasurer])
        #expect(treasurer.exclusions.map(\.reason) == [.approvedThisInvoice])
        #expect(treasurer.participants.map(\.actor) == [C.ceo])
        // Approving does not bar anyone from approving again or collecting documents.
        let approve = resolver(facts).resolve(
            .positionInPayingSubdivision(.treasurer), kind: .approve, approvers: [C.treasurer])
        #expect(approve.participants.map(\.actor) == [C.treasurer])
    }

    @Test("the initiator may collect closing documents")
    func initiatorCollects() {
        let result = resolver().resolve(.initiator, kind: .collectClosingDocuments)
        #expect(result.participants.map(\.actor) == [C.marketer])
    }

    // MARK: Escalation

    @Test(
        "vacant positions escalate up the tree to the head office",
        arguments: [
            (ParticipantSelector.positionInPayingSubdivision(.logisticsManager), C.headOffice, [C.management], C.ceo),
            (.positionInPayingSubdivision(.warehouseManager), C.shop, [C.shopTop], C.shopHead),
            (.positionInInitiatorDepartment("analyst"), C.headOffice, [C.marketing], C.headOfMarketing),
            (
                .departmentPosition(department: "shop_accounting", position: .accountant), C.shop,
                [C.shopAccounting, C.shopTop], C.shopHead
            ),
        ])
    func vacancy(selector: ParticipantSelector, paying: SubdivisionID, path: [DepartmentID], expected: EmployeeID)
        throws
    {
        let result = resolver(C.facts(paying: paying)).resolve(selector, kind: .approve)
        let person = try #require(result.participants.first)
        #expect(person.actor == expected)
        #expect(person.escalatedVia == path)
    }

    @Test("when nobody up the tree can act, the reason says why")
    func nobodyCanAct() throws {
        let facts = C.facts(.payroll, initiator: C.ceo, department: C.management)
        let result = resolver(facts).resolve(.groupPosition(.ceo), kind: .approve)
        #expect(result.participants.isEmpty)
        let reason = try #require(result.nobodyReason)
        #expect(reason.hasPrefix("nobody can act as group ceo"))
        #expect(reason.contains("employee#1 is the initiator (separation of duties)"))
    }

    @Test(
        "an overdue participant escalates to their head, or the head above when they head the department",
        arguments: [
            (C.marketer, C.headOfMarketing), (C.headOfMarketing, C.ceo), (C.warehouseDirector, C.ceo),
            (C.logistician, C.logisticsManager), (C.logisticsManager, C.warehouseDirector),
        ])
    func overdue(approver: EmployeeID, expected: EmployeeID) {
        let person = resolver().escalation(forOverdue: approver, selector: .groupPosition(.cfo), kind: .approve)
        #expect(person?.actor == expected)
        #expect(person?.explanation.contains("as group cfo, escalated to the head of") == true)
    }

    @Test("without a head-office mark, the CEO's subdivision is the head office")
    func headOfficeFallback() {
        var snapshot = C.snapshot()
        snapshot.subdivisions = snapshot.subdivisions.map { Subdivision(id: $0.id, code: $0.code, name: $0.name) }
        #expect(snapshot.headOffice?.id == C.headOffice)
        snapshot.assignments.removeAll { $0.position == .ceo }
        #expect(snapshot.headOffice == nil)
    }

    @Test("nobody is above the CEO")
    func overdueCEO() {
        #expect(resolver().escalation(forOverdue: C.ceo, selector: .groupPosition(.ceo), kind: .approve) == nil)
    }
}
