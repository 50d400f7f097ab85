import InvoiceDomain
import InvoiceStore
import Testing

@testable import InvoiceDaemon

/// The router's pure core on hand-built states: one department of three approvers under a head,
/// a quorum step, then payment by a treasurer who is also one of the approvers.
@Suite("router decision: modes, idempotency, separation of duties")
struct RouterDecisionTests {
    static let start = Instant(microsecondsSinceEpoch: 1_780_000_000_000_000)
    static let now = start.advanced(by: Instant.hour)
    static let department = DepartmentID(10)
    static let initiator = EmployeeID(1)
    static let head = EmployeeID(2)
    static let approvers = [EmployeeID(3), EmployeeID(4), EmployeeID(5)]

    static let snapshot = OrgSnapshot(
        moment: now,
        subdivisions: [Subdivision(id: SubdivisionID(1), code: "head_office", name: "HO", isHeadOffice: true)],
        departments: [
            Department(id: department, code: "office", name: "Office", subdivision: SubdivisionID(1), parent: nil)
        ],
        assignments: [
            Assignment(
                employee: initiator, department: department, position: "specialist", validity: .init(from: start)),
            Assignment(
                employee: head, department: department, position: .headOfDepartment, validity: .init(from: start)),
        ]
            + approvers.map {
                Assignment(employee: $0, department: department, position: "controller", validity: .init(from: start))
            }
            // Approver 3 is also the treasurer: having approved, they may not pay.
            + [
                Assignment(
                    employee: approvers[0], department: department, position: .treasurer, validity: .init(from: start))
            ],
        substitutions: [])

    static let route = RouteVersion(
        type: .operatingExpenses, version: 4, name: "quorum route",
        steps: [
            RouteStep(
                id: "controllers", kind: .approve, title: "Контролёры",
                participants: [.init(.positionInInitiatorDepartment("controller"))], mode: .quorum(2)),
            RouteStep(
                id: "payment", kind: .pay, title: "Оплата",
                participants: [.init(.positionInPayingSubdivision(.treasurer))],
                mode: .anyOne, deadline: .endOfBusinessDay,
                payment: PaymentTiming(onPaymentDays: false, immediatelyWhen: .always)),
        ])

    static func state(pinned: Int? = 4, tasks: [RoutedTask]) -> InvoiceRoutingState {
        InvoiceRoutingState(
            now: now, invoiceID: 7, stage: .approval, pinnedVersion: pinned, route: route,
            facts: InvoiceFacts(
                type: .operatingExpenses, amount: .rub(1_000), initiator: initiator, initiatorDepartment: department,
                payingSubdivision: SubdivisionID(1)),
            roundStartedAt: start, tasks: tasks)
    }

    static func task(_ id: Int64, _ who: EmployeeID, _ outcome: TaskOutcome? = nil) -> RoutedTask {
        RoutedTask(
            id: id, stepKey: "controllers", kind: .approve, assignee: who, outcome: outcome,
            decidedBy: outcome == nil ? nil : who, createdAt: start.advanced(by: 1))
    }

    func decide(_ state: InvoiceRoutingState) throws -> [RoutingAction] {
        try RouterDecision(state: state, snapshot: Self.snapshot).actions()
    }

    @Test("the first routing pins the version and asks every member of a quorum step")
    func firstRouting() throws {
        let actions = try decide(Self.state(pinned: nil, tasks: []))
        #expect(actions.first == .pinRoute(4))
        let asked = actions.compactMap { action -> EmployeeID? in
            if case .createTask(let t) = action { return t.assignee }
            return nil
        }
        #expect(asked == Self.approvers)
    }

    @Test(
        "a quorum of 2 waits for the second approval, then closes the third task and starts payment",
        arguments: [
            ([nil, nil, nil] as [TaskOutcome?], false),
            ([.approved, nil, nil], false),
            ([.approved, .approvedWithRemarks, nil], true),
        ])
    func quorum(_ outcomes: [TaskOutcome?], decided: Bool) throws {
        let tasks = zip(Self.approvers, outcomes).enumerated().map {
            Self.task(Int64($0.offset + 1), $0.element.0, $0.element.1)
        }
        let actions = try decide(Self.state(tasks: tasks))
        if !decided {
            // Routing again while people are still deciding writes nothing: the decision is idempotent.
            #expect(actions.isEmpty)
            return
        }
        #expect(actions.contains(.cancelTask(3, reason: "step controllers already has enough approvals")))
        #expect(actions.contains(.setStage(.payment)))
        let payers = actions.compactMap { action -> EmployeeID? in
            if case .createTask(let t) = action, t.kind == .pay { return t.assignee }
            return nil
        }
        // The only treasurer approved, so the head above is asked to pay instead.
        #expect(payers == [Self.head])
    }
}
