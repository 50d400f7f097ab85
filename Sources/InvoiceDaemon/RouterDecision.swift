import Foundation
import InvoiceDomain
import InvoiceStore

/// The router's pure core: from an invoice's routing state and the company structure at the same
/// moment, the writes of its next transition. No I/O, so it is tested with hand-built states.
///
/// The decision depends on the state only, never on the event that queued the work item, so routing an
/// invoice twice in a row changes nothing the second time (the second run finds the tasks the first made).
public struct RouterDecision: Sendable {
    /// The invoice as loaded in the routing transaction.
    public var state: InvoiceRoutingState
    /// The company structure at `state.now`.
    public var snapshot: OrgSnapshot
    /// The calendar SLAs and payment days count in.
    public var calendar: WorkingCalendar

    /// Creates a decision for one invoice.
    public init(state: InvoiceRoutingState, snapshot: OrgSnapshot, calendar: WorkingCalendar = .russia) {
        self.state = state
        self.snapshot = snapshot
        self.calendar = calendar
    }

    /// The writes of the next transition, in order; empty when the invoice waits for people.
    /// - Throws: `RouteEvaluationError` for a route that cannot be evaluated for this invoice (a
    ///   threshold in another currency): the router retries, then parks the item with the error.
    public func actions() throws -> [RoutingAction] {
        guard [.approval, .payment, .closingDocuments].contains(state.stage) else { return [] }
        guard let route = state.route else {
            return [.park(reason: "no route is stored for invoice type \(state.type)")]
        }
        var actions: [RoutingAction] = []
        if state.pinnedVersion == nil { actions.append(.pinRoute(route.version)) }
        do {
            try route.checkInitiator(of: state.facts, in: snapshot)
        } catch {
            if state.stage == .approval { return actions + [.park(reason: "\(error)")] }
        }
        let applicable = try route.applicableSteps(for: state.facts)
        switch state.stage {
        case .approval: try approval(applicable, into: &actions)
        case .payment: try payment(applicable, into: &actions)
        case .closingDocuments: try closing(applicable, into: &actions)
        default: break
        }
        return actions
    }

    // MARK: - Stages

    private func approval(_ applicable: [RouteStep], into actions: inout [RoutingAction]) throws {
        let round = ResubmissionRound(previous: previousDecisions())
        let resolver = ApproverResolver(snapshot: snapshot, facts: state.facts)
        for step in applicable where step.kind == .approve {
            let stepTasks = state.currentRoundTasks.filter { $0.stepKey == step.id && $0.kind == .approve }
            let open = stepTasks.filter(\.isOpen)
            let approved = stepTasks.filter { $0.outcome?.isApproval ?? false }
            let carried = round.carriedOver.filter { $0.stepID == step.id }
            switch step.mode {
            case .anyOne, .quorum:
                let needed: Int
                if case .quorum(let n) = step.mode { needed = n } else { needed = 1 }
                if approved.count + carried.count >= needed {
                    // The step is decided; the others asked need not act any more.
                    for task in open {
                        actions.append(.cancelTask(task.id, reason: "step \(step.id) already has enough approvals"))
                    }
                    continue
                }
                if !open.isEmpty { return }
            case .allInParallel:
                if !open.isEmpty { return }
                // Everyone asked has approved: a rejection would have taken the invoice out of approval.
                if !stepTasks.isEmpty { continue }
            case .sequential:
                if !open.isEmpty { return }
            }
            let resolution = try resolver.resolve(step)
            guard case .ready(let people) = resolution.outcome else {
                actions += blocked(step, resolution)
                return
            }
            let done = Set(approved.flatMap { [$0.holder, $0.actor] })
            let asked = Set(stepTasks.map(\.assignee))
            let remaining = people.filter { person in
                let holder = person.actingFor ?? person.actor
                return round.needsDecision(stepID: step.id, holder: holder) && !done.contains(holder)
                    && !done.contains(person.actor) && !asked.contains(person.actor)
            }
            if remaining.isEmpty {
                if case .anyOne = step.mode { actions += blocked(step, resolution); return }
                if case .quorum = step.mode { actions += blocked(step, resolution); return }
                continue
            }
            let ask = step.mode == .sequential ? Array(remaining.prefix(1)) : remaining
            let due = step.dueInstant(startedAt: state.now, calendar: calendar)
            actions += started(step, resolution, asking: ask, kind: .approve, due: due)
            return
        }
        // Every applicable approval step is satisfied.
        actions.append(.setStage(.payment))
        try startPayment(applicable, into: &actions)
    }

    private func payment(_ applicable: [RouteStep], into actions: inout [RoutingAction]) throws {
        let started = state.currentRoundTasks.contains { $0.kind == .pay }
        if !started { try startPayment(applicable, into: &actions) }
    }

    private func startPayment(_ applicable: [RouteStep], into actions: inout [RoutingAction]) throws {
        guard let step = applicable.first(where: { $0.kind == .pay }) else {
            actions.append(.park(reason: "route \(state.type) v\(state.route?.version ?? 0) has no payment step"))
            return
        }
        // Separation of duties with the ACTUAL approvers, carried-over ones included: the plan cannot
        // know who of an any-one step approved.
        let approvers = Set(
            state.tasks.filter { $0.kind == .approve && ($0.outcome?.isApproval ?? false) }
                .flatMap { [$0.actor, $0.holder] })
        let resolution = try ApproverResolver(snapshot: snapshot, facts: state.facts)
            .resolve(step, approvers: approvers)
        guard case .ready(let people) = resolution.outcome else {
            actions += blocked(step, resolution)
            return
        }
        var due: Instant? = nil
        if let timing = step.payment {
            let day = try timing.paymentDate(approvedAt: state.now, facts: state.facts, calendar: calendar)
            let start = max(state.now, calendar.zone.instant(day, hour: calendar.workdayStartMinute / 60))
            due = step.dueInstant(startedAt: start, calendar: calendar)
        }
        actions += started(step, resolution, asking: people, kind: .pay, due: due)
    }

    private func closing(_ applicable: [RouteStep], into actions: inout [RoutingAction]) throws {
        guard let step = applicable.first(where: { $0.kind == .collectClosingDocuments }) else { return }
        if state.currentRoundTasks.contains(where: { $0.kind == .collectDocuments }) { return }
        let resolution = try ApproverResolver(snapshot: snapshot, facts: state.facts).resolve(step)
        guard case .ready(let people) = resolution.outcome else {
            actions += blocked(step, resolution)
            return
        }
        var due: Instant? = nil
        if let rule = step.closingDocuments {
            let paidOn = state.paidOn ?? calendar.zone.localDateTime(of: state.now).date
            let day = rule.dueDate(paidOn: paidOn, facts: state.facts, calendar: calendar)
            due = calendar.zone.instant(
                day, hour: calendar.workdayEndMinute / 60, minute: calendar.workdayEndMinute % 60)
        }
        // Everyone named collects at once (type 3: the initiator collects while the clerk checks).
        actions += started(step, resolution, asking: people, kind: .collectDocuments, due: due)
    }

    // MARK: - Pieces

    /// The latest decision of each (step, holder) slot in earlier rounds, for rework carry-over.
    private func previousDecisions() -> [RoundDecision] {
        var latest: [String: RoundDecision] = [:]
        var order: [String] = []
        for task in state.earlierApprovalTasks where task.outcome != .delegated {
            let decision: ApprovalDecision
            switch task.outcome {
            case .approved?, .approvedWithRemarks?: decision = .approved
            case .rejected?: decision = .rejected
            default: decision = .pending
            }
            let record = RoundDecision(
                stepID: task.stepKey, actor: task.actor, actingFor: task.holder == task.actor ? nil : task.holder,
                decision: decision)
            let key = "\(task.stepKey)|\(record.holder.rawValue)"
            if latest[key] == nil { order.append(key) }
            latest[key] = record
        }
        return order.compactMap { latest[$0] }
    }

    private func started(
        _ step: RouteStep, _ resolution: StepResolution, asking people: [ResolvedParticipant], kind: TaskKind,
        due: Instant?
    ) -> [RoutingAction] {
        var actions = people.map { person in
            RoutingAction.createTask(
                NewTask(stepKey: step.id, kind: kind, assignee: person.actor, actingFor: person.actingFor, dueAt: due))
        }
        let why = people.map(\.explanation).joined(separator: "; ")
        actions.append(
            .note(action: "route_step_started", detailJSON: detail(step, resolution), comment: "\(step.id): \(why)"))
        return actions
    }

    private func blocked(_ step: RouteStep, _ resolution: StepResolution) -> [RoutingAction] {
        var reason = "nobody can act on step \(step.id)"
        if case .nobodyCanAct(let why) = resolution.outcome { reason = why }
        return [
            .note(action: "route_nobody_can_act", detailJSON: detail(step, resolution), comment: reason),
            .park(reason: reason),
        ]
    }

    /// The resolution (who, through which selector, substitution, escalation; who was excluded and
    /// why) as the audit row's JSON.
    private func detail(_ step: RouteStep, _ resolution: StepResolution) -> String {
        struct Detail: Encodable {
            var step: String
            var kind: StepKind
            var routeVersion: Int?
            var resolution: StepResolution
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let value = Detail(step: step.id, kind: step.kind, routeVersion: state.route?.version, resolution: resolution)
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
