// Evaluating a route for an invoice: which steps apply, in which order, who acts in each, and
// when things are due. The router calls this one step at a time; `routes simulate` calls `plan`.

/// A step that applies to the invoice, with its participants resolved.
public struct PlannedStep: Hashable, Sendable, Codable {
    /// The step.
    public var step: RouteStep
    /// Who acts and why.
    public var resolution: StepResolution
}

/// The full plan of an invoice on a route version, as of a snapshot's moment.
public struct RoutePlan: Hashable, Sendable, Codable {
    /// The invoice type.
    public var type: InvoiceTypeCode
    /// The route version used.
    public var version: Int
    /// The applicable steps in order, resolved.
    public var steps: [PlannedStep]
    /// The steps whose condition does not hold, with that condition, for the explanation.
    public var skipped: [RouteStep]

    /// The first step nobody can act on, if any (where the invoice would be parked).
    public var firstBlockedStep: PlannedStep? {
        steps.first { if case .nobodyCanAct = $0.resolution.outcome { return true } else { return false } }
    }

    /// A readable multi-line account for `invoiceflow routes simulate`.
    public var explanation: String {
        var lines = ["route \(type) v\(version)"]
        for planned in steps {
            let s = planned.step
            lines.append("step \(s.id) [\(s.kind.rawValue), \(s.mode)] \(s.title) — applies: \(s.condition.summary)")
            for selector in planned.resolution.selectors {
                for person in selector.participants { lines.append("  acts: \(person.explanation)") }
                for exclusion in selector.exclusions {
                    lines.append(
                        "  excluded: \(exclusion.actor) (holder \(exclusion.holder)) \(exclusion.reason.summary)")
                }
            }
            if case .nobodyCanAct(let reason) = planned.resolution.outcome {
                lines.append("  NOBODY CAN ACT: \(reason)")
            }
        }
        for s in skipped { lines.append("skipped \(s.id): condition not met: \(s.condition.summary)") }
        return lines.joined(separator: "\n")
    }
}

extension RouteVersion {
    /// The steps whose conditions hold for the invoice, in route order.
    public func applicableSteps(for facts: InvoiceFacts) throws(RouteEvaluationError) -> [RouteStep] {
        guard facts.type == type else { throw .wrongType(route: type, invoice: facts.type) }
        var result: [RouteStep] = []
        for step in steps where try step.condition.holds(for: facts, stepID: step.id) { result.append(step) }
        return result
    }

    /// Refuses an initiator who holds none of `initiatorPositions` at the snapshot's moment.
    public func checkInitiator(of facts: InvoiceFacts, in snapshot: OrgSnapshot) throws(RouteEvaluationError) {
        guard let allowed = initiatorPositions else { return }
        let held = snapshot.assignments.filter {
            $0.employee == facts.initiator && $0.validity.contains(snapshot.moment)
        }
        if !held.contains(where: { allowed.contains($0.position) }) {
            throw .initiatorNotAllowed(facts.initiator, allowed: allowed)
        }
    }

    /// The whole plan: every applicable step resolved at the snapshot's moment. For payment steps,
    /// the participants of earlier approval steps count as approvers when all of them must approve
    /// (sequential, all in parallel, or an any-one/quorum step with no one to spare); who approves
    /// an any-one or quorum step with a choice is not known in advance, so the router re-resolves
    /// the payment step with the actual approvers when it gets there.
    public func plan(for facts: InvoiceFacts, in snapshot: OrgSnapshot, maxSubstitutionChain: Int = 3)
        throws(RouteEvaluationError) -> RoutePlan
    {
        try checkInitiator(of: facts, in: snapshot)
        let applicable = try applicableSteps(for: facts)
        let resolver = ApproverResolver(snapshot: snapshot, facts: facts, maxSubstitutionChain: maxSubstitutionChain)
        var approvers: Set<EmployeeID> = []
        var planned: [PlannedStep] = []
        for step in applicable {
            let resolution = try resolver.resolve(step, approvers: approvers)
            let people = resolution.participants.map(\.actor)
            if step.kind == .approve && step.mode.approvalsNeeded(participants: people.count) >= people.count {
                approvers.formUnion(people)
            }
            planned.append(PlannedStep(step: step, resolution: resolution))
        }
        let skipped = steps.filter { s in !applicable.contains { $0.id == s.id } }
        return RoutePlan(type: type, version: version, steps: planned, skipped: skipped)
    }

    /// What is wrong with this route as data; empty when it can be used. `routes import` refuses
    /// a file with problems.
    public var problems: [String] {
        var found: [String] = []
        if version < 1 { found.append("version must be 1 or more") }
        if steps.isEmpty { found.append("a route needs at least one step") }
        var seen: Set<String> = []
        for step in steps {
            let where_ = "step \(step.id.isEmpty ? "?" : step.id)"
            if step.id.isEmpty { found.append("a step has an empty id") }
            if !seen.insert(step.id).inserted { found.append("\(where_): duplicate id") }
            if step.participants.isEmpty { found.append("\(where_): no participants") }
            if case .quorum(let n) = step.mode, n < 1 || n > step.participants.count {
                found.append("\(where_): quorum \(n) outside 1…\(step.participants.count) participant slots")
            }
            switch step.deadline {
            case .businessHours(let h) where h < 1: found.append("\(where_): deadline must be at least 1 business hour")
            default: break
            }
            if !(1...99).contains(step.reminderAtPercent) { found.append("\(where_): reminder must be at 1–99 %") }
            if step.kind == .approve && step.participants.contains(where: { $0.selector == .initiator }) {
                found.append("\(where_): the initiator cannot approve their own invoice")
            }
            if step.kind == .pay && step.payment == nil {
                found.append("\(where_): a payment step needs payment timing")
            }
            if step.kind != .pay && step.payment != nil {
                found.append("\(where_): payment timing on a non-payment step")
            }
            if step.kind == .collectClosingDocuments && step.closingDocuments == nil {
                found.append("\(where_): a closing-documents step needs its documents and due date")
            }
        }
        return found
    }
}

extension RouteStep {
    /// When the step is overdue, for a step that started at `start`.
    public func dueInstant(startedAt start: Instant, calendar: WorkingCalendar) -> Instant {
        switch deadline {
        case .businessHours(let hours): return calendar.addingBusinessHours(hours, to: start)
        case .endOfBusinessDay:
            let local = calendar.zone.localDateTime(of: start)
            let close = Int64(calendar.workdayEndMinute) * Instant.minute
            let day =
                calendar.isWorkingDay(local.date) && local.microsecondOfDay < close
                ? local.date : calendar.nextWorkingDay(onOrAfter: local.date.adding(days: 1))
            return calendar.zone.instant(of: LocalDateTime(date: day, microsecondOfDay: close))
        }
    }

    /// When to remind: `reminderAtPercent` of the business time between start and due.
    public func reminderInstant(startedAt start: Instant, calendar: WorkingCalendar) -> Instant {
        let total = calendar.businessTime(from: start, to: dueInstant(startedAt: start, calendar: calendar))
        return calendar.addingBusinessTime(total * Int64(reminderAtPercent) / 100, to: start)
    }
}

extension PaymentTiming {
    /// The date the payer should pay an invoice approved at `approvedAt`: the next payment day on
    /// or after the approval date, or the approval date's next working day when the invoice is
    /// exempt (urgent, customs) or the step does not wait for payment days.
    public func paymentDate(approvedAt: Instant, facts: InvoiceFacts, calendar: WorkingCalendar)
        throws(RouteEvaluationError) -> CalendarDate
    {
        let day = calendar.zone.localDateTime(of: approvedAt).date
        let exempt = try immediatelyWhen.holds(for: facts, stepID: "payment")
        if !onPaymentDays || exempt {
            return calendar.nextWorkingDay(onOrAfter: day)
        }
        return calendar.nextPaymentDay(onOrAfter: day)
    }
}

extension ClosingDocumentsRule {
    /// The date the closing documents are due for an invoice paid on `paidOn`.
    public func dueDate(paidOn: CalendarDate, facts: InvoiceFacts, calendar: WorkingCalendar) -> CalendarDate {
        let anchor: CalendarDate
        switch due.after {
        case .payment: anchor = paidOn
        case .tripEnd: anchor = facts.tripEnd ?? paidOn
        }
        // "N business days after" counts from the day after the anchor; 0 means the anchor day
        // itself (or the next working day).
        guard due.businessDays > 0 else { return calendar.nextWorkingDay(onOrAfter: anchor) }
        return calendar.addingBusinessDays(due.businessDays - 1, to: anchor.adding(days: 1))
    }
}
