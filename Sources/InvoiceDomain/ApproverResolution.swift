// Approver resolution: selector → positions → current holders → substitutes → separation of
// duties → escalation up the department tree → a clear "nobody can act". Every step of the way
// is recorded so `routes simulate` and the audit log can say why someone was (not) chosen.

/// Why a candidate was not asked to act.
public enum ExclusionReason: Hashable, Sendable, Codable {
    /// Separation of duties: the initiator never approves or pays their own invoice, not even as a
    /// substitute, and nobody acts for them on it.
    case initiator
    /// Separation of duties: whoever approved the invoice does not pay it.
    case approvedThisInvoice
    /// The holder is away and no deputy may act for them on this invoice type.
    case absentWithoutDeputy
    /// Following deputies leads back to someone already in the chain.
    case substitutionCycle([EmployeeID])
    /// The chain of deputies is longer than allowed.
    case substitutionChainTooLong([EmployeeID])

    /// A short English phrase.
    public var summary: String {
        switch self {
        case .initiator: return "is the initiator (separation of duties)"
        case .approvedThisInvoice: return "approved this invoice and may not pay it (separation of duties)"
        case .absentWithoutDeputy: return "is absent and has no deputy for this invoice type"
        case .substitutionCycle(let chain):
            return "substitution cycle " + chain.map(\.description).joined(separator: " → ")
        case .substitutionChainTooLong(let chain):
            return "substitution chain too long " + chain.map(\.description).joined(separator: " → ")
        }
    }
}

/// A candidate who was considered and left out.
public struct Exclusion: Hashable, Sendable, Codable {
    /// The position holder who was considered.
    public var holder: EmployeeID
    /// The person who would have acted (the holder or their deputy).
    public var actor: EmployeeID
    /// Why they were left out.
    public var reason: ExclusionReason
    /// Creates an exclusion record.
    public init(holder: EmployeeID, actor: EmployeeID, reason: ExclusionReason) {
        self.holder = holder
        self.actor = actor
        self.reason = reason
    }
}

/// A person who must act in a step, with the reasons they were chosen.
public struct ResolvedParticipant: Hashable, Sendable, Codable {
    /// Who acts.
    public var actor: EmployeeID
    /// The position holder they act for when substituting; `nil` when acting for themselves.
    public var actingFor: EmployeeID?
    /// The selector that produced them.
    public var selector: ParticipantSelector
    /// The holder, then each deputy down to `actor` (just `[actor]` without substitution).
    public var substitutionChain: [EmployeeID]
    /// Departments walked up to find them when nobody the selector named could act; empty otherwise.
    public var escalatedVia: [DepartmentID]

    /// Creates a participant record.
    public init(
        actor: EmployeeID, actingFor: EmployeeID?, selector: ParticipantSelector, substitutionChain: [EmployeeID],
        escalatedVia: [DepartmentID] = []
    ) {
        self.actor = actor
        self.actingFor = actingFor
        self.selector = selector
        self.substitutionChain = substitutionChain
        self.escalatedVia = escalatedVia
    }

    /// One English sentence for `routes simulate`.
    public var explanation: String {
        var text = "\(actor) as \(selector.summary)"
        if let actingFor {
            text +=
                ", acting for \(actingFor) (substitution "
                + substitutionChain.map(\.description).joined(separator: " → ")
                + ")"
        }
        if let last = escalatedVia.last {
            text += ", escalated to the head of \(last) because nobody named could act"
        }
        return text
    }
}

/// The outcome of resolving one selector.
public struct SelectorResolution: Hashable, Sendable, Codable {
    /// The selector.
    public var selector: ParticipantSelector
    /// Who must act (empty when nobody can).
    public var participants: [ResolvedParticipant]
    /// Everyone considered and left out, in the order considered.
    public var exclusions: [Exclusion]
    /// Why nobody can act, when `participants` is empty.
    public var nobodyReason: String?
}

/// Whether a step can go ahead.
public enum StepOutcome: Hashable, Sendable, Codable {
    /// These people must act.
    case ready([ResolvedParticipant])
    /// Nobody can act; the invoice is parked for an administrator with this reason.
    case nobodyCanAct(reason: String)
}

/// The resolution of one step: per selector, and the combined outcome.
public struct StepResolution: Hashable, Sendable, Codable {
    /// The step's id.
    public var stepID: String
    /// Each applicable selector's resolution, in route order.
    public var selectors: [SelectorResolution]
    /// The combined outcome (participants de-duplicated, first occurrence kept).
    public var outcome: StepOutcome

    /// The participants when ready, else empty.
    public var participants: [ResolvedParticipant] {
        if case .ready(let people) = outcome { return people }
        return []
    }
}

/// Resolves route participants to people over an org snapshot for one invoice.
public struct ApproverResolver: Sendable {
    /// The organisation at the moment of resolution.
    public var snapshot: OrgSnapshot
    /// The invoice.
    public var facts: InvoiceFacts
    /// At most this many deputies are followed from a holder (a deputy's deputy is 2).
    public var maxSubstitutionChain: Int

    /// Creates a resolver.
    public init(snapshot: OrgSnapshot, facts: InvoiceFacts, maxSubstitutionChain: Int = 3) {
        self.snapshot = snapshot
        self.facts = facts
        self.maxSubstitutionChain = maxSubstitutionChain
    }

    /// Resolves every applicable participant of a step. `approvers` are the people who already
    /// approved this invoice (they may not pay it).
    public func resolve(_ step: RouteStep, approvers: Set<EmployeeID> = []) throws(RouteEvaluationError)
        -> StepResolution
    {
        var resolutions: [SelectorResolution] = []
        for slot in step.participants where try slot.when.holds(for: facts, stepID: step.id) {
            resolutions.append(resolve(slot.selector, kind: step.kind, approvers: approvers))
        }
        var people: [ResolvedParticipant] = []
        for person in resolutions.flatMap(\.participants) where !people.contains(where: { $0.actor == person.actor }) {
            people.append(person)
        }
        let failed = resolutions.filter { $0.participants.isEmpty }
        let outcome: StepOutcome
        if resolutions.isEmpty {
            outcome = .nobodyCanAct(reason: "step \(step.id): no participant applies to this invoice")
        } else if case .quorum(let n) = step.mode, people.count < n {
            outcome = .nobodyCanAct(
                reason: "step \(step.id): a quorum of \(n) needs \(n) people, \(people.count) can act")
        } else if step.mode == .anyOne ? people.isEmpty : !failed.isEmpty {
            let reasons = failed.compactMap(\.nobodyReason).joined(separator: "; ")
            outcome = .nobodyCanAct(reason: "step \(step.id): \(reasons)")
        } else {
            outcome = .ready(people)
        }
        return StepResolution(stepID: step.id, selectors: resolutions, outcome: outcome)
    }

    /// Resolves one selector: its holders, their deputies, separation of duties, and escalation
    /// up the department tree when nobody is left.
    public func resolve(_ selector: ParticipantSelector, kind: StepKind, approvers: Set<EmployeeID> = [])
        -> SelectorResolution
    {
        let (holders, escalationStart, missing) = candidates(for: selector)
        var exclusions: [Exclusion] = []
        var people: [ResolvedParticipant] = []
        for holder in holders {
            switch act(holder: holder, kind: kind, approvers: approvers) {
            case .acts(let actor, let chain):
                people.append(
                    ResolvedParticipant(
                        actor: actor, actingFor: actor == holder ? nil : holder, selector: selector,
                        substitutionChain: chain))
            case .excluded(let exclusion): exclusions.append(exclusion)
            }
        }
        if !people.isEmpty {
            return SelectorResolution(selector: selector, participants: people, exclusions: exclusions)
        }
        let escalated = escalate(
            from: escalationStart, selector: selector, kind: kind, approvers: approvers, exclusions: &exclusions)
        if !escalated.isEmpty {
            return SelectorResolution(selector: selector, participants: escalated, exclusions: exclusions)
        }
        var reason = "nobody can act as \(selector.summary)"
        if let missing { reason += " (\(missing))" }
        if holders.isEmpty && missing == nil { reason += " (the position is vacant)" }
        if !exclusions.isEmpty {
            reason += "; excluded: " + exclusions.map { "\($0.actor) \($0.reason.summary)" }.joined(separator: ", ")
        }
        reason += "; no head up the department tree can act"
        return SelectorResolution(selector: selector, participants: [], exclusions: exclusions, nobodyReason: reason)
    }

    /// Who takes over an overdue participant's task: the head of their department, or of the
    /// department above when they head it themselves, walking up until someone can act.
    /// `nil` when nobody up the tree can. `selector` is the one the overdue participant was
    /// resolved from, so the explanation reads "…as group cfo, escalated to the head of …".
    public func escalation(
        forOverdue approver: EmployeeID, selector: ParticipantSelector, kind: StepKind, approvers: Set<EmployeeID> = []
    ) -> ResolvedParticipant? {
        guard let department = snapshot.departments(of: approver).first else { return nil }
        let start =
            snapshot.heads(of: department).contains(approver) ? snapshot.departmentAbove(department) : department
        var exclusions: [Exclusion] = []
        return escalate(
            from: start, selector: selector, kind: kind, approvers: approvers.union([approver]),
            exclusions: &exclusions
        ).first
    }

    // MARK: - Internals

    /// The holders a selector names, the department whose head is asked first when none can act,
    /// and what is missing from the invoice when the selector cannot apply at all.
    private func candidates(for selector: ParticipantSelector) -> ([EmployeeID], DepartmentID?, String?) {
        let initiatorDepartment = facts.initiatorDepartment
        switch selector {
        case .initiator:
            return ([facts.initiator], initiatorDepartment, nil)
        case .beneficiary:
            return ([facts.beneficiary ?? facts.initiator], beneficiaryDepartment, nil)
        case .headOfInitiatorDepartment, .headOfDepartment(.payer):
            return (snapshot.heads(of: initiatorDepartment), snapshot.departmentAbove(initiatorDepartment), nil)
        case .headOfBeneficiaryDepartment:
            guard let d = beneficiaryDepartment else { return ([], nil, "the employee has no department") }
            return (snapshot.heads(of: d), snapshot.departmentAbove(d), nil)
        case .positionInInitiatorDepartment(let p):
            return (snapshot.holders(of: p, in: initiatorDepartment), initiatorDepartment, nil)
        case .positionInPayingSubdivision(let p):
            return (
                snapshot.holders(of: p, inSubdivision: facts.payingSubdivision),
                snapshot.topDepartment(of: facts.payingSubdivision)?.id, nil
            )
        case .positionInReceivingSubdivision(let p):
            guard let sub = facts.receivingSubdivision else {
                return ([], nil, "the invoice names no receiving subdivision")
            }
            return (snapshot.holders(of: p, inSubdivision: sub), snapshot.topDepartment(of: sub)?.id, nil)
        case .groupPosition(let p):
            guard let office = snapshot.headOffice else { return ([], nil, "no subdivision is marked head office") }
            return (snapshot.holders(of: p, inSubdivision: office.id), snapshot.topDepartment(of: office.id)?.id, nil)
        case .headOfDepartment(.payee):
            guard
                let d = facts.receivingDepartment
                    ?? facts.receivingSubdivision.flatMap({ snapshot.topDepartment(of: $0)?.id })
            else { return ([], nil, "the invoice names no receiving subdivision") }
            return (snapshot.heads(of: d), snapshot.departmentAbove(d), nil)
        case .departmentPosition(let code, let p):
            guard let d = snapshot.department(code: code) else { return ([], nil, "no department \(code)") }
            return (snapshot.holders(of: p, in: d.id), d.id, nil)
        }
    }

    private var beneficiaryDepartment: DepartmentID? {
        if let d = facts.beneficiaryDepartment { return d }
        guard let b = facts.beneficiary, b != facts.initiator else { return facts.initiatorDepartment }
        return snapshot.departments(of: b).first
    }

    private enum Acting {
        case acts(EmployeeID, [EmployeeID])
        case excluded(Exclusion)
    }

    /// The person who acts for `holder` (the holder, or the end of their deputy chain) after the
    /// separation-of-duties checks, or why nobody does.
    private func act(holder: EmployeeID, kind: StepKind, approvers: Set<EmployeeID>) -> Acting {
        let separated = kind != .collectClosingDocuments
        // Nobody acts for the initiator on their own invoice: their deputy would be approving
        // the initiator's request in the initiator's name.
        if separated && holder == facts.initiator {
            return .excluded(Exclusion(holder: holder, actor: holder, reason: .initiator))
        }
        var chain = [holder]
        var current = holder
        while true {
            let away = snapshot.substitutions(for: current)
            if away.isEmpty { break }
            guard let deputy = away.first(where: { $0.invoiceTypes?.contains(facts.type) ?? true })?.deputy else {
                return .excluded(Exclusion(holder: holder, actor: current, reason: .absentWithoutDeputy))
            }
            if chain.contains(deputy) {
                return .excluded(Exclusion(holder: holder, actor: deputy, reason: .substitutionCycle(chain + [deputy])))
            }
            chain.append(deputy)
            if chain.count - 1 > maxSubstitutionChain {
                return .excluded(Exclusion(holder: holder, actor: deputy, reason: .substitutionChainTooLong(chain)))
            }
            current = deputy
        }
        if separated && current == facts.initiator {
            return .excluded(Exclusion(holder: holder, actor: current, reason: .initiator))
        }
        if kind == .pay && approvers.contains(current) {
            return .excluded(Exclusion(holder: holder, actor: current, reason: .approvedThisInvoice))
        }
        return .acts(current, chain)
    }

    /// Walks up from `start`, asking each department's head, until someone can act.
    private func escalate(
        from start: DepartmentID?, selector: ParticipantSelector, kind: StepKind, approvers: Set<EmployeeID>,
        exclusions: inout [Exclusion]
    ) -> [ResolvedParticipant] {
        var path: [DepartmentID] = []
        var next = start
        // Bounded by the number of departments, so a parent cycle in bad data cannot loop forever.
        while let department = next, path.count <= snapshot.departments.count, !path.contains(department) {
            path.append(department)
            var people: [ResolvedParticipant] = []
            for head in snapshot.heads(of: department) {
                switch act(holder: head, kind: kind, approvers: approvers) {
                case .acts(let actor, let chain):
                    people.append(
                        ResolvedParticipant(
                            actor: actor, actingFor: actor == head ? nil : head, selector: selector,
                            substitutionChain: chain, escalatedVia: path))
                case .excluded(let exclusion):
                    if !exclusions.contains(exclusion) { exclusions.append(exclusion) }
                }
            }
            if !people.isEmpty { return people }
            next = snapshot.departmentAbove(department)
        }
        return []
    }
}
